"""Every message variant of NOTIFICATIONS.md parses; what isn't SageMaker's is rejected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from sagemaker_async_results.runtime.models import (
    InferenceResultNotification,
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
