"""Payload access: the only module that reads from S3.

Order of precedence for a result's payload: the inline ``responseBody`` (base64) first, else S3
``GetObject`` of the output (success) or failure (failure) location. Before any S3 call the
location is checked against ``READABLE_LOCATIONS``: a forged notification naming another bucket or
prefix gets a :class:`~sagemaker_async_results.runtime.errors.LocationRefusedError` and S3 is never called.

Payloads larger than ``MAX_PAYLOAD_BYTES`` are never read whole: :meth:`Payload.read` raises
:class:`~sagemaker_async_results.runtime.errors.PayloadTooLargeError` and :meth:`Payload.open` streams instead.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from sagemaker_async_results.runtime.errors import (
    AwsCallError,
    DecodeError,
    LocationRefusedError,
    PayloadNotFoundError,
    PayloadTooLargeError,
    ResultError,
)
from sagemaker_async_results.runtime.settings import S3Prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "RequestThrottledException",
    }
)


@dataclass(frozen=True, slots=True)
class S3Location:
    """A parsed ``s3://bucket/key``."""

    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        """Parse ``s3://bucket/key``; raise ``ValueError`` when it is anything else."""
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ValueError("not an s3:// URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket or not key:
            raise ValueError("an s3:// URI needs a bucket and a key")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class LocationGuard:
    """Allows reads only under the configured ``s3://bucket/prefix/`` locations.

    Keys with ``.`` or ``..`` path segments are refused too: some HTTP layers normalise them, which
    would let ``outputs/../secrets`` escape the prefix.
    """

    def __init__(self, allowed: Sequence[S3Prefix]) -> None:
        self.allowed = tuple(allowed)

    def check(self, uri: str, *, inference_id: str | None = None) -> S3Location:
        """Return the parsed location, or raise ``LocationRefusedError`` without touching S3."""
        expected = "a location under " + (
            ", ".join(map(str, self.allowed)) or "(no readable location configured)"
        )
        try:
            location = S3Location.parse(uri)
        except ValueError as exc:
            raise LocationRefusedError(
                f"refused to read {uri!r}: {exc}", received=uri, expected=expected, inference_id=inference_id
            ) from None
        segments = location.key.split("/")
        if any(s in (".", "..") for s in segments) or not any(
            p.contains(location.bucket, location.key) for p in self.allowed
        ):
            raise LocationRefusedError(
                f"refused to read {uri}: outside READABLE_LOCATIONS",
                received=uri,
                expected=expected,
                inference_id=inference_id,
            )
        return location


def aws_error(exc: Exception, *, operation: str, inference_id: str | None) -> ResultError:
    """Turn a botocore error (already retried by botocore) into a structured error."""
    code = error_code(exc)
    return AwsCallError(
        f"{operation} failed: {exc}",
        reason="Throttled" if code in THROTTLING_CODES else "AwsCallFailed",
        received=code or type(exc).__name__,
        expected=f"a successful {operation} call",
        inference_id=inference_id,
    )


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for any other exception)."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    return str(error.get("Code", "")) if isinstance(error, dict) else ""


class Payload:
    """Lazy access to one result's payload (inline body or S3 object).

    Nothing is read until asked; the bytes are read at most once and cached.

    Parameters
    ----------
    inline
        Decoded inline body, when the notification carried one.
    location
        ``s3://`` URI of the payload, when it lives in S3.
    guard
        Location guard applied before any S3 call.
    s3_client
        Callable returning the S3 client (called only when S3 is needed: keeps cold start light).
    max_bytes
        Largest payload :meth:`read` loads into memory.
    """

    def __init__(
        self,
        *,
        inline: bytes | None,
        location: str | None,
        guard: LocationGuard,
        s3_client: Callable[[], S3Client],
        max_bytes: int,
        inference_id: str | None = None,
    ) -> None:
        self.location = location
        self._inline = inline
        self._guard = guard
        self._s3_client = s3_client
        self._max_bytes = max_bytes
        self._inference_id = inference_id
        self._size: int | None = len(inline) if inline is not None else None
        self._data: bytes | None = inline

    @property
    def exists(self) -> bool:
        """Whether the notification names any payload (inline or location)."""
        return self._inline is not None or self.location is not None

    @property
    def known_size(self) -> int | None:
        """Size in bytes if already known (inline, or after :meth:`stat`); never calls S3."""
        return self._size

    @property
    def is_inline(self) -> bool:
        """Whether the payload came inline in the notification (no S3 read needed)."""
        return self._inline is not None

    def _checked_location(self) -> S3Location:
        if self.location is None:
            raise PayloadNotFoundError(
                "the notification carries no payload",
                received="no responseBody and no output/failure location",
                expected="responseBody or responseParameters.outputLocation/failureLocation",
                inference_id=self._inference_id,
            )
        return self._guard.check(self.location, inference_id=self._inference_id)

    def stat(self) -> int:
        """Size in bytes; checks the location and that the object exists (``HeadObject``, no body read)."""
        if self._size is not None:
            return self._size
        loc = self._checked_location()
        try:
            response = self._s3_client().head_object(Bucket=loc.bucket, Key=loc.key)
        except Exception as exc:
            raise self._s3_error(exc, "S3.HeadObject", loc) from exc
        self._size = int(response["ContentLength"])
        return self._size

    def read(self) -> bytes:
        """The whole payload; raises ``PayloadTooLargeError`` above ``max_bytes`` (use :meth:`open`)."""
        if self._data is not None:
            return self._data
        size = self.stat()
        if size > self._max_bytes:
            raise PayloadTooLargeError(
                f"payload of {size} bytes exceeds MAX_PAYLOAD_BYTES={self._max_bytes}",
                size=size,
                limit=self._max_bytes,
                inference_id=self._inference_id,
            )
        stream = self.open()
        try:
            data = stream.read(self._max_bytes + 1)
        except Exception as exc:  # the connection broke mid-body (read timeout, incomplete read)
            raise self._s3_error(exc, "S3.GetObject (reading the body)", self._checked_location()) from exc
        finally:
            stream.close()
        if len(data) > self._max_bytes:  # the object grew after HeadObject
            raise PayloadTooLargeError(
                "payload grew beyond MAX_PAYLOAD_BYTES while reading",
                size=len(data),
                limit=self._max_bytes,
                inference_id=self._inference_id,
            )
        self._data = data
        self._size = len(data)
        return data

    def open(self) -> BinaryIO:
        """A readable binary stream of the payload, whatever its size; the caller closes it."""
        if self._data is not None:
            return io.BytesIO(self._data)
        loc = self._checked_location()
        try:
            response = self._s3_client().get_object(Bucket=loc.bucket, Key=loc.key)
        except Exception as exc:
            raise self._s3_error(exc, "S3.GetObject", loc) from exc
        self._size = int(response.get("ContentLength", self._size or 0))
        return cast(BinaryIO, response["Body"])

    def _s3_error(self, exc: Exception, operation: str, loc: S3Location) -> ResultError:
        code = error_code(exc)
        if code in _NOT_FOUND:
            return PayloadNotFoundError(
                f"payload object {loc} does not exist",
                received=f"{code} from {operation}",
                expected=f"an existing object at {loc}",
                inference_id=self._inference_id,
            )
        if code in ("403", "AccessDenied"):
            return AwsCallError(
                f"access to {loc} denied",
                reason="AccessDenied",
                received=f"{code} from {operation}",
                expected=f"s3:GetObject on {loc} (S3 also answers 403 for a missing object without s3:ListBucket)",
                inference_id=self._inference_id,
            )
        return aws_error(exc, operation=operation, inference_id=self._inference_id)


def decode_inline(content: str, encoding: str | None, *, inference_id: str | None = None) -> bytes:
    """Decode ``responseBody.content`` (base64 per SageMaker; other encodings are taken as UTF-8 text)."""
    if (encoding or "BASE64").upper() != "BASE64":
        return content.encode("utf-8")
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(
            f"responseBody.content is not valid base64: {exc}",
            received=content,
            expected="base64 content (responseBody.encoding=BASE64)",
            inference_id=inference_id,
        ) from None


def media_type(content_type: str | None) -> tuple[str, str]:
    """``"text/csv; charset=utf-8"`` -> ``("text/csv", "utf-8")`` (charset defaults to UTF-8)."""
    if not content_type:
        return "", "utf-8"
    main, *params = (p.strip() for p in content_type.split(";"))
    charset = "utf-8"
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return main.lower(), charset


def is_json_type(content_type: str | None) -> bool:
    """JSON media types: ``application/json`` and any ``*/*+json``."""
    main, _ = media_type(content_type)
    return main in ("application/json", "text/json") or main.endswith("+json")


def decode_text(data: bytes, content_type: str | None, *, inference_id: str | None = None) -> str:
    """Bytes -> text using the content type's charset."""
    _, charset = media_type(content_type)
    try:
        return data.decode(charset)
    except (ValueError, LookupError, TypeError) as exc:  # bad bytes, unknown or non-text codec
        raise DecodeError(
            f"payload is not {charset} text: {exc}",
            received=data[:80],
            expected=f"text in {charset}",
            inference_id=inference_id,
        ) from None


def decode_json(data: bytes, content_type: str | None, *, inference_id: str | None = None) -> Any:
    """Bytes -> JSON value."""
    text = decode_text(data, content_type, inference_id=inference_id)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise DecodeError(
            f"payload is not valid JSON: {exc}",
            received=text[:200],
            expected="a JSON document",
            inference_id=inference_id,
        ) from None


def decode(data: bytes, content_type: str | None, *, inference_id: str | None = None) -> Any:
    """Decode by content type: JSON -> value; JSON Lines -> list; CSV -> list of rows; text/* -> str.

    Anything else (images, ``application/octet-stream``, unknown) stays ``bytes``.
    """
    main, _ = media_type(content_type)
    if is_json_type(content_type):
        return decode_json(data, content_type, inference_id=inference_id)
    if main in ("application/jsonlines", "application/x-ndjson", "application/jsonl"):
        text = decode_text(data, content_type, inference_id=inference_id)
        return [
            decode_json(line.encode(), "application/json", inference_id=inference_id)
            for line in text.splitlines()
            if line.strip()
        ]
    if main in ("text/csv", "application/csv"):
        text = decode_text(data, content_type, inference_id=inference_id)
        try:
            return list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise DecodeError(
                f"payload is not valid CSV: {exc}",
                received=text[:200],
                expected="CSV rows",
                inference_id=inference_id,
            ) from None
    if main.startswith("text/"):
        return decode_text(data, content_type, inference_id=inference_id)
    return data
