"""CDK constructs: :class:`AsyncResultsPipeline` (receives and routes results), :class:`AsyncResultsEndpoint`
(an endpoint publishing into a pipeline) and :class:`AsyncInferenceResults` (both in one construct).

Names are imported on first use (PEP 562), so that ``import sagemaker_async_results.cdk.config`` and
other light modules do not pay for ``aws_cdk``.

Example
-------
>>> from sagemaker_async_results.cdk import AsyncInferenceResults, ModelProps  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.async_inference_results import AsyncInferenceResults, EndpointVpcProps
    from sagemaker_async_results.cdk.config import ConfigError, StackConfig, parse_context
    from sagemaker_async_results.cdk.constructs import (
        EncryptionKeyProps,
        ModelProps,
        OutputBucketProps,
        PropsError,
        ResultsTableProps,
    )
    from sagemaker_async_results.cdk.destinations import (
        EventBridgeDestination,
        KinesisDestination,
        ResultsQueueDestination,
        ResultStoreDestination,
        StepFunctionsCallbackDestination,
    )
    from sagemaker_async_results.cdk.endpoint import DEFAULT_MODEL, AsyncResultsEndpoint, AutoscalingProps
    from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
    from sagemaker_async_results.cdk.pipeline import AsyncResultsPipeline, DeliveryProps, RecoveryProps

_HOMES = {
    "AsyncInferenceResults": "sagemaker_async_results.cdk.async_inference_results",
    "AsyncResultsEndpoint": "sagemaker_async_results.cdk.endpoint",
    "AsyncResultsPipeline": "sagemaker_async_results.cdk.pipeline",
    "AutoscalingProps": "sagemaker_async_results.cdk.endpoint",
    "DeliveryProps": "sagemaker_async_results.cdk.pipeline",
    "EndpointVpcProps": "sagemaker_async_results.cdk.async_inference_results",
    "RecoveryProps": "sagemaker_async_results.cdk.pipeline",
    "DEFAULT_MODEL": "sagemaker_async_results.cdk.endpoint",
    "add_aws_solutions_checks": "sagemaker_async_results.cdk.nag",
    "ConfigError": "sagemaker_async_results.cdk.config",
    "StackConfig": "sagemaker_async_results.cdk.config",
    "parse_context": "sagemaker_async_results.cdk.config",
    "EncryptionKeyProps": "sagemaker_async_results.cdk.constructs",
    "ModelProps": "sagemaker_async_results.cdk.constructs",
    "OutputBucketProps": "sagemaker_async_results.cdk.constructs",
    "PropsError": "sagemaker_async_results.cdk.constructs",
    "ResultsTableProps": "sagemaker_async_results.cdk.constructs",
    "EventBridgeDestination": "sagemaker_async_results.cdk.destinations",
    "KinesisDestination": "sagemaker_async_results.cdk.destinations",
    "ResultStoreDestination": "sagemaker_async_results.cdk.destinations",
    "ResultsQueueDestination": "sagemaker_async_results.cdk.destinations",
    "StepFunctionsCallbackDestination": "sagemaker_async_results.cdk.destinations",
}

__all__ = [
    "DEFAULT_MODEL",
    "AsyncInferenceResults",
    "AsyncResultsEndpoint",
    "AsyncResultsPipeline",
    "AutoscalingProps",
    "ConfigError",
    "DeliveryProps",
    "EncryptionKeyProps",
    "EndpointVpcProps",
    "EventBridgeDestination",
    "KinesisDestination",
    "ModelProps",
    "OutputBucketProps",
    "PropsError",
    "RecoveryProps",
    "ResultStoreDestination",
    "ResultsQueueDestination",
    "ResultsTableProps",
    "StackConfig",
    "StepFunctionsCallbackDestination",
    "add_aws_solutions_checks",
    "parse_context",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
