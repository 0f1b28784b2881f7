"""The Kinesis destination against moto: one record per result, partitioned by inference ID."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import OUTPUTS, Aws
from moto import mock_aws

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import build_destinations
from sagemaker_async_results.runtime.destinations.kinesis import STREAM_ARN_ENV
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sns_event, sqs_event

STREAM = "results-stream"


@pytest.fixture
def stream_arn(aws: Aws) -> str:
    client = boto3.client("kinesis")
    client.create_stream(StreamName=STREAM, ShardCount=1)
    arn: str = client.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    return arn


def _records() -> list[dict[str, Any]]:
    client = boto3.client("kinesis")
    shard = client.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = client.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records: list[dict[str, Any]] = client.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return records


def _app(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch, router: Router | None = None
) -> ResultsApp:
    monkeypatch.setenv(STREAM_ARN_ENV, stream_arn)
    return ResultsApp(
        settings=Settings.from_env(),
        clients=Clients(s3=aws.s3, dynamodb=aws.dynamodb, sqs=aws.sqs),
        routers=[router or Router()],
    )


def test_every_result_becomes_one_record_keyed_by_inference_id(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(aws, stream_arn, monkeypatch)
    ok = notification(inference_id="k-1", output_location=aws.put_output("k-1.out", b'{"label": "POSITIVE"}'))
    failed = notification(inference_id="k-2", status="Failed", failure_reason="model crashed")
    outcomes = [app(sns_event([ok]))["results"][0], app(sns_event([failed]))["results"][0]]
    assert all("kinesis" in outcome["routedTo"] for outcome in outcomes), outcomes
    records = _records()
    assert [r["PartitionKey"] for r in records] == ["k-1", "k-2"]
    first, second = (json.loads(r["Data"]) for r in records)
    assert first["inferenceId"] == "k-1"
    assert first["status"] == "Completed"
    assert first["outputLocation"] == f"{OUTPUTS}k-1.out"
    assert second["status"] == "Failed"
    assert second["failureReason"] == "model crashed"


def test_a_failing_handler_puts_nothing_on_the_stream(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = Router()

    @router.on_success()
    def boom(result: Any) -> None:
        raise RuntimeError("handler bug")

    app = _app(aws, stream_arn, monkeypatch, router)
    message = notification(inference_id="k-3", output_location=aws.put_output("k-3.out", b"{}"))
    with pytest.raises(Exception, match="handler bug"):
        app(message)
    assert _records() == []  # notify-once: the stream only hears of results every handler accepted


def test_a_missing_stream_fails_the_record_with_a_structured_error(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(aws, stream_arn.replace(STREAM, "missing"), monkeypatch)
    message = notification(inference_id="k-4", output_location=aws.put_output("k-4.out", b"{}"))
    with pytest.raises(ResultError) as caught:
        app(message)
    assert caught.value.reason == "AwsCallFailed"
    assert "Kinesis.PutRecord" in caught.value.message


def test_switched_on_only_by_its_own_variable_and_the_value_is_checked() -> None:
    with mock_aws():
        settings = Settings.from_env({STREAM_ARN_ENV: "arn:aws:kinesis:us-east-1:123456789012:stream/s"})
        assert [d.name for d in build_destinations(settings, Clients())[1]] == ["kinesis"]
        assert build_destinations(Settings.from_env({names.EVENT_BUS_NAME: ""}), Clients()) == ([], [])
        with pytest.raises(ConfigurationError, match=STREAM_ARN_ENV):
            build_destinations(Settings.from_env({STREAM_ARN_ENV: "results-stream"}), Clients())


def test_a_batch_is_one_put_records_and_events_one_put_events(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(aws, stream_arn, monkeypatch)
    kinesis = app.clients.client("kinesis")
    seen: list[str] = []
    for client in (kinesis, app.clients.events):
        client.meta.events.register("before-call", lambda model, **_: seen.append(model.name))
    messages = [
        notification(inference_id=f"kb-{i}", output_location=aws.put_output(f"kb-{i}.out", b"{}"))
        for i in range(3)
    ]
    assert app(sqs_event(messages), lambda_context()) == {"batchItemFailures": []}
    assert sorted(seen) == ["PutEvents", "PutRecords"]
    assert sorted(r["PartitionKey"] for r in _records()) == ["kb-0", "kb-1", "kb-2"]


def test_without_put_records_permission_it_sends_one_record_each(
    aws: Aws, stream_arn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant of kinesis:PutRecord only: the batch call is refused once, then one PutRecord per result."""
    app = _app(aws, stream_arn, monkeypatch)
    kinesis = app.clients.client("kinesis")
    seen: list[str] = []

    def deny_put_records(model: Any, **_: Any) -> None:
        seen.append(model.name)
        if model.name == "PutRecords":
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "PutRecords")

    kinesis.meta.events.register("before-call", deny_put_records)
    for batch in range(2):
        messages = [
            notification(
                inference_id=f"kd-{batch}-{i}", output_location=aws.put_output(f"kd{batch}{i}.out", b"{}")
            )
            for i in range(2)
        ]
        assert app(sqs_event(messages), lambda_context()) == {"batchItemFailures": []}
    assert seen == ["PutRecords"] + ["PutRecord"] * 4, "refused once, then never asked again"
    assert len(_records()) == 4
