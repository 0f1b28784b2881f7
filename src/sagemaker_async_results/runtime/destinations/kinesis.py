"""Kinesis Data Streams: the result record as one JSON record, partitioned by inference ID.

Records of one inference land on one shard, in order; consumers (Lambda, Firehose, analytics
applications) read every result of the endpoint as a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results.runtime.destinations._batch import EntryFailure, entry_error, send_entries
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.payloads import aws_error, error_code

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: ARN of the stream results are put on; absent or blank switches the destination off.
STREAM_ARN_ENV = "RESULTS_STREAM_ARN"
#: Kinesis' limit on a partition key (Unicode characters).
MAX_PARTITION_KEY_LENGTH = 256
#: Kinesis limits of one PutRecords call: records, and bytes of data and partition keys together.
MAX_BATCH_ENTRIES = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
_DENIED = {"AccessDeniedException", "AccessDenied"}


class KinesisDestination:
    """Puts the result record on a Kinesis data stream (partition key = inference ID).

    ``PutRecord`` for a lone result, ``PutRecords`` for the results of a batch. ``PutRecords`` is its
    own IAM action: when the function may not call it (``AccessDenied``), the destination says so in
    the log once and sends one ``PutRecord`` per result from then on.

    Parameters
    ----------
    stream_arn: the stream. clients: the runtime's AWS clients (``kinesis`` is used).
    """

    name = "kinesis"
    stage: Final = "after"

    def __init__(self, *, stream_arn: str, clients: Clients) -> None:
        self._stream_arn = stream_arn
        self._clients = clients
        #: Set when PutRecords was refused by IAM: one PutRecord per result from then on.
        self._batch_denied = False

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> KinesisDestination | None:
        """On when ``RESULTS_STREAM_ARN`` is set; it must be a stream ARN."""
        stream_arn = text(environ, STREAM_ARN_ENV)
        if stream_arn is None:
            return None
        if not (stream_arn.startswith("arn:") and ":kinesis:" in stream_arn and ":stream/" in stream_arn):
            raise ConfigurationError(
                f"{STREAM_ARN_ENV}={stream_arn!r}: expected a Kinesis stream ARN",
                received=stream_arn,
                expected="arn:<partition>:kinesis:<region>:<account>:stream/<name>",
            )
        return cls(stream_arn=stream_arn, clients=clients)

    def applies(self, result: InferenceResult) -> bool:
        return True

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        try:
            self._clients.client("kinesis").put_record(
                StreamARN=self._stream_arn,
                Data=json.dumps(record).encode(),
                PartitionKey=result.inference_id[:MAX_PARTITION_KEY_LENGTH],
            )
        except Exception as exc:
            raise aws_error(exc, operation="Kinesis.PutRecord", inference_id=result.inference_id) from exc

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """One record per result in ``PutRecords`` calls; a failure per result (``None``: put)."""
        if len(items) == 1 or self._batch_denied:
            return [self._send_one(result, record) for result, record in items]
        entries: list[dict[str, Any]] = [
            {
                "Data": json.dumps(record).encode(),
                "PartitionKey": result.inference_id[:MAX_PARTITION_KEY_LENGTH],
            }
            for result, record in items
        ]
        sizes = [len(e["Data"]) + len(e["PartitionKey"].encode()) for e in entries]

        def call(batch: list[dict[str, Any]]) -> list[EntryFailure | None]:
            response = self._clients.client("kinesis").put_records(StreamARN=self._stream_arn, Records=batch)
            return [
                EntryFailure(answer.get("ErrorCode", ""), answer.get("ErrorMessage", ""))
                if answer.get("ErrorCode")
                else None
                for answer in response["Records"]
            ]

        outcomes = send_entries(
            entries, sizes=sizes, max_entries=MAX_BATCH_ENTRIES, max_bytes=MAX_BATCH_BYTES, call=call
        )
        if any(isinstance(o, Exception) and error_code(o) in _DENIED for o in outcomes):
            # Imported here, not at module import: the CDK app imports this module for its names.
            from sagemaker_async_results.runtime.observability import logger

            self._batch_denied = True
            logger.warning(
                "kinesis:PutRecords is not allowed: sending one PutRecord per result",
                extra={"stream": self._stream_arn},
            )
            return [
                self._send_one(result, record)
                if isinstance(outcome, Exception) and error_code(outcome) in _DENIED
                else entry_error(outcome, result.inference_id, "Kinesis.PutRecords")
                for outcome, (result, record) in zip(outcomes, items, strict=True)
            ]
        return [
            entry_error(outcome, result.inference_id, "Kinesis.PutRecords")
            for outcome, (result, _) in zip(outcomes, items, strict=True)
        ]

    def _send_one(self, result: InferenceResult, record: dict[str, Any]) -> ResultError | None:
        try:
            self.send(result, record)
        except ResultError as err:
            return err
        return None
