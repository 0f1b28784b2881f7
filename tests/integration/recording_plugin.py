"""A test plugin (loaded through HANDLER_MODULES) that records what it was handed.

Custom attributes steer it: ``raise=yes`` makes it fail, ``raise=handled`` raises an exception
its exception handler deals with, ``read=stream`` streams the payload instead of ``body()``.
"""

from __future__ import annotations

from typing import Any

from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router

router = Router()
CALLS: list[dict[str, Any]] = []


@router.on_success()
def record_success(result: InferenceResult) -> None:
    behaviour = result.attributes.get("raise")
    if behaviour == "handled":
        raise KeyError("dealt with by the exception handler")
    if behaviour:
        raise RuntimeError("model output rejected by the plugin")
    if result.attributes.get("read") == "stream":
        with result.open() as stream:
            body: Any = len(stream.read())
    else:
        body = result.body()
    CALLS.append({"handler": "success", "inferenceId": result.inference_id, "body": body})


@router.on_failure()
def record_failure(result: InferenceResult) -> None:
    CALLS.append(
        {
            "handler": "failure",
            "inferenceId": result.inference_id,
            "reason": result.failure_reason,
            "body": result.text() if result.has_payload else None,
        }
    )


@router.exception_handler(KeyError)
def key_error(exc: Exception, result: InferenceResult) -> None:
    CALLS.append({"handler": "exception", "inferenceId": result.inference_id, "error": str(exc)})
