"""Handlers of the results of endpoints deployed with the SageMaker Python SDK."""

from __future__ import annotations

from sagemaker_async_results.runtime import InferenceResult, Router, logger

router = Router()


@router.on_success("*")
def record_prediction(result: InferenceResult) -> None:
    """Every endpoint that publishes here: log which one answered (a real app stores or forwards it)."""
    logger.info("prediction", extra={"endpoint": result.endpoint_name, "inference_id": result.inference_id})


@router.on_failure("*")
def record_failure(result: InferenceResult) -> None:
    """A failed inference: its reason, for the on-call (SageMaker's failureReason)."""
    logger.warning("failed", extra={"endpoint": result.endpoint_name, "reason": result.failure_reason})
