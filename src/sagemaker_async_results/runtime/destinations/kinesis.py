"""Kinesis Data Streams: the result record as one JSON record, partitioned by inference ID.

Records of one inference land on one shard, in order; consumers (Lambda, Firehose, analytics
applications) read every result of the endpoint as a stream.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.runtime.destinations._batch import (
    BatchDestination,
    EntryFailure,
    answer_failures,
    entry_error,
)
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.payloads import aws_error, error_code

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult

#: ARN of the stream results are put on; absent or blank switches the destination off.
STREAM_ARN_ENV = "RESULTS_STREAM_ARN"
#: Kinesis' limit on a partition key (Unicode characters).
MAX_PARTITION_KEY_LENGTH = 256
#: Kinesis limits of one PutRecords call: records, and bytes of data and partition keys together.
MAX_BATCH_ENTRIES = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
_DENIED = {"AccessDeniedException", "AccessDenied"}


class KinesisDestination(BatchDestination):
    """Puts the result record on a Kinesis data stream (partition key = inference ID).

    On when ``RESULTS_STREAM_ARN`` is set; it must be a stream ARN. ``PutRecord`` for a lone result,
    ``PutRecords`` for the results of a batch. ``PutRecords`` is its own IAM action: when the
    function may not call it (``AccessDenied``), the destination says so in the log once and sends
    one ``PutRecord`` per result from then on.

    Parameters
    ----------
    stream_arn: the stream. clients: the runtime's AWS clients (``kinesis`` is used).
    """

    name = "kinesis"
    target_env = STREAM_ARN_ENV
    target_keyword = "stream_arn"
    batch_operation = "Kinesis.PutRecords"
    max_batch_entries = MAX_BATCH_ENTRIES
    max_batch_bytes = MAX_BATCH_BYTES

    def __init__(self, *, stream_arn: str, clients: Clients) -> None:
        super().__init__(stream_arn, clients)
        #: Set when PutRecords was refused by IAM: one PutRecord per result from then on.
        self._batch_denied = False

    @classmethod
    def _check_target(cls, target: str) -> None:
        if not (target.startswith("arn:") and ":kinesis:" in target and ":stream/" in target):
            raise ConfigurationError(
                f"{STREAM_ARN_ENV}={target!r}: expected a Kinesis stream ARN",
                received=target,
                expected="arn:<partition>:kinesis:<region>:<account>:stream/<name>",
            )

    def _entry(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "Data": json.dumps(record).encode(),
            "PartitionKey": result.inference_id[:MAX_PARTITION_KEY_LENGTH],
        }

    def _entry_size(self, entry: dict[str, Any]) -> int:
        return len(entry["Data"]) + len(entry["PartitionKey"].encode())

    def _call(self, entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        response = self._clients.client("kinesis").put_records(StreamARN=self._target, Records=entries)
        return answer_failures(response["Records"])

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        try:
            self._clients.client("kinesis").put_record(StreamARN=self._target, **self._entry(result, record))
        except Exception as exc:
            raise aws_error(exc, operation="Kinesis.PutRecord", inference_id=result.inference_id) from exc

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """One record per result in ``PutRecords`` calls; a failure per result (``None``: put)."""
        if len(items) == 1 or self._batch_denied:
            return [self._send_one(result, record) for result, record in items]
        outcomes = self._send_entries(items)
        denied = [isinstance(o, Exception) and error_code(o) in _DENIED for o in outcomes]
        if any(denied):
            # Imported here, not at module import: the CDK app imports this module for its names.
            from sagemaker_async_results.runtime.observability import logger

            self._batch_denied = True
            logger.warning(
                "kinesis:PutRecords is not allowed: sending one PutRecord per result",
                extra={"stream": self._target},
            )
        return [
            self._send_one(result, record)
            if refused
            else entry_error(outcome, result.inference_id, self.batch_operation)
            for outcome, refused, (result, record) in zip(outcomes, denied, items, strict=True)
        ]
