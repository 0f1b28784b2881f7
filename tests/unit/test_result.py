"""The result object: attributes, timings, record fields, lazy payload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult, parse_custom_attributes
from sagemaker_async_results.runtime.testing import notification
from tests.conftest import load_event


def make(message: dict[str, Any], inline: bytes | None = None) -> InferenceResult:
    n = parse_notification(message)
    assert isinstance(n, InferenceResultNotification)

    def no_s3() -> Any:
        raise AssertionError("no S3 expected")

    return InferenceResult(
        n, Payload(inline=inline, location=None, guard=LocationGuard(()), s3_client=no_s3, max_bytes=1000)
    )


def test_custom_attributes_parsing_keeps_equals_in_values() -> None:
    attrs = parse_custom_attributes("taskToken=AAAA==; tenant = acme ;flag;")
    assert dict(attrs) == {"taskToken": "AAAA==", "tenant": "acme", "flag": ""}
    assert dict(parse_custom_attributes(None)) == {}


def test_fields_from_the_documented_example() -> None:
    r = make(load_event("success_documented.json"))
    assert (r.inference_id, r.endpoint_name, r.status, r.succeeded) == (
        "11111111-2222-3333-4444-555555555555",
        "demo-endpoint",
        "Completed",
        True,
    )
    assert r.latency == timedelta(milliseconds=153)
    assert r.content_type == "text/csv; charset=utf-8"
    assert r.failure_location is None


def test_record_fields_are_camel_case_and_skip_unknowns() -> None:
    record = make(load_event("failure_no_response_parameters.json")).to_record()
    assert record == {
        "inferenceId": "44444444-2222-3333-4444-555555555555",
        "status": "Failed",
        "endpointName": "demo-endpoint",
        "failureReason": record["failureReason"],
        "receivedTime": "2022-01-25T22:46:59.900Z",
        "eventTime": "2022-01-25T22:47:10.100Z",
        "latencyMs": 10200,
    }


def test_body_helpers_decode_by_content_type() -> None:
    r = make(notification(content_type="text/csv", body="a,b\n1,2\n"), inline=b"a,b\n1,2\n")
    assert r.body() == [["a", "b"], ["1", "2"]]
    assert r.text() == "a,b\n1,2\n"
    assert r.raw() == b"a,b\n1,2\n"
    assert r.open().read() == b"a,b\n1,2\n"
