"""Event dispatch and batching, with a stand-in for the record lifecycle (no AWS, no parsing)."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_async_results.runtime.dispatch import Dispatcher, EventRecord, RecordOutcome, records_of
from sagemaker_async_results.runtime.errors import (
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


def test_records_are_handed_over_together_and_paired_with_their_outcomes_in_order() -> None:
    seen: list[tuple[list[str], bool]] = []

    def process_batch(extracts: Any, context: Any, *, concurrent: bool) -> list[Outcome | ResultError]:
        items = [extract() for extract in extracts]
        seen.append((items, concurrent))
        return [failure(i) if i == "bad" else Outcome(i, "routed") for i in items]

    dispatcher = Dispatcher(process_batch)
    records = [EventRecord("m1", lambda: "ok"), EventRecord("m2", lambda: "bad")]
    outcomes = dispatcher.route("sqs", records, None)
    assert [o.item_id for o in outcomes] == ["m1", "m2"]
    assert Dispatcher.respond("sqs", outcomes) == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    dispatcher.route("sns", [EventRecord(None, lambda: "ok")], None)
    assert seen == [(["ok", "bad"], True), (["ok"], False)], "only an SQS batch is routed concurrently"
