"""Envelope detection and unwrapping for every delivery mode, incl. the generators' events."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest

from sagemaker_async_results.runtime.envelopes import (
    EXPECTED_EVENT,
    EXPECTED_MESSAGE,
    EventKind,
    detect,
    load_json,
    parse_message,
    sns_record_message,
    sqs_item,
    unwrap_sqs_body,
)
from sagemaker_async_results.runtime.errors import NotificationError
from sagemaker_async_results.runtime.models import InferenceResultNotification, TestNotification
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


def test_event_kind_lists_exactly_what_detect_returns() -> None:
    events = [
        sns_event([notification()]),
        sqs_event([notification()], raw=True),
        notification(),
    ]
    assert [detect(e) for e in events] == list(get_args(EventKind))
    assert get_args(EventKind) == ("sns", "sqs", "notification")


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ({"Records": []}, "sns"),  # nothing to do either way
        ({"Records": [1, "x", None]}, "sns"),  # no record is an object: each fails on its own
        ({"Records": [7, {"EventSource": "aws:sqs"}]}, "sqs"),  # the first object decides
        ({"Records": [{"EventSource": "aws:sns"}]}, "sns"),  # Lambda's SNS spelling
        ({"Records": [{"eventSource": "aws:sns"}]}, "sns"),
        ({"Records": [{"eventSource": "aws:sqs"}]}, "sqs"),  # Lambda's SQS spelling
        ({"Records": [{"EventSource": "aws:sqs"}]}, "sqs"),
        ({"Records": [{"EventSource": "", "eventSource": "aws:sqs"}]}, "sqs"),
        ({"Records": [{"Sns": {}}]}, "sns"),  # no source: the record's shape decides
        ({"Records": [{"body": "{}"}]}, "sqs"),
        ({"Records": [{"eventSource": "aws:sqs", "Sns": {}}]}, "sns"),
        ({"Records": "not a list"}, "notification"),
        ({"Records": {"0": {}}}, "notification"),
        ([{"Records": []}], "notification"),
        ("text", "notification"),
    ],
)
def test_detect_by_source_then_by_shape(event: Any, kind: str) -> None:
    assert detect(event) == kind


def test_unsupported_source_error_fields() -> None:
    record = {"eventSource": "aws:s3", "s3": {}}
    with pytest.raises(NotificationError) as info:
        detect({"Records": [record]})
    err = info.value
    assert err.message == "unsupported event source 'aws:s3'"
    assert err.reason == "NotSageMakerMessage"
    assert err.received == repr(record)
    assert err.expected == EXPECTED_EVENT
    assert EXPECTED_EVENT == "a Lambda SNS event, a Lambda SQS event, or a bare SageMaker notification"


def test_record_without_any_source_or_shape_is_refused() -> None:
    with pytest.raises(NotificationError) as info:
        detect({"Records": [{"other": 1}]})
    assert info.value.message == "unsupported event source None"


@pytest.mark.parametrize(
    "record",
    [
        {"Sns": {"Message": {"eventName": "TestNotification"}}},  # not text
        {"Sns": {}},
        {"Sns": "Message"},
        {"Sns": None},
        {},
        ["Sns"],
        None,
    ],
)
def test_sns_record_without_text_message_error_fields(record: Any) -> None:
    with pytest.raises(NotificationError) as info:
        sns_record_message(record)
    err = info.value
    assert err.message == "SNS record without Sns.Message"
    assert err.reason == "NotSageMakerMessage"
    assert err.received == repr(record)
    assert err.expected == "a Lambda SNS record"


def test_sns_record_message_returns_the_text_verbatim() -> None:
    assert sns_record_message({"Sns": {"Message": ""}}) == ""
    assert sns_record_message({"Sns": {"Message": "{not json"}}) == "{not json"


def test_load_json_passes_decoded_values_through_and_parses_text_and_bytes() -> None:
    value = {"a": [1]}
    assert load_json(value, what="x") is value
    assert load_json(None, what="x") is None
    assert load_json('{"a": [1]}', what="x") == {"a": [1]}
    assert load_json(b'{"a": [1]}', what="x") == {"a": [1]}
    assert load_json('"text"', what="x") == "text"


def test_load_json_error_names_what_and_the_problem() -> None:
    with pytest.raises(NotificationError) as info:
        load_json("{not json", what="The thing")
    err = info.value
    assert err.message == (
        "The thing is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
    assert err.reason == "MalformedJson"
    assert err.received == "{not json"
    assert err.expected == "JSON text (UTF-8), nested at most a few hundred levels"


def test_load_json_too_deep_is_malformed_not_a_crash() -> None:
    text = "[" * 100_000
    with pytest.raises(NotificationError) as info:
        load_json(text, what="Deep")
    err = info.value
    assert err.message == "Deep is not valid JSON: nested deeper than the parser's recursion limit"
    assert err.reason == "MalformedJson"


def test_load_json_bytes_that_are_not_unicode() -> None:
    with pytest.raises(NotificationError) as info:
        load_json(b"\xff\xfe\xfd", what="Bytes")
    assert info.value.reason == "MalformedJson"
    assert info.value.message.startswith("Bytes is not valid JSON: 'utf-16-le' codec can't decode")


def test_malformed_sqs_body_and_inner_message_are_named() -> None:
    with pytest.raises(NotificationError) as outer:
        unwrap_sqs_body("{not json")
    assert outer.value.message.startswith("SQS message body is not valid JSON: ")
    with pytest.raises(NotificationError) as inner:
        unwrap_sqs_body(json.dumps({"Type": "Notification", "Message": "<xml/>"}))
    assert inner.value.message.startswith("SNS Message (inside the SQS body) is not valid JSON: ")
    assert inner.value.received == "<xml/>"


@pytest.mark.parametrize(
    "body",
    [
        {"Type": "Notification"},  # no Message: not an SNS envelope
        {"Type": "SubscriptionConfirmation", "Message": "{}"},
        {"Message": "{}"},
        ["Type", "Notification", "Message"],
    ],
)
def test_sqs_body_that_is_not_an_sns_envelope_is_the_message(body: Any) -> None:
    assert unwrap_sqs_body(json.dumps(body)) == body
    assert unwrap_sqs_body(body) == body  # already decoded


def test_sns_envelope_with_decoded_message() -> None:
    inner = {"eventName": "TestNotification"}
    assert unwrap_sqs_body({"Type": "Notification", "Message": inner}) == inner
    assert unwrap_sqs_body(json.dumps({"Type": "Notification", "Message": json.dumps(inner)})) == inner


def test_sqs_item_of_a_good_record_extracts_its_body() -> None:
    message = notification(inference_id="abc")
    record = sqs_event([message], raw=False)["Records"][0]
    item_id, extract = sqs_item(record)
    assert item_id == record["messageId"]
    assert extract() == message
    raw_id, raw_extract = sqs_item({"messageId": "m", "body": json.dumps(message)})
    assert (raw_id, raw_extract()) == ("m", message)


@pytest.mark.parametrize("record", [None, 7, ["messageId", "m-1"]])
def test_sqs_record_that_is_not_an_object(record: Any) -> None:
    item_id, extract = sqs_item(record)
    assert item_id is None
    with pytest.raises(NotificationError) as info:
        extract()
    err = info.value
    assert err.message == "SQS record is not an object"
    assert err.reason == "MalformedRecord"
    assert err.received == repr(record)
    assert err.expected == "a Lambda SQS record: {messageId, body, ...}"


@pytest.mark.parametrize(
    "record",
    [
        {"body": "{}"},
        {"body": "{}", "messageId": ""},
        {"body": "{}", "messageId": 7},
        {"body": "{}", "messageId": ["m"]},
        {"MessageId": "m", "body": "{}"},
    ],
)
def test_sqs_record_without_message_id(record: Any) -> None:
    item_id, extract = sqs_item(record)
    assert item_id is None
    with pytest.raises(NotificationError) as info:
        extract()
    err = info.value
    assert err.message == "SQS record without messageId: it cannot be named in a partial batch response"
    assert err.reason == "MalformedRecord"
    assert err.received == repr(record)
    assert err.expected == "a Lambda SQS record with a non-empty messageId"


def test_sqs_item_does_not_read_the_body_until_asked() -> None:
    item_id, extract = sqs_item({"messageId": "m", "body": "{not json"})
    assert item_id == "m"
    with pytest.raises(NotificationError) as info:
        extract()
    assert info.value.reason == "MalformedJson"


def test_parse_message_accepts_text_bytes_and_decoded() -> None:
    message = notification(inference_id="abc")
    for form in (message, json.dumps(message), json.dumps(message).encode()):
        parsed = parse_message(form)
        assert isinstance(parsed, InferenceResultNotification)
        assert parsed.inference_id == "abc"
    assert isinstance(parse_message('{"eventName": "TestNotification"}'), TestNotification)


def test_parse_message_malformed_text_names_the_sns_message() -> None:
    with pytest.raises(NotificationError) as info:
        parse_message("{not json")
    assert info.value.reason == "MalformedJson"
    assert info.value.message.startswith("SNS Message is not valid JSON: ")


def test_foreign_message_error_fields() -> None:
    message = {"eventName": "InferenceResult", "inferenceId": "abc", "invocationStatus": "Lost"}
    with pytest.raises(NotificationError) as info:
        parse_message(message)
    err = info.value
    assert err.message == (
        "not a SageMaker async inference notification "
        "(InferenceResult.invocationStatus: Input should be 'Completed' or 'Failed')"
    )
    assert err.received == repr(message)
    assert err.expected == EXPECTED_MESSAGE
    assert EXPECTED_MESSAGE == (
        'a SageMaker notification: {"eventName": "InferenceResult", "inferenceId": ..., '
        '"invocationStatus": "Completed"|"Failed", ...} or {"eventName": "TestNotification"}'
    )
    assert err.__cause__ is None
    assert err.__suppress_context__


@pytest.mark.parametrize("message", [5, [], "[]", '"text"'])
def test_message_that_is_not_an_object_is_named_as_the_message(message: Any) -> None:
    with pytest.raises(NotificationError) as info:
        parse_message(message)
    err = info.value
    assert err.message == (
        "not a SageMaker async inference notification "
        "((message): Input should be a valid dictionary or object to extract fields from)"
    )
    assert err.inference_id is None


@pytest.mark.parametrize("inference_id", [5, None, ["abc"]])
def test_inference_id_that_is_not_text_is_not_reported(inference_id: Any) -> None:
    message = {"eventName": "InferenceResult", "inferenceId": inference_id, "invocationStatus": "Failed"}
    with pytest.raises(NotificationError) as info:
        parse_message(message)
    assert info.value.inference_id is None
    assert "InferenceResult.inferenceId: " in info.value.message


def test_at_most_five_problems_are_listed() -> None:
    message = {
        "eventName": "InferenceResult",
        "inferenceId": "abc",
        "invocationStatus": "x",
        "eventSource": "y",
        "eventTime": "z",
        "receivedTime": "w",
        "failureReason": 1,
        "awsRegion": 2,
    }
    with pytest.raises(NotificationError) as info:
        parse_message(message)
    err = info.value
    problems = err.message.removeprefix("not a SageMaker async inference notification (").removesuffix(")")
    listed = problems.split("; ")
    assert [p.split(": ")[0] for p in listed] == [
        "InferenceResult.invocationStatus",
        "InferenceResult.eventSource",
        "InferenceResult.awsRegion",
        "InferenceResult.eventTime",
        "InferenceResult.receivedTime",
    ]
    assert err.inference_id == "abc"
