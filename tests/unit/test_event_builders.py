"""The event builders of ``runtime.testing`` produce what AWS delivers: the documented samples in tests/events.

The local run, the benchmarks and every suite build their events with these functions, so an event
shape that drifted from AWS's would make all of them test the wrong thing at once.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sagemaker_async_results.runtime.testing import (
    DEFAULT_QUEUE_ARN,
    DEFAULT_TOPIC_ARN,
    LambdaContext,
    lambda_context,
    notification,
    sns_envelope,
    sns_event,
    sqs_event,
    test_notification,
)

EVENTS = Path(__file__).parents[1] / "events"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def documented_success() -> dict[str, Any]:
    return notification(
        inference_id="11111111-2222-3333-4444-555555555555",
        endpoint_name="demo-endpoint",
        content_type="text/csv; charset=utf-8",
        request_content_type="text/csv",
        input_location="s3://async-results-test-bucket/async-inference/inputs/input-data.csv",
        output_location="s3://async-results-test-bucket/async-inference/outputs/prediction.out",
        received_time=datetime(2022, 1, 25, 22, 46, 0, 455_000, tzinfo=UTC),
        latency=timedelta(milliseconds=153),
    )


def test_a_success_notification_is_the_documented_one_field_for_field() -> None:
    assert documented_success() == sample("success_documented.json")


def test_a_failure_notification_carries_its_reason_and_failure_location() -> None:
    built = notification(
        inference_id="55555555-2222-3333-4444-555555555555",
        endpoint_name="demo-endpoint",
        status="Failed",
        failure_reason=sample("failure_with_location.json")["failureReason"],
        input_location="s3://async-results-test-bucket/async-inference/inputs/44.json",
        failure_location="s3://async-results-test-bucket/async-inference/failures/55.out",
        received_time=datetime(2022, 1, 25, 22, 46, 59, 900_000, tzinfo=UTC),
        latency=timedelta(milliseconds=10_200),
    )
    assert built == sample("failure_with_location.json")
    default = notification(status="Failed")
    assert default["failureReason"] == "ClientError: Received server error (500) from model."
    assert "responseParameters" not in default
    assert "failureReason" not in notification()


def test_defaults_are_a_fresh_id_a_recent_time_and_the_demo_endpoint() -> None:
    first, second = notification(), notification()
    assert UUID.match(first["inferenceId"])
    assert first["inferenceId"] != second["inferenceId"]
    assert first["requestParameters"] == {
        "contentType": "application/json",
        "endpointName": "async-results-demo",
    }
    received = datetime.fromisoformat(first["receivedTime"].replace("Z", "+00:00"))
    event = datetime.fromisoformat(first["eventTime"].replace("Z", "+00:00"))
    assert event - received == timedelta(milliseconds=1500)
    assert abs(datetime.now(UTC) - event) < timedelta(seconds=5)
    assert ISO_MILLIS.match(first["eventTime"])
    assert (first["awsRegion"], first["eventName"], first["eventSource"], first["eventVersion"]) == (
        "us-east-1",
        "InferenceResult",
        "aws:sagemaker",
        "1.0",
    )


def test_optional_request_fields_appear_only_when_given() -> None:
    built = notification(accept="text/csv", custom_attributes="tenant=a")
    assert built["requestParameters"]["accept"] == "text/csv"
    assert built["requestParameters"]["customAttributes"] == "tenant=a"
    assert "inputLocation" not in built["requestParameters"]


@pytest.mark.parametrize(
    ("body", "raw"), [(b"\x00\xff", b"\x00\xff"), ("héllo", "héllo".encode()), ({"a": 1}, b'{"a": 1}')]
)
def test_an_inline_body_is_base64_of_its_bytes_text_or_json(body: Any, raw: bytes) -> None:
    built = notification(body=body)
    assert built["responseBody"] == {
        "content": base64.b64encode(raw).decode(),
        "encoding": "BASE64",
        "message": "Response body is included",
    }
    assert built["responseParameters"] == {"contentType": "application/json"}


def test_no_content_type_without_output_and_extra_fields_are_added_as_given() -> None:
    assert "responseParameters" not in notification(content_type="text/csv")
    assert "responseParameters" not in notification(body=b"x", content_type=None)
    assert notification(extra_field={"x": 1}, eventVersion="2.0")["extra_field"] == {"x": 1}
    assert notification(eventVersion="2.0")["eventVersion"] == "2.0"


def test_the_test_notification_is_sagemakers() -> None:
    assert test_notification() == sample("test_notification.json")


def without_generated(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}


def test_an_sns_event_is_lambdas_sns_event_with_the_message_as_text() -> None:
    expected = sample("sns_event.json")["Records"][0]
    topic = "arn:aws:sns:us-east-1:123456789012:success-topic"
    (record,) = sns_event(documented_success(), topic_arn=topic)["Records"]
    assert without_generated(record, "EventSubscriptionArn", "Sns") == without_generated(
        expected, "EventSubscriptionArn", "Sns"
    )
    assert record["EventSubscriptionArn"].startswith(topic + ":")
    assert UUID.match(record["EventSubscriptionArn"].removeprefix(topic + ":"))
    envelope = record["Sns"]
    assert without_generated(envelope, "MessageId", "Timestamp", "Message") == without_generated(
        expected["Sns"], "MessageId", "Timestamp", "Message"
    )
    assert json.loads(envelope["Message"]) == json.loads(expected["Sns"]["Message"])
    assert sorted(envelope) == sorted(expected["Sns"])
    assert UUID.match(envelope["MessageId"])
    assert ISO_MILLIS.match(envelope["Timestamp"])
    assert sns_event([notification(), "not json"])["Records"][1]["Sns"]["Message"] == "not json"
    assert sns_event(notification())["Records"][0]["Sns"]["TopicArn"] == DEFAULT_TOPIC_ARN


def test_an_sns_envelope_for_sqs_keeps_snss_url_spelling() -> None:
    expected = json.loads(sample("sqs_event_sns_envelope.json")["Records"][0]["body"])
    envelope = sns_envelope(documented_success(), topic_arn=expected["TopicArn"], message_id="m-1")
    assert without_generated(envelope, "Timestamp", "Message", "MessageId") == without_generated(
        expected, "Timestamp", "Message", "MessageId"
    )
    assert list(envelope) == list(expected)
    assert envelope["MessageId"] == "m-1"
    assert UUID.match(sns_envelope("x")["MessageId"])


@pytest.mark.parametrize("raw", [True, False])
def test_an_sqs_event_is_lambdas_sqs_event(raw: bool) -> None:
    name = "sqs_event_raw.json" if raw else "sqs_event_sns_envelope.json"
    expected = sample(name)["Records"][0]
    queue = expected["eventSourceARN"]
    before = int(datetime.now(UTC).timestamp() * 1000)
    records = sqs_event([documented_success(), documented_success()], raw=raw, queue_arn=queue)["Records"]
    first = records[0]
    generated = ("messageId", "receiptHandle", "body", "attributes")
    assert without_generated(first, *generated) == without_generated(expected, *generated)
    assert list(first) == list(expected)
    assert UUID.match(first["messageId"])
    assert first["messageId"] != records[1]["messageId"]
    assert first["receiptHandle"].startswith("AQEB")
    assert first["receiptHandle"] != records[1]["receiptHandle"]
    attributes = first["attributes"]
    assert list(attributes) == list(expected["attributes"])
    assert (attributes["ApproximateReceiveCount"], attributes["SenderId"]) == ("1", "AIDAEXAMPLE")
    assert attributes["SentTimestamp"] == attributes["ApproximateFirstReceiveTimestamp"]
    assert int(attributes["SentTimestamp"]) - before < 5000
    body = json.loads(first["body"])
    message = body if raw else json.loads(body["Message"])
    assert message == documented_success()
    if not raw:
        assert body["Type"] == "Notification"
    assert sqs_event("text", raw=True)["Records"][0]["body"] == "text"
    assert sqs_event(notification())["Records"][0]["eventSourceARN"] == DEFAULT_QUEUE_ARN


def test_a_lambda_context_counts_down_its_timeout_and_names_its_function() -> None:
    context = LambdaContext("fn", timeout_ms=30_000)
    assert 29_000 < context.get_remaining_time_in_millis() <= 30_000
    assert LambdaContext("fn", timeout_ms=-5).get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert (context.function_name, context.function_version, context.memory_limit_in_mb) == (
        "fn",
        "$LATEST",
        512,
    )
    assert (context.log_group_name, context.log_stream_name) == ("/aws/lambda/fn", "local")
    assert UUID.match(context.aws_request_id)
    assert 59_000 < LambdaContext().get_remaining_time_in_millis() <= 60_000
    assert LambdaContext().function_name == "async-results-handler"
    fresh = lambda_context()
    assert fresh.function_name == "async-results-handler"
    assert fresh.aws_request_id != lambda_context().aws_request_id
    assert lambda_context("other").function_name == "other"
