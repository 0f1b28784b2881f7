"""Event dispatch and batching, with a stand-in for the record lifecycle (no AWS, no parsing)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sagemaker_async_results.runtime.dispatch import Dispatcher, EventRecord, RecordOutcome, records_of
from sagemaker_async_results.runtime.errors import (
    DuplicateInProgressError,
    NotificationError,
    RecordsFailedError,
    ResultError,
)
from sagemaker_async_results.runtime.lifecycle import Outcome


def failure(inference_id: str) -> ResultError:
    return ResultError("no", reason="Boom", received="x", expected="y", inference_id=inference_id)


def test_partial_batch_response_names_failed_records_by_message_id() -> None:
    outcomes = [
        RecordOutcome("m-ok", Outcome("a", "routed")),
        RecordOutcome("m-bad", failure("b")),
        RecordOutcome(None, failure("c")),
        RecordOutcome(None, failure("d")),
    ]
    assert Dispatcher.respond("sqs", outcomes) == {
        "batchItemFailures": [{"itemIdentifier": "m-bad"}, {"itemIdentifier": ""}]
    }


def test_direct_mode_raises_the_only_error_or_all_of_them() -> None:
    only = failure("a")
    with pytest.raises(ResultError) as info:
        Dispatcher.respond("sns", [RecordOutcome(None, only)])
    assert info.value is only
    with pytest.raises(RecordsFailedError) as many:
        Dispatcher.respond(
            "sns", [RecordOutcome(None, failure("a")), RecordOutcome(None, Outcome("b", "routed"))]
        )
    assert [f.inference_id for f in many.value.failures] == ["a"]
    assert Dispatcher.respond("notification", [RecordOutcome(None, Outcome(None, "test"))]) == {
        "results": [{"inferenceId": None, "outcome": "test", "routedTo": []}]
    }


def test_a_bad_event_is_one_failing_record_not_an_exception() -> None:
    kind, records = records_of({"Records": [{"eventSource": "aws:kinesis"}]})
    assert kind == "notification"
    (record,) = records
    with pytest.raises(NotificationError):
        record.extract()


def test_sqs_records_carry_their_message_ids() -> None:
    kind, records = records_of({"Records": [{"messageId": "m1", "body": "{}"}, {"body": "{}"}, 7]})
    assert kind == "sqs"
    assert [r.item_id for r in records] == ["m1", None, None]


def test_copy_that_met_its_twin_in_progress_is_tried_again_after_the_batch() -> None:
    calls: list[str] = []
    lock = threading.Lock()
    twins = threading.Barrier(2, timeout=5)
    state: dict[str, str] = {}

    def process(extract: Any, context: Any) -> Outcome:
        item = extract()
        with lock:
            calls.append(item)
            first_round = len(calls) <= 2
        if first_round:
            twins.wait()  # both copies are in flight at once
        with lock:
            if state.get("x") == "done":
                return Outcome("x", "duplicate")
            if state.get("x") == "busy":
                raise DuplicateInProgressError("busy", received=item, expected="no twin in progress")
            state["x"] = "busy"
        twins_done.wait()  # the twin has met the lock before this copy completes
        state["x"] = "done"
        return Outcome("x", "routed")

    twins_done = threading.Barrier(2, timeout=5)

    def twin_meets_lock(extract: Any, context: Any) -> Outcome:
        try:
            return process(extract, context)
        except DuplicateInProgressError:
            twins_done.wait()
            raise

    dispatcher = Dispatcher(twin_meets_lock, concurrency=2)
    records = [EventRecord("m1", lambda: "m1"), EventRecord("m2", lambda: "m2")]
    outcomes = dispatcher.route("sqs", records, None)
    assert sorted(o.outcome.outcome for o in outcomes if isinstance(o.outcome, Outcome)) == [
        "duplicate",
        "routed",
    ]
    assert len(calls) == 3, "the copy that met its twin in progress ran once more"
