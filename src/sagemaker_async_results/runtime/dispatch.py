"""Event dispatch and batching: from a Lambda event to records, and from outcomes to the response.

The event's shape decides (docs/architecture.md):

* SQS event (buffered mode): records are routed together (concurrently, up to
  ``BATCH_CONCURRENCY`` at once, with batch calls for what they share), and the response is a
  partial batch response naming each failed record by its ``messageId``. A record that has no ``messageId`` (not an object, or a hand-made event) cannot
  be named: it is reported with an empty ``itemIdentifier``, which Lambda takes as the whole batch
  failing, so nothing is dropped; the records that were routed are recognised as duplicates when
  the batch comes back (with a results table).
* SNS event (direct mode) or a bare notification: records are routed one after the other, and
  the invocation raises when any failed, so Lambda retries the event and finally hands it to its
  on-failure destination.

Nothing here knows what routing a record means: it is handed
``process_batch(extracts, context, concurrent=...)``, which returns one outcome or structured
error per record, in order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sagemaker_async_results.runtime.envelopes import EventKind, detect, sns_record_message, sqs_item
from sagemaker_async_results.runtime.errors import RecordsFailedError, ResultError

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.lifecycle import Outcome

#: Returns one record's message, or raises a structured error when its envelope is bad.
Extract = Callable[[], Any]


class ProcessBatch(Protocol):
    """Routes the records of one event: the record lifecycle."""

    def __call__(
        self, extracts: Sequence[Extract], context: Any, *, concurrent: bool
    ) -> list[Outcome | ResultError]: ...


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One record of an event: its SQS ``messageId`` (``None`` elsewhere) and how to get its message."""

    item_id: str | None
    extract: Extract


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What happened to one record: an outcome, or the structured error it failed with."""

    item_id: str | None
    outcome: Outcome | ResultError


def records_of(event: Any) -> tuple[EventKind, list[EventRecord]]:
    """The event's kind and records; never raises (a bad event is one record that fails)."""
    try:
        kind = detect(event)
    except ResultError as err:  # reported like any failed record: logged, counted, raised
        return "notification", [EventRecord(None, functools.partial(_raise, err))]
    if kind == "sqs":
        return kind, [EventRecord(*sqs_item(record)) for record in event["Records"]]
    if kind == "sns":
        return kind, [EventRecord(None, functools.partial(sns_record_message, r)) for r in event["Records"]]
    return kind, [EventRecord(None, lambda: event)]


def _raise(error: Exception) -> Any:
    raise error


class Dispatcher:
    """Runs the records of an event through ``process_batch`` and builds the invocation's response.

    Parameters
    ----------
    process_batch
        Routes the records of one event (``extracts``, Lambda context, ``concurrent``) -> one outcome
        or structured error per record; ``concurrent`` is true for an SQS batch.
    """

    def __init__(self, process_batch: ProcessBatch) -> None:
        self._process_batch = process_batch

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        kind, records = records_of(event)
        return self.respond(kind, self.route(kind, records, context))

    def route(self, kind: EventKind, records: Sequence[EventRecord], context: Any) -> list[RecordOutcome]:
        """Route every record; failures are returned, not raised, each with its record's identifier."""
        outcomes = self._process_batch([r.extract for r in records], context, concurrent=kind == "sqs")
        return [RecordOutcome(r.item_id, o) for r, o in zip(records, outcomes, strict=True)]

    @staticmethod
    def respond(kind: EventKind, outcomes: Sequence[RecordOutcome]) -> dict[str, Any]:
        """The invocation's response: a partial batch response (SQS), or results / a raised error."""
        if kind == "sqs":
            failures: list[dict[str, str]] = []
            for item in outcomes:
                failure = {"itemIdentifier": item.item_id or ""}
                if isinstance(item.outcome, ResultError) and failure not in failures:
                    failures.append(failure)
            return {"batchItemFailures": failures}
        errors = [item.outcome for item in outcomes if isinstance(item.outcome, ResultError)]
        if len(errors) == 1 and len(outcomes) == 1:
            raise errors[0]
        if errors:
            raise RecordsFailedError(errors)
        return {"results": [o.outcome.to_dict() for o in outcomes if not isinstance(o.outcome, ResultError)]}
