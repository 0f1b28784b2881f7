"""Kinesis Data Streams: the result record as one JSON record, partitioned by inference ID.

Records of one inference land on one shard, in order; consumers (Lambda, Firehose, analytics
applications) read every result of the endpoint as a stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: ARN of the stream results are put on; absent or blank switches the destination off.
STREAM_ARN_ENV = "RESULTS_STREAM_ARN"
#: Kinesis' limit on a partition key (Unicode characters).
MAX_PARTITION_KEY_LENGTH = 256


class KinesisDestination:
    """Puts the result record on a Kinesis data stream (``PutRecord``, partition key = inference ID).

    Parameters
    ----------
    stream_arn: the stream. clients: the runtime's AWS clients (``kinesis`` is used).
    """

    name = "kinesis"
    stage: Final = "after"

    def __init__(self, *, stream_arn: str, clients: Clients) -> None:
        self._stream_arn = stream_arn
        self._clients = clients

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
