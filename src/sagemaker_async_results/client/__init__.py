"""Submit SageMaker asynchronous inferences and await their results without polling S3.

Modules, each readable alone: :mod:`.records` (what a result is), :mod:`.errors`, :mod:`.resources`
(the stack's outputs), :mod:`.store` (reading the result store), :mod:`.futures`, :mod:`.waiter` (one
per client), :mod:`.sources` (push: the caller's reply queue, the Kinesis stream) and :mod:`.client`
(submitting, and the pieces together).
"""

from sagemaker_async_results.client.client import AsyncInferenceClient
from sagemaker_async_results.client.errors import (
    InferenceError,
    InferenceExpiredError,
    InferenceFailedError,
    InferenceTimeoutError,
    ResourcesNotFoundError,
)
from sagemaker_async_results.client.futures import InferenceFuture, as_completed
from sagemaker_async_results.client.records import InferenceRecord, InferenceStatus, Submission
from sagemaker_async_results.client.resources import DeployedConstruct, StackResources, find_constructs
from sagemaker_async_results.client.waiter import ResultWaiter, WaiterStats

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
