"""Built-in destinations: one module each, registered in :data:`BUILT_IN_DESTINATIONS`.

A destination is one small unit. Its module holds the sender class, the names of the environment
variables it reads (the construct that deploys it imports them from there), and a ``from_env``
factory that reads only those variables and returns the sender, or ``None`` when switched off.
Adding a destination means a new module here, one line in :data:`BUILT_IN_DESTINATIONS`, and its
construct counterpart in :mod:`sagemaker_async_results.cdk.destinations`.

Each sender has a ``name`` (written to ``routedTo``), ``applies(result)`` and
``send(result, record)`` where ``record`` is the result record (camelCase fields, see
docs/architecture.md). A failed ``send`` raises a structured error and fails the record.
A notify-once destination may also have ``send_batch(items) -> list[ResultError | None]`` for
the records of one batch (``items``: ``(result, record)`` pairs): the lifecycle then makes one call
for the batch (SQS ``SendMessageBatch``, EventBridge ``PutEvents``, Kinesis ``PutRecords``), and an
entry the service refused fails only its own record.

Modules here import neither boto3 nor Powertools at import time: the CDK app imports them for the
variable names, and the Lambda function imports them during its cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sagemaker_async_results.runtime.destinations.eventbridge import EventBridgeDestination
from sagemaker_async_results.runtime.destinations.kinesis import KinesisDestination
from sagemaker_async_results.runtime.destinations.reply_queue import ReplyQueueDestination
from sagemaker_async_results.runtime.destinations.result_store import ResultStore
from sagemaker_async_results.runtime.destinations.sqs import ResultsQueue
from sagemaker_async_results.runtime.destinations.stepfunctions import StepFunctionsCallback
from sagemaker_async_results.runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

__all__ = [
    "BUILT_IN_DESTINATIONS",
    "Destination",
    "DestinationFactory",
    "EventBridgeDestination",
    "KinesisDestination",
    "ReplyQueueDestination",
    "ResultStore",
    "ResultsQueue",
    "StepFunctionsCallback",
    "build_destinations",
]

#: ``before``: runs before user handlers (must be idempotent); ``after``: runs once every handler succeeded.
Stage = Literal["before", "after"]


class Destination(Protocol):
    """What the app needs from a destination."""

    name: str

    def applies(self, result: InferenceResult) -> bool: ...

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None: ...


class DestinationFactory(Protocol):
    """What the registry needs from a destination class."""

    @property  # pragma: no mutate (a Protocol's declaration: only the type checker reads it)
    def stage(self) -> Stage:
        """Whether the destination runs before or after the user handlers."""
        ...

    def from_env(
        self, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> Destination | None: ...


#: Every built-in destination, in the order they run within their stage.
BUILT_IN_DESTINATIONS: tuple[DestinationFactory, ...] = (
    ResultStore,
    StepFunctionsCallback,
    ResultsQueue,
    EventBridgeDestination,
    KinesisDestination,
    ReplyQueueDestination,
)


def build_destinations(settings: Settings, clients: Clients) -> tuple[list[Destination], list[Destination]]:
    """The configured destinations as ``(before_handlers, after_handlers)``.

    Each registered destination reads its own variables from ``settings.environment``. The result
    store runs before user handlers: it is the status the client polls and its UpdateItem is
    idempotent, so it is safe to repeat when a handler fails and the record is retried. Notify-once
    destinations (Step Functions, SQS, EventBridge, Kinesis) run after every user handler succeeded,
    so a failing handler does not make them fire twice.

    Raises
    ------
    ConfigurationError
        Listing the problems of every misconfigured destination at once.
    """
    stages: dict[Stage, list[Destination]] = {"before": [], "after": []}
    problems: list[str] = []
    for factory in BUILT_IN_DESTINATIONS:
        try:
            destination = factory.from_env(settings.environment, settings=settings, clients=clients)
        except ConfigurationError as exc:
            problems.append(exc.message)
            continue
        if destination is not None:
            stages[factory.stage].append(destination)
    if problems:
        raise ConfigurationError(
            "invalid destination environment: " + "; ".join(problems),
            expected="see docs/destinations.md for every variable",
        )
    return stages["before"], stages["after"]
