"""The typed result object handed to every handler and destination.

One :class:`InferenceResult` per notification; it holds everything about that result (no
module-level state), and reads the payload lazily through :class:`~sagemaker_async_results.runtime.payloads.Payload`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, BinaryIO, Literal

from sagemaker_async_results.runtime.models import InferenceResultNotification
from sagemaker_async_results.runtime.payloads import Payload, decode, decode_json, decode_text


def parse_custom_attributes(raw: str | None) -> Mapping[str, str]:
    """``"taskToken=abc;tenant=7"`` -> ``{"taskToken": "abc", "tenant": "7"}``.

    Pairs are separated by ``;`` and split at the first ``=`` (tokens may contain ``=``). A part
    without ``=`` maps to ``""``. Unparseable attributes never fail a result: use the raw string.
    """
    pairs: dict[str, str] = {}
    for part in (raw or "").split(";"):
        key, _, value = part.partition("=")
        if key.strip():
            pairs[key.strip()] = value.strip()
    return MappingProxyType(pairs)


class InferenceResult:
    """A SageMaker async inference result, as handlers see it.

    Example
    -------
    .. code-block:: python

        @router.on_success("fraud-*", content_type="application/json")
        def score(result: InferenceResult) -> None:
            print(result.inference_id, result.latency, result.json()["score"])
    """

    __slots__ = ("_payload", "attributes", "notification", "submitted")

    def __init__(self, notification: InferenceResultNotification, payload: Payload) -> None:
        self.notification = notification
        self._payload = payload
        #: The request's record in the results table (DynamoDB attribute values) as the routing claim
        #: read it, with what the client wrote at submit time (``replyTo``, a task token); ``None`` when
        #: not read (result store off: the claim's lock lives on a record of its own). Destinations that
        #: need those fields use it instead of reading the record again.
        self.submitted: Mapping[str, Any] | None = None
        #: ``customAttributes`` parsed as ``key=value`` pairs separated by ``;`` (read-only).
        self.attributes: Mapping[str, str] = parse_custom_attributes(
            notification.request_parameters.custom_attributes
        )

    # -- identity and metadata -------------------------------------------------------------
    @property
    def inference_id(self) -> str:
        return self.notification.inference_id

    @property
    def endpoint_name(self) -> str:
        """The endpoint's name (``""`` if the message did not say)."""
        return self.notification.request_parameters.endpoint_name or ""

    @property
    def status(self) -> Literal["Completed", "Failed"]:
        return self.notification.invocation_status

    @property
    def succeeded(self) -> bool:
        return self.status == "Completed"

    @property
    def output_location(self) -> str | None:
        rp = self.notification.response_parameters
        return rp.output_location if rp else None

    @property
    def failure_location(self) -> str | None:
        rp = self.notification.response_parameters
        return rp.failure_location if rp else None

    @property
    def failure_reason(self) -> str | None:
        return self.notification.failure_reason

    @property
    def content_type(self) -> str | None:
        """Content type of the payload (``responseParameters.contentType``), if SageMaker gave one."""
        rp = self.notification.response_parameters
        return rp.content_type if rp else None

    @property
    def accept(self) -> str | None:
        return self.notification.request_parameters.accept

    @property
    def input_location(self) -> str | None:
        return self.notification.request_parameters.input_location

    @property
    def custom_attributes(self) -> str | None:
        """The request's ``CustomAttributes`` verbatim."""
        return self.notification.request_parameters.custom_attributes

    @property
    def received_time(self) -> datetime | None:
        """When SageMaker received the request."""
        return self.notification.received_time

    @property
    def event_time(self) -> datetime | None:
        """When SageMaker finished it."""
        return self.notification.event_time

    @property
    def latency(self) -> timedelta | None:
        """``event_time - received_time`` (queueing plus processing), when both are known."""
        if self.event_time is None or self.received_time is None:
            return None
        return _utc(self.event_time) - _utc(self.received_time)

    # -- payload ------------------------------------------------------------------------------
    @property
    def has_payload(self) -> bool:
        """Whether there is an output (success) or failure payload to read."""
        return self._payload.exists

    @property
    def payload_location(self) -> str | None:
        """Where the payload lives in S3 (output or failure location), even when it came inline."""
        return self._payload.location

    @property
    def payload(self) -> Payload:
        """Lower-level payload access (size, stream); prefer the methods below."""
        return self._payload

    def size(self) -> int:
        """Payload size in bytes (inline length, or S3 ``HeadObject``; no body read)."""
        return self._payload.stat()

    def raw(self) -> bytes:
        """Payload bytes; raises ``PayloadTooLargeError`` above ``MAX_PAYLOAD_BYTES``."""
        return self._payload.read()

    def body(self) -> Any:
        """Payload decoded by content type (JSON value, CSV rows, text, or bytes for binary)."""
        return decode(self.raw(), self.content_type, inference_id=self.inference_id)

    def json(self) -> Any:
        """Payload parsed as JSON, whatever the content type says (failure payloads have none)."""
        return decode_json(self.raw(), self.content_type, inference_id=self.inference_id)

    def text(self) -> str:
        """Payload as text (charset from the content type, else UTF-8)."""
        return decode_text(self.raw(), self.content_type, inference_id=self.inference_id)

    def open(self) -> BinaryIO:
        """Stream the payload without loading it (for payloads above ``MAX_PAYLOAD_BYTES``)."""
        return self._payload.open()

    # -- record -----------------------------------------------------------------------------
    def to_record(self) -> dict[str, Any]:
        """The result-record fields (camelCase, per docs/architecture.md); ``None`` values omitted."""
        latency = self.latency
        record: dict[str, Any] = {
            "inferenceId": self.inference_id,
            "status": self.status,
            "endpointName": self.endpoint_name or None,
            "outputLocation": self.output_location,
            "failureLocation": self.failure_location,
            "failureReason": self.failure_reason,
            "contentType": self.content_type,
            "receivedTime": _iso(self.received_time),
            "eventTime": _iso(self.event_time),
            "latencyMs": None if latency is None else int(latency.total_seconds() * 1000),
            "customAttributes": self.custom_attributes,
        }
        return {k: v for k, v in record.items() if v is not None}

    def __repr__(self) -> str:
        return (
            f"InferenceResult(inference_id={self.inference_id!r}, endpoint_name={self.endpoint_name!r}, "
            f"status={self.status!r})"
        )


def _utc(value: datetime) -> datetime:
    """A time without an offset is taken as UTC (SageMaker writes ``Z``; a message may omit it)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")
