"""Built-in destinations, switched on by configuration (``cdk.json`` ``destinations`` -> env vars).

Each destination has a ``name`` (written to ``routedTo``), ``applies(result)`` and
``send(result, record)`` where ``record`` is the result record (camelCase fields, see
docs/ARCHITECTURE.md). A failed ``send`` raises a structured error and fails the record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings


class Destination(Protocol):
    """What the app needs from a destination."""

    name: str

    def applies(self, result: InferenceResult) -> bool: ...

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None: ...


def build_destinations(settings: Settings, clients: Clients) -> tuple[list[Destination], list[Destination]]:
    """The configured destinations as ``(before_handlers, after_handlers)``.

    The result store runs before user handlers: it is the status the client polls and its
    UpdateItem is idempotent, so it is safe to repeat when a handler fails and the record is
    retried. Notify-once destinations (Step Functions, SQS, EventBridge) run after every user
    handler succeeded, so a failing handler does not make them fire twice.
    """
    before: list[Destination] = []
    after: list[Destination] = []
    if settings.result_store_active:
        from sagemaker_async_results.runtime.destinations.result_store import ResultStore

        before.append(ResultStore(settings, clients))
    if settings.step_functions_callback_enabled:
        from sagemaker_async_results.runtime.destinations.stepfunctions import StepFunctionsCallback

        after.append(StepFunctionsCallback(settings, clients))
    if settings.results_queue_url:
        from sagemaker_async_results.runtime.destinations.sqs import ResultsQueue

        after.append(ResultsQueue(settings, clients))
    if settings.event_bus_name:
        from sagemaker_async_results.runtime.destinations.eventbridge import EventBridgeDestination

        after.append(EventBridgeDestination(settings, clients))
    return before, after
