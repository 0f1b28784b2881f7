"""Result store: one DynamoDB record per inference ID (``pk = "result#<inferenceId>"``).

When the notification carried the response inline, the record keeps it (``inlineBody``, binary).

UpdateItem (not PutItem) so attributes the client wrote at submit time (``submittedAt``,
``expiresBy``) are kept. The table is the runtime's own (``RESULTS_TABLE``, shared with the
idempotency records), so this destination only reads its on/off switch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._env import flag
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: ``true`` / ``false``; absent means on whenever ``RESULTS_TABLE`` is set (the client polls the record).
ENABLED_ENV = contract.RESULT_STORE_ENABLED


def result_key(inference_id: str) -> dict[str, Any]:
    """The DynamoDB key of an inference's result record."""
    return {contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}}


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bytes):
        return {"B": value}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_attr(v) for v in value]}
    return {"S": str(value)}


class ResultStore:
    """Writes the result record (status, locations, times, latency, ``routedTo``, ``expiresAt``).

    Parameters
    ----------
    table_name: the results table. ttl_days: days before DynamoDB's TTL removes the record.
    clients: the runtime's AWS clients (``dynamodb`` is used).
    """

    name = "resultStore"
    stage: Final = "before"

    def __init__(self, *, table_name: str, ttl_days: int, clients: Clients) -> None:
        self._table = table_name
        self._ttl_seconds = ttl_days * 86400
        self._clients = clients

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> ResultStore | None:
        """On when ``RESULT_STORE_ENABLED`` is not ``false`` and the runtime has a results table."""
        enabled = flag(environ, ENABLED_ENV, default=True)
        if not enabled or not settings.results_table:
            return None
        return cls(table_name=settings.results_table, ttl_days=settings.result_ttl_days, clients=clients)

    def applies(self, result: InferenceResult) -> bool:
        return True

    def attribute_values(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        """The record's attributes as DynamoDB values (also written by the exactly-once claim)."""
        values = dict(record)
        values["handledTime"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        values[contract.TABLE_TTL_ATTRIBUTE] = int(time.time()) + self._ttl_seconds
        if result.payload.is_inline:
            # At most 128 KB (SageMaker's inline limit), well inside DynamoDB's 400 KB item limit:
            # a caller holding the record needs no S3 request at all.
            values[contract.INLINE_BODY_ATTRIBUTE] = result.raw()
        return {key: _attr(value) for key, value in values.items()}

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        values = self.attribute_values(result, record)
        names = {f"#a{i}": key for i, key in enumerate(values)}
        expression = "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values)))
        try:
            self._clients.dynamodb.update_item(
                TableName=self._table,
                Key=result_key(result.inference_id),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{i}": v for i, v in enumerate(values.values())},
            )
        except Exception as exc:
            raise aws_error(exc, operation="DynamoDB.UpdateItem", inference_id=result.inference_id) from exc
