"""The Kinesis stream as the waiter's push source on moto, with the failures Kinesis has: an iterator
that expired (re-opened after the last record read, history not re-read), throttled reads (counted,
backed off), an idle caller (no call; iterators re-opened at the oldest pending request, not at the
client's start), and a failing stream (the store sweep keeps resolving)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sagemaker_async_results import contract
from sagemaker_async_results.client import AsyncInferenceClient, InferenceStatus, StackResources
from sagemaker_async_results.client.sources.stream import StreamSource

TABLE = "results"
STREAM = "results-stream"


class Endpoint:
    def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
        return {
            "InferenceId": request["InferenceId"],
            "OutputLocation": f"s3://b/out/{request['InferenceId']}.out",
        }


class Kinesis:
    """moto's Kinesis client, recording each call; ``fail`` maps an operation to error codes to raise first."""

    def __init__(self, kinesis: Any) -> None:
        self._kinesis = kinesis
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, list[str]] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._kinesis, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            codes = self.fail.get(name)
            if codes:
                raise ClientError({"Error": {"Code": codes.pop(0), "Message": "no"}}, name)
            return method(**kwargs)

        return call

    def iterators(self) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == "get_shard_iterator"]


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName=STREAM, ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
        yield {"dynamodb": dynamodb, "kinesis": kinesis, "arn": arn}


def _client(aws: dict[str, Any], kinesis: Kinesis) -> AsyncInferenceClient:
    resources = StackResources(endpoint_name="ep", bucket="b", input_prefix="in/", results_table=TABLE)
    return AsyncInferenceClient(
        resources,
        s3=None,
        sagemaker_runtime=Endpoint(),
        dynamodb=aws["dynamodb"],
        sources=[StreamSource(aws["arn"], kinesis)],
    )


def _finish(aws: dict[str, Any], inference_id: str, *, stream: bool = True, store: bool = True) -> None:
    record = {
        "inferenceId": inference_id,
        "status": "Completed",
        "outputLocation": f"s3://b/out/{inference_id}.out",
    }
    if store:
        aws["dynamodb"].update_item(
            TableName=TABLE,
            Key={"pk": {"S": contract.result_key(inference_id)}},
            UpdateExpression="SET #s = :s, outputLocation = :o",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "Completed"}, ":o": {"S": record["outputLocation"]}},
        )
    if stream:
        aws["kinesis"].put_record(
            StreamARN=aws["arn"], Data=json.dumps(record).encode(), PartitionKey=inference_id
        )


def test_an_expired_iterator_is_reopened_after_the_last_record_read(aws: dict[str, Any]) -> None:
    kinesis = Kinesis(aws["kinesis"])
    with _client(aws, kinesis) as client:
        first, second = client.submit(b"{}", inline=True), client.submit(b"{}", inline=True)
        _finish(aws, first.inference_id)
        assert first.result(timeout=10).status == InferenceStatus.COMPLETED
        kinesis.fail["get_records"] = ["ExpiredIteratorException"]
        _finish(aws, second.inference_id)
        assert second.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.recovered["IteratorReopened"] == 1
        assert client.waiter.stats.resolved == {"stream": 2}
        reopened = kinesis.iterators()[-1]
        assert reopened["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER"
        assert reopened["StartingSequenceNumber"], "re-opened without the last record read"


def test_throttled_reads_are_counted_and_backed_off(aws: dict[str, Any]) -> None:
    kinesis = Kinesis(aws["kinesis"])
    with _client(aws, kinesis) as client:
        kinesis.fail["get_records"] = ["ProvisionedThroughputExceededException"] * 3
        future = client.submit(b"{}", inline=True)
        _finish(aws, future.inference_id)
        started = time.monotonic()
        assert future.result(timeout=15).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.throttled == {"GetRecords": 3}
        assert client.waiter.stats.resolved == {"stream": 1}
        reads = [n for n, _ in kinesis.calls if n == "get_records"]
        assert len(reads) >= 4
        # Backed off 0.1-0.2, 0.2-0.4, 0.4-0.8 s: the 3 refused reads did not come in a tight loop.
        assert time.monotonic() - started >= 0.5


def test_an_idle_caller_makes_no_call_and_reopens_at_its_oldest_pending_request(aws: dict[str, Any]) -> None:
    kinesis = Kinesis(aws["kinesis"])
    with _client(aws, kinesis) as client:
        first = client.submit(b"{}", inline=True)
        _finish(aws, first.inference_id)
        first.result(timeout=10)
        time.sleep(0.5)
        calls = len(kinesis.calls)
        time.sleep(2.0)
        assert len(kinesis.calls) == calls, "calls while nothing was pending"
        # Others' results written meanwhile: history the caller must not re-read.
        for n in range(5):
            _finish(aws, f"someone-else-{n}", store=False)
        time.sleep(1.1)
        before = time.time()
        again = client.submit(b"{}", inline=True)
        _finish(aws, again.inference_id)
        assert again.result(timeout=10).status == InferenceStatus.COMPLETED
        opened = kinesis.iterators()[-1]
        assert opened["ShardIteratorType"] == "AT_TIMESTAMP"
        assert opened["Timestamp"] >= before - 6, "opened before the oldest pending request"
        assert client.waiter.stats.resolved == {"stream": 2}


def test_a_failing_stream_leaves_the_store_sweep_resolving(aws: dict[str, Any]) -> None:
    kinesis = Kinesis(aws["kinesis"])
    with _client(aws, kinesis) as client:
        kinesis.fail["list_shards"] = ["InternalFailure"] * 1000
        futures = [client.submit(b"{}", inline=True) for _ in range(3)]
        for future in futures:
            _finish(aws, future.inference_id, stream=False)
        started = time.monotonic()
        for future in futures:
            assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        assert time.monotonic() - started < 5, "waited for the 30 s safety sweep"
        assert client.waiter.stats.resolved == {"store": 3}
        assert client.waiter.stats.errors["GetRecords"] >= 1
        assert not client.waiter.push
