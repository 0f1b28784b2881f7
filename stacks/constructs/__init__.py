"""Reusable constructs: one capability per module, usable from any CDK app.

Example
-------
>>> from stacks.constructs import EncryptionKey, OutputBucket, ResultTopics  # doctest: +SKIP
"""

from stacks.constructs._props import PropsError
from stacks.constructs.autoscaling import EndpointAutoscaling
from stacks.constructs.delivery import BufferedDelivery, DirectDelivery, deliver
from stacks.constructs.destinations import ResultDestinations
from stacks.constructs.encryption import EncryptionKey, EncryptionKeyProps
from stacks.constructs.operations import Operations
from stacks.constructs.output_bucket import OutputBucket, OutputBucketProps
from stacks.constructs.result_handler import ResultHandlerFunction
from stacks.constructs.results_table import ResultsTable, ResultsTableProps
from stacks.constructs.sagemaker_endpoint import AsyncInferenceEndpoint, ModelProps
from stacks.constructs.topics import ResultTopics, TopicProps

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
    "ResultDestinations",
    "ResultHandlerFunction",
    "ResultTopics",
    "ResultsTable",
    "ResultsTableProps",
    "TopicProps",
    "deliver",
]
