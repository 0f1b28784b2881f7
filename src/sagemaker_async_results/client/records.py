"""What the result store knows of an inference, and what a submit answered: plain data, no AWS calls.

The records come from three places that carry the same fields: a DynamoDB item of the results table
(typed attribute values), and the result record the destinations send as JSON (the Kinesis stream,
a caller's reply queue). :func:`record_from_item` and :func:`record_from_json` read both into one
:class:`InferenceRecord`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sagemaker_async_results import contract


class InferenceStatus(StrEnum):
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"
    FAILED = "Failed"
    EXPIRED = "Expired"
    UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Submission:
    """What ``InvokeEndpointAsync`` answered (``input_location`` is ``None`` for an inline ``Body``)."""

    inference_id: str
    input_location: str | None
    output_location: str
    failure_location: str | None
    submitted_at: datetime
    #: The inference ID had been submitted before: no second request was made, this is the first one's.
    resubmitted: bool = False


@dataclass(frozen=True)
class InferenceRecord:
    """What the result store knows of one inference."""

    inference_id: str
    status: InferenceStatus
    output_location: str | None = None
    failure_location: str | None = None
    failure_reason: str | None = None
    content_type: str | None = None
    routed_to: tuple[str, ...] = ()
    #: ``InProgress``, ``Routed`` or ``Failed`` (routing to handlers and destinations, not the inference).
    routing: str | None = None
    #: When routing failed: ``{"reason", "message", "handler"}``.
    routing_error: dict[str, str] | None = None
    latency_ms: float | None = None
    submitted_at: datetime | None = None
    expires_by: datetime | None = None
    inline_body: bytes | None = None
    #: Routed by recovery: SageMaker's notification never arrived, the result was found in S3.
    recovered: bool = False
    #: Reported from S3 past the expiry moment: the object exists, no notification was routed.
    found_in_s3: bool = False
    item: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def routing_failed(self) -> bool:
        """A handler or destination failed for this result (the inference itself may have completed)."""
        return self.routing == contract.ROUTING_FAILED

    @property
    def done(self) -> bool:
        return self.status in (InferenceStatus.COMPLETED, InferenceStatus.FAILED, InferenceStatus.EXPIRED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inferenceId": self.inference_id,
            "status": str(self.status),
            "outputLocation": self.output_location,
            "failureLocation": self.failure_location,
            "failureReason": self.failure_reason,
            "contentType": self.content_type,
            "routedTo": list(self.routed_to),
            "routing": self.routing,
            "routingError": self.routing_error,
            "latencyMs": self.latency_ms,
            "submittedAt": self.submitted_at.isoformat() if self.submitted_at else None,
            "expiresBy": self.expires_by.isoformat() if self.expires_by else None,
            "recovered": self.recovered,
            "foundInS3": self.found_in_s3,
        }


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; both parts must be present."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r}")
    return bucket, key


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def record_from_json(inference_id: str, item: dict[str, Any]) -> InferenceRecord:
    """An :class:`InferenceRecord` from a result record as the destinations send it (plain JSON)."""

    def attribute(value: Any) -> dict[str, Any]:
        if isinstance(value, list):
            return {"L": [attribute(v) for v in value]}
        if isinstance(value, dict):
            return {"M": {k: attribute(v) for k, v in value.items()}}
        if isinstance(value, bool):
            return {"BOOL": value}
        if isinstance(value, int | float):
            return {"N": str(value)}
        return {"S": str(value)}

    return record_from_item(inference_id, {k: attribute(v) for k, v in item.items() if v is not None})


#: The name the stream source used first; the same reader serves every JSON source.
record_from_stream = record_from_json


def record_from_item(inference_id: str, item: dict[str, Any]) -> InferenceRecord:
    """An :class:`InferenceRecord` from a results-table item (DynamoDB attribute values)."""

    def text(name: str) -> str | None:
        value = item.get(name)
        return value.get("S") if value else None

    latency = item.get("latencyMs", {}).get("N")
    routed = item.get(contract.ROUTED_TO_ATTRIBUTE, {})
    routed_to = tuple(v["S"] for v in routed.get("L", [])) or tuple(routed.get("SS", []))
    inline = item.get(contract.INLINE_BODY_ATTRIBUTE, {})
    inline_body = (
        inline.get("B") if "B" in inline else (base64.b64decode(inline["S"]) if "S" in inline else None)
    )
    try:
        status = InferenceStatus(text("status") or "Unknown")
    except ValueError:
        status = InferenceStatus.UNKNOWN
    return InferenceRecord(
        inference_id=inference_id,
        status=status,
        output_location=text("outputLocation"),
        failure_location=text("failureLocation"),
        failure_reason=text("failureReason"),
        content_type=text("contentType"),
        routed_to=routed_to,
        routing=text(contract.ROUTING_ATTRIBUTE),
        routing_error=_routing_error(item.get(contract.ROUTING_ERROR_ATTRIBUTE)),
        latency_ms=float(latency) if latency is not None else None,
        submitted_at=parse_time(text("submittedAt")),
        expires_by=parse_time(text("expiresBy")),
        inline_body=inline_body,
        recovered=bool(item.get(contract.RECOVERED_ATTRIBUTE, {}).get("BOOL", False)),
        item=item,
    )


def _routing_error(value: Any) -> dict[str, str] | None:
    """``routingError`` as plain strings (a DynamoDB map of strings; a JSON string is accepted too)."""
    if not value:
        return None
    if "M" in value:
        return {k: next(iter(v.values())) if isinstance(v, dict) and v else "" for k, v in value["M"].items()}
    if "S" in value:
        try:
            decoded = json.loads(value["S"])
        except ValueError:
            return {"reason": "RoutingFailed", "message": value["S"], "handler": ""}
        return {k: str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else None
    return None
