"""Runtime for SageMaker async inference results: parse, fetch, route — exactly once, nothing lost.

Public API (imported lazily so that ``import async_results`` stays cheap):

* :class:`Router` — decorators for user result handlers (plugins);
* :class:`InferenceResult` — the typed result object handlers receive;
* :class:`ResultsApp` — the resolver/dispatcher (``entrypoint.handler`` delegates to it);
* :class:`Settings`, :class:`Clients` — configuration and injectable AWS clients;
* :mod:`async_results.testing` — event generators (SNS, SQS, bare) for tests and the local run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from async_results.app import ResultsApp
    from async_results.clients import Clients
    from async_results.result import InferenceResult
    from async_results.router import Router
    from async_results.settings import Settings

__all__ = ["Clients", "InferenceResult", "ResultsApp", "Router", "Settings"]

_LOCATIONS = {
    "ResultsApp": "async_results.app",
    "Clients": "async_results.clients",
    "InferenceResult": "async_results.result",
    "Router": "async_results.router",
    "Settings": "async_results.settings",
}


def __getattr__(name: str) -> Any:
    """Lazy attribute access (PEP 562): import the defining module on first use."""
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'async_results' has no attribute {name!r}")
