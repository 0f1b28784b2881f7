"""Lambda entry point (handler string ``entrypoint.handler``), used by both result functions.

Thin on purpose: importing this module loads nothing heavy. The app (Powertools, pydantic, plugins,
boto3 clients) is built once, on the first invocation, and reused by every later invocation of
the same execution environment.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: importing `typing` costs ~7 ms of cold start.
TYPE_CHECKING = False  # pragma: no mutate (its mutant, None, is as false)
if TYPE_CHECKING:
    from typing import Any

    from sagemaker_async_results.runtime.app import ResultsApp

_app: ResultsApp | None  # pragma: no mutate (annotation only)
_app = None


def get_app() -> ResultsApp:
    """The process-wide app, built from the environment on first use."""
    global _app
    if _app is None:
        from sagemaker_async_results.runtime.app import ResultsApp

        _app = ResultsApp()
    return _app


def reset_app() -> None:
    """Forget the built app (tests and the local run change the environment between runs)."""
    global _app
    _app = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route every SageMaker notification in ``event`` (SNS, SQS or bare); see ``sagemaker_async_results.runtime.app``."""
    return get_app()(event, context)
