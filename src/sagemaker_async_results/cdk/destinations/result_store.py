"""Result store: the record the client polls, in the construct's results table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations.result_store import ENABLED_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["ResultStoreDestination"]


class ResultStoreDestination:
    """Switch the result store on or off; the table and its grants belong to the functions already
    (idempotency records share it), so binding only sets ``RESULT_STORE_ENABLED``.

    Parameters
    ----------
    enabled: default True. Off, the client cannot poll results (user handlers and other destinations
        still run).
    """

    construct_id = "ResultStore"

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> ResultStoreDestination:
        """Always bound, so that the runtime's switch is explicit either way."""
        return cls(enabled=config.result_store)

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        for function in functions:
            function.add_environment(ENABLED_ENV, "true" if self.enabled else "false")
        return DestinationBinding()
