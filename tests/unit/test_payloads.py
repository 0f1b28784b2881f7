"""Decoding by content type, the location guard, lazy reads and the size limit."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_async_results.runtime.errors import (
    AwsCallError,
    DecodeError,
    LocationRefusedError,
    PayloadNotFoundError,
    PayloadTooLargeError,
)
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload, decode, decode_inline, media_type
from sagemaker_async_results.runtime.settings import S3Prefix

GUARD = LocationGuard([S3Prefix.parse("s3://bucket/outputs/"), S3Prefix.parse("s3://other/failures")])


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        ("application/json", b'{"a": [1, 2]}', {"a": [1, 2]}),
        ("application/vnd.custom+json; charset=utf-8", b"[1]", [1]),
        ("application/jsonlines", b'{"a": 1}\n\n{"a": 2}\n', [{"a": 1}, {"a": 2}]),
        ("text/csv; charset=utf-8", b'label,score\r\nPOS,"0.9"\r\n', [["label", "score"], ["POS", "0.9"]]),
        ("text/plain; charset=latin-1", "café".encode("latin-1"), "café"),
        ("image/png", b"\x89PNG\r\n", b"\x89PNG\r\n"),
        (None, b"\x00\x01", b"\x00\x01"),
    ],
)
def test_decode_by_content_type(content_type: str | None, data: bytes, expected: Any) -> None:
    assert decode(data, content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("application/json", b"{oops"), ("text/plain", b"\xff\xfe\xfa"), ("text/plain; charset=nope", b"x")],
)
def test_undecodable_content(content_type: str, data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data, content_type, inference_id="i-1")
    assert info.value.reason == "UndecodableContent"
    assert info.value.inference_id == "i-1"


def test_media_type() -> None:
    assert media_type('Text/CSV; charset="ISO-8859-1"') == ("text/csv", "ISO-8859-1")
    assert media_type(None) == ("", "utf-8")


def test_inline_base64() -> None:
    assert decode_inline(base64.b64encode(b"hi").decode(), "BASE64") == b"hi"
    with pytest.raises(DecodeError):
        decode_inline("not base64!!", "BASE64")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/outputs/abc.out",
        "s3://bucket/outputs/nested/abc.out",
        "s3://other/failures/x.out",
    ],
)
def test_guard_allows_configured_prefixes(uri: str) -> None:
    assert str(GUARD.check(uri)) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "s3://attacker-bucket/outputs/abc.out",  # other bucket
        "s3://bucket/inputs/abc.json",  # other prefix, same bucket
        "s3://bucket/outputs-evil/abc.out",  # sibling sharing the prefix's characters
        "s3://other/failuresX/abc.out",  # prefix configured without trailing slash
        "s3://bucket/outputs/../secrets/key.pem",  # dot segments
        "s3://bucket/outputs/./x",
        "https://bucket.s3.amazonaws.com/outputs/abc.out",
        "/etc/passwd",
        "s3://bucket",
    ],
)
def test_guard_refuses_everything_else(uri: str) -> None:
    with pytest.raises(LocationRefusedError) as info:
        GUARD.check(uri, inference_id="i-1")
    err = info.value
    assert err.reason == "LocationRefused"
    assert err.received == uri
    assert err.expected is not None
    assert "s3://bucket/outputs/" in err.expected
    assert err.inference_id == "i-1"


def test_guard_with_nothing_configured_refuses_all() -> None:
    with pytest.raises(LocationRefusedError):
        LocationGuard(()).check("s3://bucket/outputs/a")


class FakeS3:
    """Records calls; serves one object or raises a given error code."""

    def __init__(self, data: bytes = b"", error: str | None = None) -> None:
        self.data = data
        self.error = error
        self.calls: list[str] = []

    def _maybe_fail(self, operation: str) -> None:
        self.calls.append(operation)
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "x"}}, operation)

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self._maybe_fail("HeadObject")
        return {"ContentLength": len(self.data)}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self._maybe_fail("GetObject")
        return {"ContentLength": len(self.data), "Body": io.BytesIO(self.data)}


def payload(
    s3: FakeS3,
    *,
    location: str | None = "s3://bucket/outputs/a.out",
    inline: bytes | None = None,
    max_bytes: int = 100,
) -> Payload:
    return Payload(
        inline=inline,
        location=location,
        guard=GUARD,
        s3_client=lambda: s3,  # type: ignore[arg-type,return-value]
        max_bytes=max_bytes,
        inference_id="i-1",
    )


def test_refused_location_never_calls_s3() -> None:
    s3 = FakeS3(b"secret")
    p = payload(s3, location="s3://attacker-bucket/outputs/a.out")
    for action in (p.stat, p.read, p.open):
        with pytest.raises(LocationRefusedError):
            action()
    assert s3.calls == []


def test_inline_body_wins_over_s3() -> None:
    s3 = FakeS3(b"from s3")
    p = payload(s3, inline=b"inline")
    assert (p.stat(), p.read(), p.open().read()) == (6, b"inline", b"inline")
    assert s3.calls == []


def test_lazy_read_once() -> None:
    s3 = FakeS3(b'{"a": 1}')
    p = payload(s3)
    assert s3.calls == []
    assert p.read() == b'{"a": 1}'
    assert p.read() == b'{"a": 1}'
    assert s3.calls == ["HeadObject", "GetObject"]


def test_too_large_is_never_read_but_can_be_streamed() -> None:
    s3 = FakeS3(b"x" * 1000)
    p = payload(s3, max_bytes=100)
    with pytest.raises(PayloadTooLargeError) as info:
        p.read()
    assert (info.value.size, info.value.limit) == (1000, 100)
    assert "GetObject" not in s3.calls
    with p.open() as stream:
        assert len(stream.read()) == 1000


@pytest.mark.parametrize("code", ["NoSuchKey", "404"])
def test_missing_object(code: str) -> None:
    with pytest.raises(PayloadNotFoundError) as info:
        payload(FakeS3(error=code)).read()
    assert info.value.inference_id == "i-1"
    assert "s3://bucket/outputs/a.out" in info.value.message


@pytest.mark.parametrize(
    ("code", "reason"),
    [("SlowDown", "Throttled"), ("AccessDenied", "AccessDenied"), ("InternalError", "AwsCallFailed")],
)
def test_aws_errors_are_classified(code: str, reason: str) -> None:
    with pytest.raises(AwsCallError) as info:
        payload(FakeS3(error=code)).stat()
    assert info.value.reason == reason
    assert info.value.received is not None
    assert code in info.value.received


def test_no_payload_at_all() -> None:
    p = payload(FakeS3(), location=None)
    assert not p.exists
    with pytest.raises(PayloadNotFoundError):
        p.read()


class BrokenBody(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        from botocore.exceptions import ReadTimeoutError

        raise ReadTimeoutError(endpoint_url="https://s3.example")


def test_connection_broken_mid_body_is_an_aws_error() -> None:
    s3 = FakeS3(b"abc")
    s3.get_object = lambda **kwargs: {"ContentLength": 3, "Body": BrokenBody()}  # type: ignore[method-assign]
    with pytest.raises(AwsCallError) as info:
        payload(s3).read()
    assert (info.value.reason, info.value.received) == ("AwsCallFailed", "ReadTimeoutError")
    assert "reading the body" in info.value.message
