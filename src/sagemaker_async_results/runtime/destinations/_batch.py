"""Sending one entry per result with a batch API (SQS, EventBridge, Kinesis), failing only the entries that failed.

A batch API answers per entry: some entries of a call can fail while the others took effect. The
entries that failed with a retryable error are sent again (in a new call) up to
:data:`ENTRY_ATTEMPTS` times in all; what still fails is reported for that entry only, so only its
record fails and is retried. A call that fails as a whole (after botocore's retries) fails each of
its entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sagemaker_async_results.runtime.errors import AwsCallError, ResultError
from sagemaker_async_results.runtime.payloads import THROTTLING_CODES, aws_error

#: Sends of one entry before its failure is reported (first send included).
ENTRY_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """One entry's failure as the service reported it."""

    code: str
    message: str
    retryable: bool = True


#: Sends one call's entries; returns one ``EntryFailure`` or ``None`` per entry, in order.
Call = Callable[[list[dict[str, Any]]], list[EntryFailure | None]]


def chunks(sizes: Sequence[int], *, max_entries: int, max_bytes: int) -> list[list[int]]:
    """Indexes grouped into calls of at most ``max_entries`` entries and ``max_bytes`` bytes."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) >= max_entries or total + size > max_bytes):
            groups.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        groups.append(current)
    return groups


def send_entries(
    entries: Sequence[dict[str, Any]],
    *,
    sizes: Sequence[int],
    max_entries: int,
    max_bytes: int,
    call: Call,
) -> list[Exception | EntryFailure | None]:
    """Send every entry; returns per entry ``None`` (sent), the service's failure, or the call's exception."""
    outcome: list[Exception | EntryFailure | None] = [None] * len(entries)
    pending = list(range(len(entries)))
    for _ in range(ENTRY_ATTEMPTS):
        retry: list[int] = []
        for group in chunks([sizes[i] for i in pending], max_entries=max_entries, max_bytes=max_bytes):
            indexes = [pending[i] for i in group]
            try:
                answers = call([entries[i] for i in indexes])
            except Exception as exc:  # already retried by botocore: the whole call failed
                for i in indexes:
                    outcome[i] = exc
                continue
            for i, answer in zip(indexes, answers, strict=True):
                outcome[i] = answer
                if answer is not None and answer.retryable:
                    retry.append(i)
        if not retry:
            break
        pending = retry
    return outcome


def entry_error(
    outcome: Exception | EntryFailure | None, inference_id: str, operation: str
) -> ResultError | None:
    """The structured error of one entry's outcome from :func:`send_entries`."""
    if outcome is None:
        return None
    if isinstance(outcome, EntryFailure):
        return AwsCallError(
            f"{operation} refused the entry: {outcome.code} {outcome.message}",
            reason="Throttled"
            if outcome.code in THROTTLING_CODES or "Throttl" in outcome.code
            else "AwsCallFailed",
            received=outcome.code,
            expected=f"the entry accepted by {operation}",
            inference_id=inference_id,
        )
    return aws_error(outcome, operation=operation, inference_id=inference_id)
