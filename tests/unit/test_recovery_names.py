"""Recovery without AWS: SageMaker's object names, and the notification rebuilt from what exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.recovery import (
    RecoveredObject,
    RecoverySettings,
    build_notification,
    parse_result_key,
)
from sagemaker_async_results.runtime.settings import S3Prefix

SETTINGS = RecoverySettings(
    output_location=S3Prefix.parse("s3://bucket/async/outputs/"),
    failure_location=S3Prefix.parse("s3://bucket/async/failures/"),
    results_table="results",
    endpoint_name="scorer",
)


@pytest.mark.parametrize(
    ("key", "inference_id", "status"),
    [
        ("async/outputs/abc.out", "abc", "Completed"),
        ("async/outputs/abc-error.out", "abc-error", "Completed"),  # under the output prefix: a success
        ("async/failures/abc-error.out", "abc", "Failed"),
        ("async/outputs/" + "x" * 64 + ".out", "x" * 64, "Completed"),
        ("async/outputs/a b+c.out", "a b+c", "Completed"),
    ],
)
def test_sagemaker_object_names(key: str, inference_id: str, status: str) -> None:
    assert parse_result_key(SETTINGS, "bucket", key) == RecoveredObject(inference_id, status, "bucket", key)  # type: ignore[arg-type]


NOT_AN_ID = "is not an inference ID (1-64 characters, no '/')"
OUTSIDE = "outside s3://bucket/async/outputs/ and s3://bucket/async/failures/"


@pytest.mark.parametrize(
    ("bucket", "key", "why"),
    [
        ("bucket", "async/outputs/abc.json", "not named <inference id>.out under s3://bucket/async/outputs/"),
        ("bucket", "async/outputs/.out", f"'' {NOT_AN_ID}"),
        ("bucket", "async/outputs/" + "x" * 65 + ".out", f"'{'x' * 65}' {NOT_AN_ID}"),
        ("bucket", "async/outputs/day/abc.out", f"'day/abc' {NOT_AN_ID}"),
        (
            "bucket",
            "async/failures/abc.out",
            "not named <inference id>-error.out under s3://bucket/async/failures/",
        ),
        ("bucket", "async/outputs-old/abc.out", OUTSIDE),
        ("other", "async/outputs/abc.out", OUTSIDE),
    ],
)
def test_foreign_names_say_why(bucket: str, key: str, why: str) -> None:
    assert parse_result_key(SETTINGS, bucket, key) == why


def _item(**values: str) -> dict[str, Any]:
    return {name: {"S": value} for name, value in values.items()}


def test_recovered_success_carries_what_exists_and_parses_as_a_notification() -> None:
    obj = RecoveredObject("abc", "Completed", "bucket", "async/outputs/abc.out")
    record = _item(
        submittedAt="2026-11-23T10:00:00+00:00",
        inputLocation="s3://bucket/async/inputs/abc.in",
        customAttributes="taskToken=t1;tenant=acme",
        requestContentType="application/json",
        accept="application/json",
        endpointName="scorer-blue",
    )
    written = datetime(2026, 11, 23, 10, 0, 4, 500000, tzinfo=timezone(timedelta(hours=1)))
    head = {"ContentType": "application/json", "LastModified": written}

    message = build_notification(obj, record, head, SETTINGS, region="eu-west-1")

    parsed = parse_notification(message)
    assert isinstance(parsed, InferenceResultNotification)
    assert parsed.invocation_status == "Completed"
    assert parsed.aws_region == "eu-west-1"
    assert parsed.event_time == written.astimezone(UTC)
    assert parsed.received_time == datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parsed.request_parameters.endpoint_name == "scorer-blue"  # the record's, before the function's
    assert parsed.request_parameters.custom_attributes == "taskToken=t1;tenant=acme"
    assert parsed.request_parameters.input_location == "s3://bucket/async/inputs/abc.in"
    assert parsed.request_parameters.content_type == "application/json"
    assert parsed.response_parameters is not None
    assert parsed.response_parameters.output_location == "s3://bucket/async/outputs/abc.out"
    assert parsed.response_parameters.content_type == "application/json"
    assert parsed.failure_reason is None
    assert parsed.response_body is None  # never inline: handlers read the object
    assert message["recovered"] is True
    assert parsed.model_extra == {"recovered": True}


def test_recovered_failure_without_a_record_says_what_is_unknown() -> None:
    obj = RecoveredObject("abc", "Failed", "bucket", "async/failures/abc-error.out")

    message = build_notification(obj, {}, {}, SETTINGS)

    parsed = parse_notification(message)
    assert isinstance(parsed, InferenceResultNotification)
    assert parsed.invocation_status == "Failed"
    assert parsed.failure_reason == contract.RECOVERED_FAILURE_REASON
    assert parsed.response_parameters is not None
    assert parsed.response_parameters.failure_location == "s3://bucket/async/failures/abc-error.out"
    assert parsed.request_parameters.endpoint_name == "scorer"  # the function's environment
    assert parsed.received_time is None
    assert parsed.event_time is None
    assert parsed.request_parameters.custom_attributes is None


def test_recovered_success_is_exactly_what_sagemaker_would_have_sent() -> None:
    obj = RecoveredObject("abc", "Completed", "bucket", "async/outputs/abc.out")
    record = _item(
        submittedAt="2026-11-23T10:00:00.000Z",
        inputLocation="s3://bucket/async/inputs/abc.in",
        customAttributes="tenant=acme",
        requestContentType="text/csv",
        accept="application/json",
    )
    head = {"ContentType": "application/json", "LastModified": datetime(2026, 11, 23, 10, 0, 4, tzinfo=UTC)}
    assert build_notification(obj, record, head, SETTINGS, region="eu-west-1") == {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "awsRegion": "eu-west-1",
        "inferenceId": "abc",
        "invocationStatus": "Completed",
        "eventTime": "2026-11-23T10:00:04.000Z",
        "receivedTime": "2026-11-23T10:00:00.000Z",
        "requestParameters": {
            "endpointName": "scorer",
            "inputLocation": "s3://bucket/async/inputs/abc.in",
            "customAttributes": "tenant=acme",
            "contentType": "text/csv",
            "accept": "application/json",
        },
        "responseParameters": {
            "contentType": "application/json",
            "outputLocation": "s3://bucket/async/outputs/abc.out",
        },
        "recovered": True,
    }


def test_recovered_failure_without_a_record_or_an_endpoint_is_exactly_this() -> None:
    obj = RecoveredObject("abc", "Failed", "bucket", "async/failures/abc-error.out")
    settings = RecoverySettings(
        output_location=SETTINGS.output_location,
        failure_location=SETTINGS.failure_location,
        results_table="t",
    )
    assert (settings.endpoint_name, settings.require_submitted_record) == ("", True)
    assert build_notification(obj, {}, {}, settings) == {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "inferenceId": "abc",
        "invocationStatus": "Failed",
        "requestParameters": {},
        "responseParameters": {"failureLocation": "s3://bucket/async/failures/abc-error.out"},
        "recovered": True,
        "failureReason": contract.RECOVERED_FAILURE_REASON,
    }
