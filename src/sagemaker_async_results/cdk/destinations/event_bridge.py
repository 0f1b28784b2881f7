"""EventBridge: the functions may put events on exactly one bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations.eventbridge import BUS_NAME_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["OUTPUT_EVENT_BUS_NAME", "EventBridgeDestination"]

#: Stack output naming the bus results are put on.
OUTPUT_EVENT_BUS_NAME = "EventBusName"


class EventBridgeDestination:
    """Put every result record on an event bus (``events:PutEvents`` on that bus only).

    Parameters
    ----------
    event_bus: the bus; default the bus named ``event_bus_name``.
    event_bus_name: name of the bus when ``event_bus`` is not given; default ``"default"`` (the
        account's default bus).
    """

    construct_id = "EventBridge"

    def __init__(self, *, event_bus: events.IEventBus | None = None, event_bus_name: str = "default") -> None:
        self.event_bus = event_bus
        self.event_bus_name = event_bus_name

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> EventBridgeDestination | None:
        section = config.event_bridge
        return cls(event_bus_name=section.bus_name) if section.enabled else None

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        bus = self.event_bus or events.EventBus.from_event_bus_name(scope, "Bus", self.event_bus_name)
        for function in functions:
            bus.grant_put_events_to(function)
            function.add_environment(BUS_NAME_ENV, bus.event_bus_name)
        return DestinationBinding(outputs={OUTPUT_EVENT_BUS_NAME: bus.event_bus_name})
