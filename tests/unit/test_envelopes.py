"""Envelope detection and unwrapping for every delivery mode, incl. the generators' events."""

from __future__ import annotations

import json

import pytest

from sagemaker_async_results.runtime.envelopes import (
    detect,
    parse_message,
    sns_record_message,
    unwrap_sqs_body,
)
from sagemaker_async_results.runtime.errors import NotificationError
from sagemaker_async_results.runtime.models import InferenceResultNotification
from sagemaker_async_results.runtime.testing import notification, sns_event, sqs_event
from tests.conftest import load_event


def test_detects_each_event_shape() -> None:
    assert detect(load_event("sns_event.json")) == "sns"
    assert detect(load_event("sqs_event_sns_envelope.json")) == "sqs"
    assert detect(load_event("sqs_event_raw.json")) == "sqs"
    assert detect(load_event("success_documented.json")) == "notification"
    assert detect(sns_event([notification()])) == "sns"
    assert detect(sqs_event([notification()], raw=True)) == "sqs"


def test_records_of_another_source_are_refused() -> None:
    with pytest.raises(NotificationError) as info:
        detect({"Records": [{"eventSource": "aws:s3", "s3": {}}]})
    assert "aws:s3" in str(info.value)
    assert info.value.expected is not None
    assert "SNS" in info.value.expected


def test_sns_record_message() -> None:
    record = load_event("sns_event.json")["Records"][0]
    n = parse_message(sns_record_message(record))
    assert isinstance(n, InferenceResultNotification)
    assert n.inference_id == "11111111-2222-3333-4444-555555555555"


def test_sns_record_without_message() -> None:
    with pytest.raises(NotificationError):
        sns_record_message({"EventSource": "aws:sns", "Sns": {}})


def test_sqs_body_with_sns_envelope_is_unwrapped() -> None:
    body = load_event("sqs_event_sns_envelope.json")["Records"][0]["body"]
    assert unwrap_sqs_body(body)["inferenceId"] == "11111111-2222-3333-4444-555555555555"


def test_sqs_raw_body_is_the_notification() -> None:
    body = load_event("sqs_event_raw.json")["Records"][0]["body"]
    assert unwrap_sqs_body(body)["invocationStatus"] == "Failed"


@pytest.mark.parametrize("raw", [True, False])
def test_generated_sqs_events_round_trip(raw: bool) -> None:
    messages = [notification(inference_id=f"id-{i}") for i in range(3)]
    event = sqs_event(messages, raw=raw)
    assert [unwrap_sqs_body(r["body"])["inferenceId"] for r in event["Records"]] == ["id-0", "id-1", "id-2"]


def test_malformed_json_has_its_own_reason() -> None:
    with pytest.raises(NotificationError) as info:
        unwrap_sqs_body("{not json")
    assert info.value.reason == "MalformedJson"
    assert info.value.received == "{not json"


def test_malformed_message_inside_sns_envelope() -> None:
    body = json.dumps({"Type": "Notification", "Message": "<xml/>"})
    with pytest.raises(NotificationError) as info:
        unwrap_sqs_body(body)
    assert info.value.reason == "MalformedJson"


def test_foreign_message_names_inference_id_when_present() -> None:
    with pytest.raises(NotificationError) as info:
        parse_message({"eventName": "InferenceResult", "inferenceId": "abc", "invocationStatus": "Lost"})
    err = info.value
    assert err.reason == "NotSageMakerMessage"
    assert err.inference_id == "abc"
    assert "invocationStatus" in err.message
    assert err.expected is not None
    assert "InferenceResult" in err.expected


def test_long_received_is_shortened() -> None:
    with pytest.raises(NotificationError) as info:
        parse_message({"junk": "x" * 10_000})
    assert info.value.received is not None
    assert len(info.value.received) < 600
