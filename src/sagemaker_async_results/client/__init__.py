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
from sagemaker_async_results.client.futures import (
    InferenceError,
    InferenceExpiredError,
    InferenceFailedError,
    InferenceFuture,
    ResultWaiter,
    WaiterStats,
    as_completed,
)

__all__ = [
    "AsyncInferenceClient",
    "DeployedConstruct",
    "InferenceError",
    "InferenceExpiredError",
    "InferenceFailedError",
    "InferenceFuture",
    "InferenceRecord",
    "InferenceStatus",
    "InferenceTimeoutError",
    "ResourcesNotFoundError",
    "ResultWaiter",
    "StackResources",
    "Submission",
    "WaiterStats",
    "as_completed",
    "find_constructs",
]
