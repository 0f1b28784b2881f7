"""Structured errors: every failure says what was received, what was expected, and why.

Each error carries a stable ``reason`` code (for log queries and alarms), the inference ID when it
is known, and a short ``received`` / ``expected`` pair, so a record in the dead-letter queue can be
diagnosed from its log line alone.
"""

from __future__ import annotations

import reprlib
from typing import Any

#: Longest ``received`` excerpt kept in an error (forged or huge messages must not flood the logs).
MAX_RECEIVED_CHARS = 500
#: Longest ``message`` kept (a library's exception text can be as big as the input it quotes).
MAX_MESSAGE_CHARS = 2000

# ``repr`` of a forged message would walk all of it: 50,000 levels of nesting exceed the recursion
# limit and a 100 MB string is copied whole. ``reprlib`` stops at a depth and a length.
_REPR = reprlib.Repr()
_REPR.maxlevel = 6
_REPR.maxstring = MAX_RECEIVED_CHARS
_REPR.maxother = MAX_RECEIVED_CHARS
_REPR.maxlong = 100
_NOTHING: Any = object()


def _printable(text: str) -> str:
    """``text`` that UTF-8 can carry: a lone surrogate from a forged message would make the log
    handler fail to write the line, losing the very error it reports."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _excerpt(value: Any) -> str:
    try:
        text = value if isinstance(value, str) else _REPR.repr(value)
    except Exception as exc:  # a value whose repr raises still gets an error report
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > MAX_RECEIVED_CHARS:
        text = text[:MAX_RECEIVED_CHARS] + f"... ({len(text)} chars)"
    return _printable(text)


class ResultError(Exception):
    """Base class of every error the runtime reports for one record.

    Parameters
    ----------
    message
        Human-readable summary.
    reason
        Stable reason code, e.g. ``MalformedJson`` or ``LocationRefused``.
    received
        What was actually received (shortened to an excerpt; ``None`` received is reported as ``None``).
    expected
        What the runtime expected instead.
    inference_id
        The inference ID, when the message got far enough to reveal it.
    """

    reason: str = "Unexpected"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        received: Any = _NOTHING,
        expected: str | None = None,
        inference_id: str | None = None,
    ) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[:MAX_MESSAGE_CHARS] + f"... ({len(message)} chars)"
        message = _printable(message)
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason
        #: ``None`` only when nothing was passed; an explicit ``None`` was received and says ``None``.
        self.received = None if received is _NOTHING else _excerpt(received)
        self.expected = expected
        self.inference_id = inference_id

    @property
    def inference_id(self) -> str | None:
        """The inference ID, when known (escaped if it is not valid Unicode: it goes into logs)."""
        return self._inference_id

    @inference_id.setter
    def inference_id(self, value: str | None) -> None:
        self._inference_id = None if value is None else _printable(value)

    def to_log(self) -> dict[str, Any]:
        """Fields for a structured log line (keys are stable: dashboards and alarms query them)."""
        return {
            "reason": self.reason,
            "error": self.message,
            "inference_id": self.inference_id,
            "received": self.received,
            "expected": self.expected,
            "error_type": type(self).__name__,
        }

    def __str__(self) -> str:
        parts = [f"{self.reason}: {self.message}"]
        if self.inference_id:
            parts.append(f"inference_id={self.inference_id}")
        if self.received is not None:
            parts.append(f"received={self.received}")
        if self.expected:
            parts.append(f"expected={self.expected}")
        return "; ".join(parts)


class ConfigurationError(ResultError):
    """The function's environment or plugin configuration is invalid (every problem listed at once)."""

    reason = "InvalidConfiguration"


class NotificationError(ResultError):
    """The event or message is not a SageMaker async inference notification we can parse."""

    reason = "NotSageMakerMessage"


class LocationRefusedError(ResultError):
    """Security: the notification names an S3 location outside ``READABLE_LOCATIONS``; it is never read."""

    reason = "LocationRefused"


class PayloadNotFoundError(ResultError):
    """The output or failure payload does not exist (or the notification names none)."""

    reason = "PayloadNotFound"


class PayloadTooLargeError(ResultError):
    """The payload exceeds ``MAX_PAYLOAD_BYTES``: use ``result.open()`` to stream it instead."""

    reason = "PayloadTooLarge"

    def __init__(self, message: str, *, size: int, limit: int, inference_id: str | None = None) -> None:
        super().__init__(
            message,
            received=f"{size} bytes",
            expected=f"at most {limit} bytes for an in-memory read (stream it with result.open())",
            inference_id=inference_id,
        )
        self.size = size
        self.limit = limit


class DecodeError(ResultError):
    """The payload cannot be decoded as its content type says."""

    reason = "UndecodableContent"


class AwsCallError(ResultError):
    """An AWS call failed after botocore's retries (``reason`` is ``Throttled`` for throttling)."""

    reason = "AwsCallFailed"


class HandlerError(ResultError):
    """A user result handler raised and no exception handler dealt with it."""

    reason = "HandlerFailed"


class DestinationError(ResultError):
    """A built-in destination raised something other than a structured error."""

    reason = "DestinationFailed"


class DuplicateInProgressError(ResultError):
    """The same result is being routed by a concurrent invocation; retry later."""

    reason = "DuplicateInProgress"


class DeadlineReachedError(ResultError):
    """Too little of the invocation's time is left to run a step and record it: the step is left to the retry."""

    reason = "DeadlineReached"


class RecordsFailedError(ResultError):
    """Direct mode: one or more records of the event failed; raised so Lambda retries the event."""

    reason = "RecordsFailed"

    def __init__(self, failures: list[ResultError]) -> None:
        super().__init__(
            f"{len(failures)} record(s) failed: " + ", ".join(sorted({f.reason for f in failures})),
            received=[f.inference_id or "unknown" for f in failures],
            expected="every record processed",
            inference_id=failures[0].inference_id if len(failures) == 1 else None,
        )
        self.failures = failures
