"""Submit SageMaker asynchronous inferences and await their results without polling S3."""

from inference_client.client import (
    AsyncInferenceClient,
    InferenceRecord,
    InferenceStatus,
    InferenceTimeoutError,
    StackResources,
    Submission,
)

__all__ = [
    "AsyncInferenceClient",
    "InferenceRecord",
    "InferenceStatus",
    "InferenceTimeoutError",
    "StackResources",
    "Submission",
]
