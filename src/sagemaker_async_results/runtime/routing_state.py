"""The routing state of a result record, kept apart from the inference's ``status``.

``status`` says what SageMaker did (``Completed`` / ``Failed``); ``routing`` says what this runtime
did with it, so a caller can tell "the model failed" from "the model succeeded and a handler
failed". Written only when the result store is active, with its own ``UpdateItem`` on the result
record (``pk = "result#<inferenceId>"``), so the result store's write stays what it is:

* ``routing = InProgress``, ``routedTo = []``, ``routingError`` removed — when routing starts
  (after the exactly-once lock and the payload check; a refused or missing payload writes nothing);
* ``routing = Routed``, ``routedTo`` = every destination and handler, in order — when all of them
  returned;
* ``routing = Failed``, ``routingError = {reason, message, handler}``, ``routedTo`` = those that
  returned before the failure — when a destination or handler raised. A retry that succeeds later
  writes ``Routed`` and removes ``routingError``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.contract import (
    ROUTED_TO_ATTRIBUTE,
    ROUTING_ATTRIBUTE,
    ROUTING_ERROR_ATTRIBUTE,
    ROUTING_FAILED,
    ROUTING_IN_PROGRESS,
    ROUTING_ROUTED,
    TABLE_PARTITION_KEY,
    TABLE_TTL_ATTRIBUTE,
    result_key,
)
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from sagemaker_async_results.runtime.errors import ResultError


class RoutingState:
    """Writes ``routing``, ``routingError`` and ``routedTo`` of result records.

    Parameters
    ----------
    table
        The results table.
    dynamodb
        Callable returning the DynamoDB client (called on first use).
    ttl_seconds
        ``expiresAt`` given to a record this module creates (the result store sets its own).
    """

    def __init__(self, *, table: str, dynamodb: Callable[[], DynamoDBClient], ttl_seconds: int) -> None:
        self._table = table
        self._dynamodb = dynamodb
        self._ttl_seconds = ttl_seconds

    def in_progress(self, inference_id: str) -> None:
        """Routing starts. Creates the record when it does not exist yet (with an ``expiresAt``)."""
        self._update(
            inference_id,
            "SET #routing = :state, #to = :to, #id = :id, #exp = if_not_exists(#exp, :exp) REMOVE #error",
            {
                ":state": {"S": ROUTING_IN_PROGRESS},
                ":to": {"L": []},
                ":id": {"S": inference_id},
                ":exp": {"N": str(int(time.time()) + self._ttl_seconds)},
            },
            names={"#id": "inferenceId", "#exp": TABLE_TTL_ATTRIBUTE, "#error": ROUTING_ERROR_ATTRIBUTE},
        )

    def routed(self, inference_id: str, routed_to: list[str]) -> None:
        """Every destination and handler returned."""
        self._update(
            inference_id,
            "SET #routing = :state, #to = :to REMOVE #error",
            {":state": {"S": ROUTING_ROUTED}, ":to": _names(routed_to)},
            names={"#error": ROUTING_ERROR_ATTRIBUTE},
        )

    def failed(self, inference_id: str, routed_to: list[str], error: ResultError, handler: str) -> None:
        """``handler`` (a destination or user handler name) raised ``error``."""
        self._update(
            inference_id,
            "SET #routing = :state, #to = :to, #error = :error",
            {
                ":state": {"S": ROUTING_FAILED},
                ":to": _names(routed_to),
                ":error": {
                    "M": {
                        "reason": {"S": error.reason},
                        "message": {"S": error.message[:1000]},
                        "handler": {"S": handler},
                    }
                },
            },
            names={"#error": ROUTING_ERROR_ATTRIBUTE},
        )

    def _update(
        self, inference_id: str, expression: str, values: dict[str, Any], *, names: dict[str, str]
    ) -> None:
        try:
            self._dynamodb().update_item(
                TableName=self._table,
                Key={TABLE_PARTITION_KEY: {"S": result_key(inference_id)}},
                UpdateExpression=expression,
                ExpressionAttributeNames={"#routing": ROUTING_ATTRIBUTE, "#to": ROUTED_TO_ATTRIBUTE, **names},
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            raise aws_error(
                exc, operation="DynamoDB.UpdateItem (routing state)", inference_id=inference_id
            ) from exc


def _names(names: list[str]) -> dict[str, Any]:
    return {"L": [{"S": name} for name in names]}
