"""The result object: attributes, timings, record fields, lazy payload."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sagemaker_async_results.runtime.errors import DecodeError, PayloadTooLargeError
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult, parse_custom_attributes
from sagemaker_async_results.runtime.settings import S3Prefix
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


class S3:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[str] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("HeadObject")
        return {"ContentLength": len(self.data)}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("GetObject")
        return {"ContentLength": len(self.data), "Body": io.BytesIO(self.data)}


def from_s3(
    message: dict[str, Any], data: bytes, location: str | None = "s3://b/out/x"
) -> tuple[InferenceResult, S3]:
    n = parse_notification(message)
    assert isinstance(n, InferenceResultNotification)
    s3 = S3(data)
    payload = Payload(
        inline=None,
        location=location,
        guard=LocationGuard([S3Prefix("b", "out/")]),
        s3_client=lambda: s3,  # type: ignore[arg-type,return-value]
        max_bytes=100,
        inference_id=n.inference_id,
    )
    return InferenceResult(n, payload), s3


MINIMAL = {"eventName": "InferenceResult", "inferenceId": "i-1", "invocationStatus": "Failed"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        (";;", {}),
        ("=v;  =w", {}),  # no key
        (" k = v ", {"k": "v"}),
        ("a=1;a=2", {"a": "2"}),
        ("k==", {"k": "="}),
        ("a=1,b=2", {"a": "1,b=2"}),
    ],
)
def test_custom_attributes_edge_cases(raw: str, expected: dict[str, str]) -> None:
    assert dict(parse_custom_attributes(raw)) == expected


def test_attributes_are_read_only_and_parsed_from_the_request() -> None:
    r = make({**MINIMAL, "requestParameters": {"customAttributes": "tenant=acme;taskToken=a=b"}})
    assert dict(r.attributes) == {"tenant": "acme", "taskToken": "a=b"}
    assert r.custom_attributes == "tenant=acme;taskToken=a=b"
    with pytest.raises(TypeError):
        r.attributes["tenant"] = "x"  # type: ignore[index]


def test_every_property_of_a_full_message() -> None:
    r = make(
        {
            **MINIMAL,
            "invocationStatus": "Completed",
            "eventTime": "2024-01-01T00:00:02.500Z",
            "receivedTime": "2024-01-01T00:00:00Z",
            "requestParameters": {
                "endpointName": "e",
                "accept": "application/json",
                "inputLocation": "s3://b/in/x",
                "customAttributes": "k=v",
            },
            "responseParameters": {
                "contentType": "text/plain",
                "outputLocation": "s3://b/out/x",
                "failureLocation": "s3://b/fail/x",
            },
        }
    )
    assert (r.inference_id, r.endpoint_name, r.status, r.succeeded) == ("i-1", "e", "Completed", True)
    assert (r.output_location, r.failure_location, r.failure_reason) == (
        "s3://b/out/x",
        "s3://b/fail/x",
        None,
    )
    assert (r.content_type, r.accept, r.input_location) == ("text/plain", "application/json", "s3://b/in/x")
    assert r.received_time == datetime(2024, 1, 1, tzinfo=UTC)
    assert r.event_time == datetime(2024, 1, 1, 0, 0, 2, 500_000, tzinfo=UTC)
    assert r.latency == timedelta(seconds=2.5)
    assert r.to_record() == {
        "inferenceId": "i-1",
        "status": "Completed",
        "endpointName": "e",
        "outputLocation": "s3://b/out/x",
        "failureLocation": "s3://b/fail/x",
        "contentType": "text/plain",
        "receivedTime": "2024-01-01T00:00:00.000Z",
        "eventTime": "2024-01-01T00:00:02.500Z",
        "latencyMs": 2500,
        "customAttributes": "k=v",
    }


def test_a_minimal_failure() -> None:
    r = make({**MINIMAL, "failureReason": "boom"})
    assert (r.endpoint_name, r.status, r.succeeded, r.failure_reason) == ("", "Failed", False, "boom")
    assert (r.output_location, r.failure_location, r.content_type) == (None, None, None)
    assert (r.accept, r.input_location, r.custom_attributes) == (None, None, None)
    assert (r.received_time, r.event_time, r.latency) == (None, None, None)
    assert dict(r.attributes) == {}
    assert not r.has_payload
    assert r.payload_location is None
    assert r.to_record() == {"inferenceId": "i-1", "status": "Failed", "failureReason": "boom"}
    assert repr(r) == "InferenceResult(inference_id='i-1', endpoint_name='', status='Failed')"


@pytest.mark.parametrize(
    ("times", "latency"),
    [
        ({"eventTime": "2024-01-01T00:00:01Z"}, None),
        ({"receivedTime": "2024-01-01T00:00:01Z"}, None),
        ({"eventTime": "2024-01-01T00:00:01", "receivedTime": "2024-01-01T00:00:00Z"}, timedelta(seconds=1)),
        ({"eventTime": "2024-01-01T00:00:01Z", "receivedTime": "2024-01-01T00:00:00"}, timedelta(seconds=1)),
        (
            {"eventTime": "2024-01-01T02:00:01+02:00", "receivedTime": "2024-01-01T00:00:00"},
            timedelta(seconds=1),
        ),
        (
            {"eventTime": "2024-01-01T00:00:00.0019Z", "receivedTime": "2024-01-01T00:00:00Z"},
            timedelta(microseconds=1900),
        ),
    ],
)
def test_latency_takes_a_time_without_offset_as_utc(times: dict[str, str], latency: timedelta | None) -> None:
    r = make({**MINIMAL, **times})
    assert r.latency == latency
    expected_ms = None if latency is None else int(latency.total_seconds() * 1000)
    assert r.to_record().get("latencyMs") == expected_ms


def test_record_times_keep_a_non_utc_offset_and_milliseconds() -> None:
    r = make(
        {**MINIMAL, "eventTime": "2024-01-01T02:00:01.123456+02:00", "receivedTime": "2024-01-01T00:00:00"}
    )
    record = r.to_record()
    assert record["eventTime"] == "2024-01-01T02:00:01.123+02:00"
    assert record["receivedTime"] == "2024-01-01T00:00:00.000"
    assert record["latencyMs"] == 1123


def test_payload_is_read_lazily_once_through_every_helper() -> None:
    r, s3 = from_s3({**MINIMAL, "responseParameters": {"failureLocation": "s3://b/out/x"}}, b'{"a": 1}')
    assert r.has_payload
    assert r.payload_location == "s3://b/out/x"
    assert r.payload.location == "s3://b/out/x"
    assert s3.calls == []
    assert r.size() == 8
    assert s3.calls == ["HeadObject"]
    assert r.json() == {"a": 1}  # no content type: parsed as JSON anyway
    assert r.body() == b'{"a": 1}'  # no content type: bytes
    assert r.text() == '{"a": 1}'
    assert r.raw() == b'{"a": 1}'
    assert s3.calls == ["HeadObject", "GetObject"]
    with r.open() as stream:
        assert stream.read() == b'{"a": 1}'


def test_open_streams_without_reading_whole() -> None:
    r, s3 = from_s3(MINIMAL, b"x" * 500)
    with r.open() as stream:
        assert stream.read() == b"x" * 500
    assert s3.calls == ["GetObject"]
    with pytest.raises(PayloadTooLargeError):
        r.raw()


def test_decoding_follows_the_content_type_and_errors_name_the_inference() -> None:
    message = {**MINIMAL, "responseParameters": {"contentType": "application/json; charset=latin-1"}}
    r, _ = from_s3(message, '"é"'.encode("latin-1"))
    assert r.body() == "é"
    assert r.json() == "é"
    assert r.text() == '"é"'
    bad, _ = from_s3(message | {"inferenceId": "i-bad"}, b"{oops")
    for helper in (bad.body, bad.json):
        with pytest.raises(DecodeError) as info:
            helper()
        assert info.value.inference_id == "i-bad"
    csv_bytes, _ = from_s3(
        {**MINIMAL, "responseParameters": {"contentType": "text/plain; charset=ascii"}}, b"\xff"
    )
    with pytest.raises(DecodeError) as text_info:
        csv_bytes.text()
    assert text_info.value.inference_id == "i-1"
    assert text_info.value.expected == "text in ascii"


def test_results_have_no_instance_dict() -> None:
    r = make(MINIMAL)
    with pytest.raises(AttributeError):
        r.extra = 1  # type: ignore[attr-defined]
