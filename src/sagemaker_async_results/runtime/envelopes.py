"""Envelopes: find every SageMaker message in whatever event Lambda delivers.

Detected from the event's shape (the delivery mode setting is informational only):

* ``sns`` — Lambda SNS event, ``Records[].Sns.Message`` (direct mode);
* ``sqs`` — Lambda SQS event, ``Records[].body`` being an SNS envelope (non-raw delivery) or the
  notification itself (raw delivery) (buffered mode);
* ``notification`` — a bare notification (direct invoke, tests, local run).

The envelope models validate only the fields this runtime uses. Powertools' ``SnsModel`` /
``SqsModel`` are stricter (signing URLs, attribute sets): a record must not fail for a field we
never read, and SNS-in-SQS envelopes spell ``SigningCertURL`` differently from Lambda's SNS events.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import ValidationError

from sagemaker_async_results.runtime.errors import NotificationError
from sagemaker_async_results.runtime.models import (
    InferenceResultNotification,
    TestNotification,
    parse_notification,
)

EventKind = Literal["sns", "sqs", "notification"]

EXPECTED_EVENT = "a Lambda SNS event, a Lambda SQS event, or a bare SageMaker notification"
EXPECTED_MESSAGE = (
    'a SageMaker notification: {"eventName": "InferenceResult", "inferenceId": ..., '
    '"invocationStatus": "Completed"|"Failed", ...} or {"eventName": "TestNotification"}'
)


def detect(event: Any) -> EventKind:
    """Which envelope ``event`` is; raises ``NotificationError`` for records of another source."""
    if isinstance(event, Mapping) and isinstance(event.get("Records"), list):
        records = event["Records"]
        if not records:
            return "sns"  # nothing to do either way
        # The first record that is an object decides; records of another shape fail on their own.
        first = next((r for r in records if isinstance(r, Mapping)), None)
        if first is None:
            return "sns"  # nothing to go by: every record fails on its own, and the event raises
        source = first.get("EventSource") or first.get("eventSource")
        if source == "aws:sns" or "Sns" in first:
            return "sns"
        if source == "aws:sqs" or "body" in first:
            return "sqs"
        raise NotificationError(
            f"unsupported event source {source!r}", received=first, expected=EXPECTED_EVENT
        )
    return "notification"


def sns_record_message(record: Any) -> str:
    """``Records[i].Sns.Message`` of a Lambda SNS event record."""
    sns = record.get("Sns") if isinstance(record, Mapping) else None
    message = sns.get("Message") if isinstance(sns, Mapping) else None
    if not isinstance(message, str):
        raise NotificationError(
            "SNS record without Sns.Message", received=record, expected="a Lambda SNS record"
        )
    return message


def load_json(text: Any, *, what: str) -> Any:
    """Parse JSON text; raises ``NotificationError`` (reason ``MalformedJson``) naming ``what``."""
    if not isinstance(text, str | bytes):
        return text
    try:
        return json.loads(text)
    except RecursionError:
        problem = "nested deeper than the parser's recursion limit"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError (bytes that are not UTF-8/16/32)
        problem = str(exc)
    raise NotificationError(
        f"{what} is not valid JSON: {problem}",
        reason="MalformedJson",
        received=text,
        expected="JSON text (UTF-8), nested at most a few hundred levels",
    )


def unwrap_sqs_body(body: Any) -> Any:
    """The message inside an SQS body: unwraps an SNS envelope (non-raw), else the body (raw)."""
    data = load_json(body, what="SQS message body")
    if isinstance(data, Mapping) and data.get("Type") == "Notification" and "Message" in data:
        return load_json(data["Message"], what="SNS Message (inside the SQS body)")
    return data


def sqs_item(record: Any) -> tuple[str | None, Callable[[], Any]]:
    """``(messageId, extractor)`` of one SQS record; the extractor returns its message or raises.

    A record that is not an object, or has no ``messageId``, is never routed: its extractor raises
    ``NotificationError`` (reason ``MalformedRecord``) and its identifier is ``None``. Lambda's SQS
    poller always sends both, so such a record comes from a hand-made event.
    """
    if not isinstance(record, Mapping):
        return None, _raiser(
            NotificationError(
                "SQS record is not an object",
                reason="MalformedRecord",
                received=record,
                expected="a Lambda SQS record: {messageId, body, ...}",
            )
        )
    message_id = record.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        return None, _raiser(
            NotificationError(
                "SQS record without messageId: it cannot be named in a partial batch response",
                reason="MalformedRecord",
                received=record,
                expected="a Lambda SQS record with a non-empty messageId",
            )
        )
    return message_id, functools.partial(unwrap_sqs_body, record.get("body"))


def _raiser(error: Exception) -> Callable[[], Any]:
    def extract() -> Any:
        raise error

    return extract


def parse_message(message: Any) -> InferenceResultNotification | TestNotification:
    """Validate a decoded message as SageMaker's; raises ``NotificationError`` with the details."""
    data = load_json(message, what="SNS Message") if isinstance(message, str | bytes) else message
    try:
        return parse_notification(data)
    except ValidationError as exc:
        inference_id = data.get("inferenceId") if isinstance(data, Mapping) else None
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise NotificationError(
            f"not a SageMaker async inference notification ({problems})",
            received=data,
            expected=EXPECTED_MESSAGE,
            inference_id=inference_id if isinstance(inference_id, str) else None,
        ) from None
