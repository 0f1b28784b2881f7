"""moto-backed AWS for the integration tests: bucket, table, results queue, event bus, Step Functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import recording_plugin
from moto import mock_aws

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime import entrypoint

BUCKET = "async-results-test-bucket"
TABLE = "async-results-test"
OUTPUTS = f"s3://{BUCKET}/async-inference/outputs/"
FAILURES = f"s3://{BUCKET}/async-inference/failures/"


@dataclass
class Aws:
    """Handles to the mocked resources plus helpers the tests share."""

    s3: Any
    dynamodb: Any
    sqs: Any
    results_queue_url: str
    events_queue_url: str
    sfn_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def put_output(self, name: str, body: bytes, prefix: str = "async-inference/outputs/") -> str:
        self.s3.put_object(Bucket=BUCKET, Key=prefix + name, Body=body)
        return f"s3://{BUCKET}/{prefix}{name}"

    def record(self, inference_id: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"result#{inference_id}"}}).get(
            "Item"
        )
        if item is None:
            return None
        return {k: _plain(v) for k, v in item.items()}

    def result_records(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=TABLE)["Items"]
        return [{k: _plain(v) for k, v in i.items()} for i in items if i["pk"]["S"].startswith("result#")]

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            for m in batch:
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    def watch_step_functions(self) -> None:
        """Record SendTask* calls of the app's client (moto accepts them but keeps nothing)."""
        client = entrypoint.get_app().clients.stepfunctions

        def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
            self.sfn_calls.append((model.name, dict(params)))

        client.meta.events.register("provide-client-params.sfn.*", capture)


def _plain(value: dict[str, Any]) -> Any:
    ((kind, inner),) = value.items()
    if kind == "N":
        return int(inner)
    if kind == "L":
        return [_plain(v) for v in inner]
    return inner


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """Every destination switched on, like a deployed stack with all of cdk.json's destinations."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs")
        results_url = sqs.create_queue(QueueName="results")["QueueUrl"]
        events_url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        events_arn = sqs.get_queue_attributes(QueueUrl=events_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events = boto3.client("events")
        events.create_event_bus(Name="results-bus")
        events.put_rule(
            Name="all-results",
            EventBusName="results-bus",
            EventPattern=json.dumps({"source": ["sagemaker.async-results"]}),
        )
        events.put_targets(
            Rule="all-results", EventBusName="results-bus", Targets=[{"Id": "q", "Arn": events_arn}]
        )

        for name, value in {
            names.RESULTS_BUCKET: BUCKET,
            names.READABLE_LOCATIONS: f"{OUTPUTS},{FAILURES}",
            names.RESULTS_TABLE: TABLE,
            names.MAX_PAYLOAD_BYTES: "4096",
            names.HANDLER_MODULES: "recording_plugin",
            names.RESULT_STORE_ENABLED: "true",
            names.EVENT_BUS_NAME: "results-bus",
            names.RESULTS_QUEUE_URL: results_url,
            names.STEP_FUNCTIONS_CALLBACK_ENABLED: "true",
        }.items():
            monkeypatch.setenv(name, value)
        entrypoint.reset_app()
        recording_plugin.CALLS.clear()
        try:
            yield Aws(
                s3=s3, dynamodb=dynamodb, sqs=sqs, results_queue_url=results_url, events_queue_url=events_url
            )
        finally:
            entrypoint.reset_app()
