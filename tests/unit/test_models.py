"""Every message variant of NOTIFICATIONS.md parses; what isn't SageMaker's is rejected."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from sagemaker_async_results.runtime.models import (
    InferenceResultNotification,
    RequestParameters,
    ResponseBody,
    ResponseParameters,
    TestNotification,
    parse_notification,
)
from tests.conftest import load_event


def test_documented_success_example() -> None:
    n = parse_notification(load_event("success_documented.json"))
    assert isinstance(n, InferenceResultNotification)
    assert n.invocation_status == "Completed"
    assert n.inference_id == "11111111-2222-3333-4444-555555555555"
    assert n.request_parameters.endpoint_name == "demo-endpoint"
    assert n.request_parameters.input_location.endswith("input-data.csv")  # type: ignore[union-attr]
    assert n.response_parameters is not None
    assert n.response_parameters.content_type == "text/csv; charset=utf-8"
    assert n.response_parameters.output_location.endswith("prediction.out")  # type: ignore[union-attr]
    assert n.event_time is not None
    assert n.received_time is not None
    assert n.event_time - n.received_time == timedelta(milliseconds=153)


def test_accept_and_custom_attributes() -> None:
    n = parse_notification(load_event("success_custom_attributes.json"))
    assert isinstance(n, InferenceResultNotification)
    assert n.request_parameters.accept == "application/json"
    assert n.request_parameters.custom_attributes == "taskToken=AAAAKgAAAAIAAAAAAAAAAQ==;tenant=acme"


def test_failure_without_response_parameters() -> None:
    n = parse_notification(load_event("failure_no_response_parameters.json"))
    assert isinstance(n, InferenceResultNotification)
    assert n.invocation_status == "Failed"
    assert n.response_parameters is None
    assert n.failure_reason is not None
    assert n.failure_reason.startswith("ClientError: Received server error (500)")


def test_failure_with_failure_location() -> None:
    n = parse_notification(load_event("failure_with_location.json"))
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters is not None
    assert n.response_parameters.failure_location == (
        "s3://async-results-test-bucket/async-inference/failures/55.out"
    )


def test_inline_response_body() -> None:
    n = parse_notification(load_event("success_inline_body.json"))
    assert isinstance(n, InferenceResultNotification)
    assert n.response_body is not None
    assert n.response_body.encoding == "BASE64"
    assert n.response_body.message == "Response body is included"


def test_test_notification() -> None:
    n = parse_notification(load_event("test_notification.json"))
    assert isinstance(n, TestNotification)


def test_unknown_fields_are_kept_at_every_level() -> None:
    n = parse_notification(load_event("success_extra_fields.json"))
    assert isinstance(n, InferenceResultNotification)
    dumped = n.model_dump(by_alias=True)
    assert dumped["someFutureField"] == {"nested": True}
    assert dumped["requestParameters"]["newRequestField"] == "x"


def test_only_required_fields() -> None:
    n = parse_notification({"eventName": "InferenceResult", "inferenceId": "x", "invocationStatus": "Failed"})
    assert isinstance(n, InferenceResultNotification)
    assert n.request_parameters.endpoint_name is None
    assert n.event_time is None
    assert n.failure_reason is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"invocationStatus": "Expired"}, "invocationStatus"),
        ({"eventName": "ObjectCreated:Put"}, "eventName"),
        ({"eventSource": "aws:s3"}, "eventSource"),
        ({"inferenceId": ""}, "inferenceId"),
        ({"eventTime": "yesterday"}, "eventTime"),
    ],
)
def test_rejects_what_is_not_sagemakers(change: dict[str, str], field: str) -> None:
    message = {**load_event("success_documented.json"), **change}
    with pytest.raises(ValidationError) as info:
        parse_notification(message)
    assert field in str(info.value)


def test_missing_event_name_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_notification({"inferenceId": "x", "invocationStatus": "Completed"})


MINIMAL = {"eventName": "InferenceResult", "inferenceId": "x", "invocationStatus": "Failed"}


def test_every_optional_field_defaults_to_none() -> None:
    n = parse_notification(MINIMAL)
    assert isinstance(n, InferenceResultNotification)
    assert (n.event_source, n.event_version, n.aws_region, n.event_time, n.received_time) == (None,) * 5
    assert (n.response_parameters, n.response_body, n.failure_reason) == (None, None, None)
    assert n.request_parameters == RequestParameters()
    request = n.request_parameters
    assert (
        request.endpoint_name,
        request.content_type,
        request.accept,
        request.custom_attributes,
        request.input_location,
    ) == (None,) * 5
    response = ResponseParameters()
    assert (response.content_type, response.output_location, response.failure_location) == (None,) * 3
    body = ResponseBody()
    assert (body.content, body.encoding, body.message) == (None,) * 3
    test = parse_notification({"eventName": "TestNotification"})
    assert isinstance(test, TestNotification)
    assert (test.event_source, test.event_version) == (None, None)


def test_request_parameters_default_is_not_shared() -> None:
    a = parse_notification(MINIMAL)
    b = parse_notification({**MINIMAL, "requestParameters": {"endpointName": "e"}})
    assert isinstance(a, InferenceResultNotification)
    assert isinstance(b, InferenceResultNotification)
    assert (a.request_parameters.endpoint_name, b.request_parameters.endpoint_name) == (None, "e")


def test_every_field_reads_its_camel_case_name() -> None:
    n = parse_notification(
        {
            **MINIMAL,
            "eventSource": "aws:sagemaker",
            "eventVersion": "1.0",
            "awsRegion": "eu-west-1",
            "eventTime": "2024-01-01T00:00:01Z",
            "receivedTime": "2024-01-01T00:00:00Z",
            "failureReason": "why",
            "requestParameters": {
                "endpointName": "e",
                "contentType": "c",
                "accept": "a",
                "customAttributes": "k=v",
                "inputLocation": "s3://b/in",
            },
            "responseParameters": {
                "contentType": "rc",
                "outputLocation": "s3://b/o",
                "failureLocation": "s3://b/f",
            },
            "responseBody": {"content": "Ym9keQ==", "encoding": "BASE64", "message": "m"},
        }
    )
    assert isinstance(n, InferenceResultNotification)
    assert (n.event_source, n.event_version, n.aws_region, n.failure_reason) == (
        "aws:sagemaker",
        "1.0",
        "eu-west-1",
        "why",
    )
    assert n.event_time is not None
    assert n.received_time is not None
    assert (n.event_time - n.received_time).total_seconds() == 1
    r = n.request_parameters
    assert (r.endpoint_name, r.content_type, r.accept, r.custom_attributes, r.input_location) == (
        "e",
        "c",
        "a",
        "k=v",
        "s3://b/in",
    )
    assert n.response_parameters == ResponseParameters(
        content_type="rc", output_location="s3://b/o", failure_location="s3://b/f"
    )
    assert n.response_body == ResponseBody(content="Ym9keQ==", encoding="BASE64", message="m")


def test_snake_case_names_are_accepted_too() -> None:
    n = parse_notification(
        {
            "event_name": "InferenceResult",
            "inference_id": "x",
            "invocation_status": "Completed",
            "request_parameters": {"endpoint_name": "e"},
        }
    )
    assert isinstance(n, InferenceResultNotification)
    assert (n.inference_id, n.request_parameters.endpoint_name) == ("x", "e")


def test_notifications_are_immutable() -> None:
    n = parse_notification(MINIMAL)
    with pytest.raises(ValidationError, match="frozen"):
        n.inference_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        n.request_parameters.endpoint_name = "other"  # type: ignore[misc]


def test_unknown_fields_are_kept_in_response_parameters_and_body() -> None:
    n = parse_notification(
        {
            **MINIMAL,
            "responseParameters": {"newResponseField": 1},
            "responseBody": {"newBodyField": 2},
        }
    )
    dumped = n.model_dump(by_alias=True)
    assert dumped["responseParameters"]["newResponseField"] == 1
    assert dumped["responseBody"]["newBodyField"] == 2
    assert parse_notification({"eventName": "TestNotification", "x": 3}).model_dump()["x"] == 3


@pytest.mark.parametrize(("length", "valid"), [(1, True), (64, True), (65, False), (0, False)])
def test_inference_id_length_limits(length: int, valid: bool) -> None:
    message = {**MINIMAL, "inferenceId": "i" * length}
    if valid:
        n = parse_notification(message)
        assert isinstance(n, InferenceResultNotification)
        assert n.inference_id == "i" * length
    else:
        with pytest.raises(ValidationError, match="inferenceId"):
            parse_notification(message)


@pytest.mark.parametrize("status", ["Completed", "Failed"])
def test_both_statuses(status: str) -> None:
    n = parse_notification({**MINIMAL, "invocationStatus": status})
    assert isinstance(n, InferenceResultNotification)
    assert n.invocation_status == status


@pytest.mark.parametrize(
    "change",
    [
        {"failureReason": "bad \udfff text"},
        {"requestParameters": {"customAttributes": "k=\ud800"}},
        {"responseParameters": {"outputLocation": "s3://b/\ud800"}},
        {"responseBody": {"content": "\ud800"}},
    ],
)
def test_lone_surrogates_are_refused_in_every_model(change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as info:
        parse_notification({**MINIMAL, **change})
    (error,) = info.value.errors()
    assert error["msg"].startswith("Value error, text is not valid Unicode (surrogates not allowed at ")


def test_surrogate_error_names_its_position() -> None:
    with pytest.raises(ValidationError) as info:
        parse_notification({**MINIMAL, "failureReason": "ab\ud800"})
    assert (
        info.value.errors()[0]["msg"]
        == "Value error, text is not valid Unicode (surrogates not allowed at 2)"
    )
    assert parse_notification({**MINIMAL, "failureReason": "é ✓ 😀"}).failure_reason == "é ✓ 😀"  # type: ignore[union-attr]


def test_top_level_failure_location_moves_into_response_parameters() -> None:
    n = parse_notification({**MINIMAL, "failureLocation": "s3://b/f"})
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters == ResponseParameters(failure_location="s3://b/f")


def test_top_level_failure_location_keeps_the_other_response_parameters() -> None:
    n = parse_notification(
        {**MINIMAL, "failureLocation": "s3://b/f", "responseParameters": {"contentType": "text/plain"}}
    )
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters == ResponseParameters(content_type="text/plain", failure_location="s3://b/f")


@pytest.mark.parametrize("inner", [{"failureLocation": "s3://b/inner"}, {"failure_location": "s3://b/inner"}])
def test_response_parameters_failure_location_wins(inner: dict[str, str]) -> None:
    n = parse_notification({**MINIMAL, "failureLocation": "s3://b/top", "responseParameters": inner})
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters is not None
    assert n.response_parameters.failure_location == "s3://b/inner"


def test_empty_inner_failure_location_is_replaced_by_the_top_level_one() -> None:
    n = parse_notification(
        {**MINIMAL, "failureLocation": "s3://b/top", "responseParameters": {"failureLocation": ""}}
    )
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters is not None
    assert n.response_parameters.failure_location == "s3://b/top"


def test_top_level_failure_location_that_is_not_text_is_ignored() -> None:
    n = parse_notification({**MINIMAL, "failureLocation": 7})
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters is None


def test_response_parameters_that_are_not_an_object_still_fail_without_a_top_level_location() -> None:
    with pytest.raises(ValidationError):
        parse_notification({**MINIMAL, "responseParameters": "s3://b/o"})
    n = parse_notification({**MINIMAL, "responseParameters": "s3://b/o", "failureLocation": "s3://b/f"})
    assert isinstance(n, InferenceResultNotification)
    assert n.response_parameters == ResponseParameters(failure_location="s3://b/f")


def test_validating_a_model_object_directly() -> None:
    n = InferenceResultNotification.model_validate(
        InferenceResultNotification(
            event_name="InferenceResult", inference_id="x", invocation_status="Failed"
        )
    )
    assert n.inference_id == "x"


def test_test_notification_is_not_collected_by_pytest() -> None:
    assert TestNotification.__test__ is False


def test_test_notification_fields() -> None:
    n = parse_notification(load_event("test_notification.json"))
    assert isinstance(n, TestNotification)
    assert (n.event_name, n.event_source) == ("TestNotification", "aws:sagemaker")
    assert n.event_version is not None
