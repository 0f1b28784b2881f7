"""Payload access in detail: every structured error's fields, size boundaries, AWS error codes."""

from __future__ import annotations

import base64
import io
import re
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
from sagemaker_async_results.runtime.payloads import (
    THROTTLING_CODES,
    LocationGuard,
    Payload,
    S3Location,
    aws_error,
    decode,
    decode_inline,
    decode_json,
    decode_text,
    error_code,
    is_json_type,
    media_type,
)
from sagemaker_async_results.runtime.settings import S3Prefix

GUARD = LocationGuard([S3Prefix.parse("s3://bucket/outputs/"), S3Prefix.parse("s3://other/")])
LOCATION = "s3://bucket/outputs/a.out"


def client_error(code: str, operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, operation)


class Body(io.BytesIO):
    """A response body that remembers how much was asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.asked.append(size)
        return super().read(size)


class S3:
    """Serves one object; ``head_size`` lets HeadObject disagree with the body."""

    def __init__(
        self,
        data: bytes = b"",
        *,
        head_size: int | None = None,
        error: Exception | None = None,
        get_length: bool = True,
    ) -> None:
        self.data = data
        self.head_size = len(data) if head_size is None else head_size
        self.error = error
        self.get_length = get_length
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.bodies: list[Body] = []

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("HeadObject", kwargs))
        if self.error:
            raise self.error
        return {"ContentLength": self.head_size}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetObject", kwargs))
        if self.error:
            raise self.error
        body = Body(self.data)
        self.bodies.append(body)
        response: dict[str, Any] = {"Body": body}
        if self.get_length:
            response["ContentLength"] = len(self.data)
        return response


def payload(
    s3: S3,
    *,
    location: str | None = LOCATION,
    inline: bytes | None = None,
    max_bytes: int = 10,
) -> Payload:
    return Payload(
        inline=inline,
        location=location,
        guard=GUARD,
        s3_client=lambda: s3,  # type: ignore[arg-type,return-value]
        max_bytes=max_bytes,
        inference_id="i-1",
    )


# -- locations ---------------------------------------------------------------------------------


def test_s3_location_parse() -> None:
    assert S3Location.parse("s3://b/k") == S3Location("b", "k")
    assert S3Location.parse("s3://b/a/b/") == S3Location("b", "a/b/")
    assert str(S3Location("b", "a/k")) == "s3://b/a/k"
    for uri, problem in [
        (7, "not an s3:// URI"),
        ("S3://b/k", "not an s3:// URI"),
        ("s3://b", "an s3:// URI needs a bucket and a key"),
        ("s3://b/", "an s3:// URI needs a bucket and a key"),
        ("s3:///k", "an s3:// URI needs a bucket and a key"),
    ]:
        with pytest.raises(ValueError, match=f"^{re.escape(problem)}$"):
            S3Location.parse(uri)  # type: ignore[arg-type]


def test_refused_uri_error_fields() -> None:
    with pytest.raises(LocationRefusedError) as info:
        GUARD.check("s3://bucket", inference_id="i-9")
    err = info.value
    assert err.message == "refused to read 's3://bucket': an s3:// URI needs a bucket and a key"
    assert err.reason == "LocationRefused"
    assert err.received == "s3://bucket"
    assert err.expected == "a location under s3://bucket/outputs/, s3://other/"
    assert err.inference_id == "i-9"
    assert err.__cause__ is None


def test_location_outside_error_fields() -> None:
    with pytest.raises(LocationRefusedError) as info:
        GUARD.check("s3://bucket/inputs/x", inference_id="i-9")
    err = info.value
    assert err.message == "refused to read s3://bucket/inputs/x: outside READABLE_LOCATIONS"
    assert err.received == "s3://bucket/inputs/x"
    assert err.expected == "a location under s3://bucket/outputs/, s3://other/"
    assert err.inference_id == "i-9"


def test_guard_without_locations_says_so() -> None:
    with pytest.raises(LocationRefusedError) as info:
        LocationGuard(()).check(LOCATION)
    assert info.value.expected == "a location under (no readable location configured)"
    assert info.value.inference_id is None


@pytest.mark.parametrize(
    ("uri", "allowed"),
    [
        ("s3://bucket/outputs/..a", True),  # not a dot segment
        ("s3://bucket/outputs/a.", True),
        ("s3://bucket/outputs/...", True),
        ("s3://other/x", True),
        ("s3://bucket/outputs/..", False),
        ("s3://bucket/outputs/.", False),
        ("s3://bucket/./outputs/a", False),
        ("s3://other/../bucket/outputs/a", False),
        ("s3://other/a/../b", False),
    ],
)
def test_only_whole_dot_segments_are_refused(uri: str, allowed: bool) -> None:
    if allowed:
        assert str(GUARD.check(uri)) == uri
    else:
        with pytest.raises(LocationRefusedError):
            GUARD.check(uri)


def test_guard_keeps_its_locations() -> None:
    prefixes = [S3Prefix("a"), S3Prefix("b", "p/")]
    assert LocationGuard(prefixes).allowed == tuple(prefixes)
    assert LocationGuard(iter(prefixes)).allowed == tuple(prefixes)


# -- AWS errors ------------------------------------------------------------------------------------


def test_every_throttling_code_is_throttled() -> None:
    assert {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
    } == THROTTLING_CODES
    for code in THROTTLING_CODES:
        assert aws_error(client_error(code), operation="Op", inference_id=None).reason == "Throttled"


def test_aws_error_fields() -> None:
    exc = client_error("InternalError", "PutItem")
    err = aws_error(exc, operation="DynamoDB.PutItem", inference_id="i-2")
    assert isinstance(err, AwsCallError)
    assert err.reason == "AwsCallFailed"
    assert err.message == f"DynamoDB.PutItem failed: {exc}"
    assert err.received == "InternalError"
    assert err.expected == "a successful DynamoDB.PutItem call"
    assert err.inference_id == "i-2"
    other = aws_error(TimeoutError("slow"), operation="Op", inference_id=None)
    assert (other.reason, other.received, other.message) == (
        "AwsCallFailed",
        "TimeoutError",
        "Op failed: slow",
    )


class WithResponse(Exception):
    def __init__(self, response: Any) -> None:
        super().__init__("x")
        self.response = response


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (client_error("SlowDown"), "SlowDown"),
        (WithResponse({"Error": {"Code": 404}}), "404"),
        (WithResponse({"Error": {"Message": "no code"}}), ""),
        (WithResponse({"Error": "SlowDown"}), ""),
        (WithResponse({"Code": "SlowDown"}), ""),
        (WithResponse(None), ""),
        (WithResponse([("Error", {"Code": "SlowDown"})]), ""),
        (ValueError("x"), ""),
    ],
)
def test_error_code(exc: Exception, code: str) -> None:
    assert error_code(exc) == code


# -- payload access ------------------------------------------------------------------------------


def test_payload_state_before_any_read() -> None:
    s3 = S3(b"abc")
    p = payload(s3)
    assert (p.exists, p.is_inline, p.known_size, p.location) == (True, False, None, LOCATION)
    inline = payload(s3, location=None, inline=b"")
    assert (inline.exists, inline.is_inline, inline.known_size) == (True, True, 0)
    assert inline.read() == b""
    none = payload(s3, location=None)
    assert (none.exists, none.is_inline, none.known_size) == (False, False, None)
    assert s3.calls == []


def test_stat_heads_the_checked_location_once() -> None:
    s3 = S3(b"abc", head_size=3)
    p = payload(s3)
    assert p.stat() == 3
    assert p.known_size == 3
    assert p.stat() == 3
    assert s3.calls == [("HeadObject", {"Bucket": "bucket", "Key": "outputs/a.out"})]


def test_no_payload_error_fields() -> None:
    p = payload(S3(), location=None)
    for action in (p.stat, p.read, p.open):
        with pytest.raises(PayloadNotFoundError) as info:
            action()
        err = info.value
        assert err.message == "the notification carries no payload"
        assert err.received == "no responseBody and no output/failure location"
        assert err.expected == "responseBody or responseParameters.outputLocation/failureLocation"
        assert err.inference_id == "i-1"


def test_refused_location_names_the_inference() -> None:
    with pytest.raises(LocationRefusedError) as info:
        payload(S3(), location="s3://elsewhere/x").read()
    assert info.value.inference_id == "i-1"


def test_read_exactly_at_the_limit() -> None:
    s3 = S3(b"x" * 10)
    p = payload(s3, max_bytes=10)
    assert p.read() == b"x" * 10
    assert p.known_size == 10
    assert s3.bodies[0].asked == [11]  # one byte more than allowed: notices an object that grew
    assert s3.bodies[0].closed
    assert [c[0] for c in s3.calls] == ["HeadObject", "GetObject"]
    assert s3.calls[1][1] == {"Bucket": "bucket", "Key": "outputs/a.out"}
    assert p.read() == b"x" * 10
    assert p.open().read() == b"x" * 10
    assert len(s3.calls) == 2  # cached


def test_one_byte_over_the_limit_is_refused_before_any_get() -> None:
    s3 = S3(b"x" * 11)
    with pytest.raises(PayloadTooLargeError) as info:
        payload(s3, max_bytes=10).read()
    err = info.value
    assert err.message == "payload of 11 bytes exceeds MAX_PAYLOAD_BYTES=10"
    assert err.reason == "PayloadTooLarge"
    assert (err.size, err.limit, err.inference_id) == (11, 10, "i-1")
    assert err.received == "11 bytes"
    assert err.expected == "at most 10 bytes for an in-memory read (stream it with result.open())"
    assert [c[0] for c in s3.calls] == ["HeadObject"]


def test_object_that_grew_after_head_is_refused_and_closed() -> None:
    s3 = S3(b"x" * 50, head_size=10)
    p = payload(s3, max_bytes=10)
    with pytest.raises(PayloadTooLargeError) as info:
        p.read()
    err = info.value
    assert err.message == "payload grew beyond MAX_PAYLOAD_BYTES while reading"
    assert (err.size, err.limit, err.inference_id) == (11, 10, "i-1")
    assert s3.bodies[0].closed
    assert p.known_size == 50  # from GetObject's ContentLength


def test_inline_payload_is_never_too_large_and_never_touches_s3() -> None:
    s3 = S3()
    p = payload(s3, inline=b"y" * 100, max_bytes=10)
    assert p.read() == b"y" * 100
    assert p.stat() == 100
    assert s3.calls == []


def test_open_streams_from_s3_and_learns_the_size() -> None:
    s3 = S3(b"streamed")
    p = payload(s3, max_bytes=1)
    with p.open() as stream:
        assert stream.read() == b"streamed"
    assert p.known_size == 8
    assert s3.calls == [("GetObject", {"Bucket": "bucket", "Key": "outputs/a.out"})]


def test_open_without_content_length_keeps_a_known_size() -> None:
    s3 = S3(b"abc", get_length=False)
    p = payload(s3)
    p.open().close()
    assert p.known_size == 0
    p.stat()  # known now: HeadObject is not asked again
    p.open().close()
    assert p.known_size == 0
    s3 = S3(b"abc", head_size=3, get_length=False)
    p = payload(s3, max_bytes=1)
    assert p.stat() == 3
    p.open().close()
    assert p.known_size == 3


@pytest.mark.parametrize("code", ["404", "NoSuchKey", "NotFound", "NoSuchBucket"])
@pytest.mark.parametrize(("action", "operation"), [("stat", "S3.HeadObject"), ("open", "S3.GetObject")])
def test_missing_object_error_fields(code: str, action: str, operation: str) -> None:
    exc = client_error(code)
    with pytest.raises(PayloadNotFoundError) as info:
        getattr(payload(S3(error=exc)), action)()
    err = info.value
    assert err.reason == "PayloadNotFound"
    assert err.message == f"payload object {LOCATION} does not exist"
    assert err.received == f"{code} from {operation}"
    assert err.expected == f"an existing object at {LOCATION}"
    assert err.inference_id == "i-1"
    assert err.__cause__ is exc


@pytest.mark.parametrize("code", ["403", "AccessDenied"])
def test_access_denied_error_fields(code: str) -> None:
    exc = client_error(code)
    with pytest.raises(AwsCallError) as info:
        payload(S3(error=exc)).open()
    err = info.value
    assert err.reason == "AccessDenied"
    assert err.message == f"access to {LOCATION} denied"
    assert err.received == f"{code} from S3.GetObject"
    assert err.expected == (
        f"s3:GetObject on {LOCATION} (S3 also answers 403 for a missing object without s3:ListBucket)"
    )
    assert err.inference_id == "i-1"
    assert err.__cause__ is exc


def test_other_s3_errors_name_the_operation() -> None:
    exc = client_error("InternalError")
    with pytest.raises(AwsCallError) as info:
        payload(S3(error=exc)).stat()
    err = info.value
    assert (err.reason, err.received, err.inference_id) == ("AwsCallFailed", "InternalError", "i-1")
    assert err.message == f"S3.HeadObject failed: {exc}"
    assert err.expected == "a successful S3.HeadObject call"
    assert err.__cause__ is exc


class BrokenBody(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        raise ConnectionResetError("peer reset")


def test_body_broken_mid_read_is_an_aws_error_and_the_stream_is_closed() -> None:
    s3 = S3(b"abc")
    body = BrokenBody()
    s3.get_object = lambda **kwargs: {"ContentLength": 3, "Body": body}  # type: ignore[method-assign]
    with pytest.raises(AwsCallError) as info:
        payload(s3).read()
    err = info.value
    assert err.message == "S3.GetObject (reading the body) failed: peer reset"
    assert err.received == "ConnectionResetError"
    assert isinstance(err.__cause__, ConnectionResetError)
    assert body.closed


# -- decoding --------------------------------------------------------------------------------------


def test_decode_inline_encodings() -> None:
    encoded = base64.b64encode(b"\x00hi").decode()
    assert decode_inline(encoded, None) == b"\x00hi"
    assert decode_inline(encoded, "base64") == b"\x00hi"
    assert decode_inline("plain text é", "UTF8") == "plain text é".encode()
    assert decode_inline("", "BASE64") == b""


def test_decode_inline_error_fields() -> None:
    with pytest.raises(DecodeError) as info:
        decode_inline("aGk=\n", None, inference_id="i-3")  # strict: no trailing data
    err = info.value
    assert err.message == "responseBody.content is not valid base64: Excess data after padding"
    assert err.reason == "UndecodableContent"
    assert err.received == "aGk=\n"
    assert err.expected == "base64 content (responseBody.encoding=BASE64)"
    assert err.inference_id == "i-3"
    assert err.__cause__ is None
    assert err.__suppress_context__


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, ("", "utf-8")),
        ("", ("", "utf-8")),
        ("TEXT/Plain", ("text/plain", "utf-8")),
        (" text/plain ; charset = latin-1 ", ("text/plain", "latin-1")),
        ('text/plain; CHARSET="utf-16"', ("text/plain", "utf-16")),
        ("text/plain; charset=", ("text/plain", "utf-8")),
        ("text/plain; charset=  ", ("text/plain", "utf-8")),
        ("text/plain; format=flowed; charset=ascii", ("text/plain", "ascii")),
        ("text/plain; xcharset=ascii", ("text/plain", "utf-8")),
        ("text/plain; charset", ("text/plain", "utf-8")),
    ],
)
def test_media_type(content_type: str | None, expected: tuple[str, str]) -> None:
    assert media_type(content_type) == expected


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("text/json", True),
        ("application/ld+json", True),
        ("application/jsonlines", False),
        ("application/json-seq", False),
        ("text/plain", False),
        (None, False),
    ],
)
def test_is_json_type(content_type: str | None, expected: bool) -> None:
    assert is_json_type(content_type) is expected


def test_decode_text_error_fields() -> None:
    data = b"\xff" * 100
    with pytest.raises(DecodeError) as info:
        decode_text(data, "text/plain", inference_id="i-4")
    err = info.value
    assert err.message.startswith("payload is not utf-8 text: 'utf-8' codec can't decode byte 0xff")
    assert err.received == repr(data[:80])
    assert err.expected == "text in utf-8"
    assert err.inference_id == "i-4"
    assert err.__cause__ is None
    assert err.__suppress_context__
    with pytest.raises(DecodeError) as unknown:
        decode_text(b"x", "text/plain; charset=base64")  # a codec, but not a text one
    assert unknown.value.expected == "text in base64"


def test_decode_json_error_fields() -> None:
    text = "{" + " " * 300 + "oops"
    with pytest.raises(DecodeError) as info:
        decode_json(text.encode(), None, inference_id="i-5")
    err = info.value
    assert err.message.startswith("payload is not valid JSON: Expecting property name")
    assert err.received == text[:200]
    assert err.expected == "a JSON document"
    assert err.inference_id == "i-5"
    assert err.__cause__ is None
    assert err.__suppress_context__


def test_decode_json_too_deep_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as info:
        decode_json(b"[" * 100_000, "application/json")
    assert info.value.message.startswith("payload is not valid JSON: ")


def test_decode_json_uses_the_charset() -> None:
    assert decode_json('"é"'.encode("latin-1"), "application/json; charset=latin-1") == "é"


@pytest.mark.parametrize(
    "content_type", ["application/jsonlines", "application/x-ndjson", "application/jsonl"]
)
def test_json_lines_skip_blank_lines(content_type: str) -> None:
    assert decode(b'{"a": 1}\n  \n[2]\r\n"x"', content_type) == [{"a": 1}, [2], "x"]


def test_json_lines_error_names_the_inference() -> None:
    with pytest.raises(DecodeError) as info:
        decode(b'{"a": 1}\n{oops\n', "application/jsonlines", inference_id="i-6")
    assert info.value.inference_id == "i-6"
    assert info.value.received == "{oops"
    with pytest.raises(DecodeError) as charset:
        decode(b"\xff", "application/x-ndjson", inference_id="i-6")
    assert charset.value.inference_id == "i-6"


@pytest.mark.parametrize("content_type", ["text/csv", "application/csv", "Text/CSV; charset=latin-1"])
def test_csv_rows(content_type: str) -> None:
    assert decode(b'a,"b\nc"\r\n1,2\n', content_type) == [["a", "b\nc"], ["1", "2"]]


def test_csv_error_fields() -> None:
    text = "a" * 200_000  # one field beyond the csv module's limit
    with pytest.raises(DecodeError) as info:
        decode(text.encode(), "text/csv", inference_id="i-7")
    err = info.value
    assert err.message == "payload is not valid CSV: field larger than field limit (131072)"
    assert err.received == "a" * 200
    assert err.expected == "CSV rows"
    assert err.inference_id == "i-7"
    assert err.__cause__ is None
    assert err.__suppress_context__
    with pytest.raises(DecodeError) as charset:
        decode(b"\xff", "text/csv", inference_id="i-7")
    assert charset.value.inference_id == "i-7"


def test_text_and_binary() -> None:
    assert decode(b"a,b", "text/plain") == "a,b"
    assert decode("é".encode("utf-16"), "text/html; charset=utf-16") == "é"
    assert decode(b"a,b", "application/octet-stream") == b"a,b"
    assert decode(b"{}", "application/x-json") == b"{}"
    with pytest.raises(DecodeError) as info:
        decode(b"\xff", "text/plain", inference_id="i-8")
    assert info.value.inference_id == "i-8"
    with pytest.raises(DecodeError) as json_info:
        decode(b"{", "application/json", inference_id="i-8")
    assert json_info.value.inference_id == "i-8"
