"""What every destination construct shares: the binding it returns and the protocols it implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["DestinationBinding", "DestinationFromConfig", "ResultDestination"]


@dataclass(frozen=True)
class DestinationBinding:
    """What a bound destination hands back to the construct that composes the system.

    Attributes
    ----------
    outputs:
        Stack outputs worth publishing (output key -> value), e.g. a created queue's URL.
    dead_letter_queues:
        Queues to alarm on when they hold messages (label -> queue).
    """

    outputs: Mapping[str, str] = field(default_factory=dict)
    dead_letter_queues: Mapping[str, sqs.IQueue] = field(default_factory=dict)


class ResultDestination(Protocol):
    """A built-in destination on the infrastructure side, modelled on ``aws_lambda_destinations``.

    ``bind`` is called once, with both result-handler functions: it creates what the destination needs
    under ``scope``, grants the functions exactly the actions the runtime sender calls, and sets the
    environment variables the sender's ``from_env`` reads.
    """

    #: Construct ID of the destination's scope; unique among the destinations of one construct.
    construct_id: str

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding: ...


class DestinationFromConfig(Protocol):
    """A destination class the context-driven app can build from its ``destinations`` section."""

    def from_config(self, config: DestinationsConfig) -> ResultDestination | None: ...
