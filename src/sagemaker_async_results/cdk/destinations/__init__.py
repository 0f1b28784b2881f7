"""Built-in destinations on the infrastructure side: one module each, registered in one list.

Each class mirrors a runtime sender of :mod:`sagemaker_async_results.runtime.destinations` (whose
module names the environment variables both sides use) and implements ``bind()``: create what the
destination needs, grant the result-handler functions exactly the actions the sender calls, set the
variables. Adding a destination = a runtime module, a module here, one line in each registry.

Example
-------
>>> AsyncInferenceResults(stack, "Results", ...,  # doctest: +SKIP
...     destinations=[ResultStoreDestination(), EventBridgeDestination(event_bus=bus)])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagemaker_async_results.cdk.destinations._base import (
    DestinationBinding,
    DestinationFromConfig,
    ResultDestination,
)
from sagemaker_async_results.cdk.destinations.event_bridge import EventBridgeDestination
from sagemaker_async_results.cdk.destinations.kinesis import KinesisDestination
from sagemaker_async_results.cdk.destinations.reply_queue import ReplyQueueDestination
from sagemaker_async_results.cdk.destinations.result_store import ResultStoreDestination
from sagemaker_async_results.cdk.destinations.results_queue import ResultsQueueDestination
from sagemaker_async_results.cdk.destinations.step_functions import StepFunctionsCallbackDestination

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = [
    "BUILT_IN_DESTINATIONS",
    "DestinationBinding",
    "DestinationFromConfig",
    "EventBridgeDestination",
    "KinesisDestination",
    "ReplyQueueDestination",
    "ResultDestination",
    "ResultStoreDestination",
    "ResultsQueueDestination",
    "StepFunctionsCallbackDestination",
    "destinations_from_config",
]

#: Every built-in destination the context-driven app can switch on, in binding order.
BUILT_IN_DESTINATIONS: tuple[DestinationFromConfig, ...] = (
    ResultStoreDestination,
    StepFunctionsCallbackDestination,
    ResultsQueueDestination,
    EventBridgeDestination,
    KinesisDestination,
    ReplyQueueDestination,
)


def destinations_from_config(config: DestinationsConfig) -> list[ResultDestination]:
    """The destinations the ``destinations`` context section switches on."""
    return [
        destination
        for factory in BUILT_IN_DESTINATIONS
        if (destination := factory.from_config(config)) is not None
    ]
