"""Submit SageMaker asynchronous inferences and await their results without polling S3."""

from sagemaker_async_results.client.client import (
    AsyncInferenceClient,
    DeployedConstruct,
    InferenceRecord,
    InferenceStatus,
    InferenceTimeoutError,
    ResourcesNotFoundError,
    StackResources,
    Submission,
    find_constructs,
)

__all__ = [
    "AsyncInferenceClient",
    "DeployedConstruct",
    "InferenceRecord",
    "InferenceStatus",
    "InferenceTimeoutError",
    "ResourcesNotFoundError",
    "StackResources",
    "Submission",
    "find_constructs",
]
