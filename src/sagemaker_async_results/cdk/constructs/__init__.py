"""Reusable constructs: one capability per module, usable from any CDK app.

Example
-------
>>> from sagemaker_async_results.cdk.constructs import EncryptionKey, OutputBucket, ResultTopics  # doctest: +SKIP
"""

from sagemaker_async_results.cdk.constructs._props import PropsError
from sagemaker_async_results.cdk.constructs.autoscaling import EndpointAutoscaling
from sagemaker_async_results.cdk.constructs.delivery import BufferedDelivery, DirectDelivery, deliver
from sagemaker_async_results.cdk.constructs.encryption import EncryptionKey, EncryptionKeyProps
from sagemaker_async_results.cdk.constructs.operations import Operations
from sagemaker_async_results.cdk.constructs.output_bucket import OutputBucket, OutputBucketProps
from sagemaker_async_results.cdk.constructs.result_handler import ResultHandlerFunction
from sagemaker_async_results.cdk.constructs.results_table import ResultsTable, ResultsTableProps
from sagemaker_async_results.cdk.constructs.sagemaker_endpoint import AsyncInferenceEndpoint, ModelProps
from sagemaker_async_results.cdk.constructs.topics import ResultTopics, TopicProps

__all__ = [
    "AsyncInferenceEndpoint",
    "BufferedDelivery",
    "DirectDelivery",
    "EncryptionKey",
    "EncryptionKeyProps",
    "EndpointAutoscaling",
    "ModelProps",
    "Operations",
    "OutputBucket",
    "OutputBucketProps",
    "PropsError",
    "ResultHandlerFunction",
    "ResultTopics",
    "ResultsTable",
    "ResultsTableProps",
    "TopicProps",
    "deliver",
]
