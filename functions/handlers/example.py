"""Example plugin: logs a one-line summary of every result. Harmless in production (no reads, no writes).

Copy this module to start your own plugin: define ``router = Router()`` and decorate functions.
Handlers receive an :class:`~sagemaker_async_results.runtime.InferenceResult`: everything they need is on it.
"""

from __future__ import annotations

from sagemaker_async_results.runtime import InferenceResult, Router, logger

router = Router()


@router.on_success("*")
def log_success(result: InferenceResult) -> None:
    """Any endpoint, any content type: log where the output is and how long the inference took."""
    logger.info(
        "inference completed",
        extra={
            "endpoint": result.endpoint_name,
            "output_location": result.output_location,
            "content_type": result.content_type,
            "latency_ms": None if result.latency is None else int(result.latency.total_seconds() * 1000),
            "inline": result.payload.is_inline,
        },
    )


@router.on_failure("*")
def log_failure(result: InferenceResult) -> None:
    """Any endpoint: log the failure reason and where the model's error response is (if any)."""
    logger.warning(
        "inference failed",
        extra={
            "endpoint": result.endpoint_name,
            "failure_reason": result.failure_reason,
            "failure_location": result.failure_location,
        },
    )
