"""Runtime for SageMaker async inference results: parse, fetch, route — exactly once, nothing lost.

Public API for handler plugins and tests (imported lazily so that ``import
sagemaker_async_results.runtime`` stays cheap; the Lambda handler string is
``sagemaker_async_results.runtime.entrypoint.handler``):

* :class:`Router` — decorators for user result handlers (plugins);
* :class:`InferenceResult` — the typed result object handlers receive;
* :class:`ResultsApp` — the resolver/dispatcher (``entrypoint.handler`` delegates to it);
* :class:`Settings`, :class:`Clients` — configuration and injectable AWS clients;
* ``logger`` — the runtime's Powertools logger (the inference ID is already attached);
* :mod:`sagemaker_async_results.runtime.testing` — event generators (SNS, SQS, bare) for tests and the local run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.app import ResultsApp
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.observability import logger
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.router import Router
    from sagemaker_async_results.runtime.settings import Settings

__all__ = ["Clients", "InferenceResult", "ResultsApp", "Router", "Settings", "logger"]

_LOCATIONS = {
    "ResultsApp": "sagemaker_async_results.runtime.app",
    "Clients": "sagemaker_async_results.runtime.clients",
    "InferenceResult": "sagemaker_async_results.runtime.result",
    "Router": "sagemaker_async_results.runtime.router",
    "Settings": "sagemaker_async_results.runtime.settings",
    "logger": "sagemaker_async_results.runtime.observability",
}


def __getattr__(name: str) -> Any:
    """Lazy attribute access (PEP 562): import the defining module on first use."""
    if name in _LOCATIONS:
        import importlib

        return getattr(importlib.import_module(_LOCATIONS[name]), name)
    raise AttributeError(f"module 'sagemaker_async_results.runtime' has no attribute {name!r}")
