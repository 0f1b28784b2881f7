"""Keeps the label of every sentiment result; reports every failure."""

from __future__ import annotations

from sagemaker_async_results.runtime import InferenceResult, Router, logger

router = Router()


@router.on_success("sentiment-async", content_type="application/json")
def record_label(result: InferenceResult) -> None:
    """Completed results of this app's endpoint: the model answers ``[{"label": ..., "score": ...}]``."""
    prediction = result.json()
    label = prediction[0]["label"] if isinstance(prediction, list) and prediction else None
    logger.info("sentiment", extra={"inference_id": result.inference_id, "label": label})


@router.on_failure("sentiment-async")
def report_failure(result: InferenceResult) -> None:
    """Failed results of this app's endpoint."""
    logger.warning("sentiment failed", extra={"reason": result.failure_reason})
