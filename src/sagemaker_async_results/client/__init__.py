"""Submit SageMaker asynchronous inferences and await their results without polling S3."""

from sagemaker_async_results.client.client import (
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
