"""Event dispatch and batching, with a stand-in for the record lifecycle (no AWS, no parsing)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, get_type_hints

import pytest

from sagemaker_async_results.runtime.dispatch import Dispatcher, EventRecord, RecordOutcome, records_of
from sagemaker_async_results.runtime.envelopes import detect
from sagemaker_async_results.runtime.errors import (
    NotificationError,
    RecordsFailedError,
    ResultError,
)
from sagemaker_async_results.runtime.lifecycle import Outcome
from sagemaker_async_results.runtime.testing import notification, sns_event, sqs_event


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


def test_a_bad_event_fails_with_its_own_detection_error() -> None:
    event = {"Records": [{"eventSource": "aws:kinesis"}]}
    with pytest.raises(NotificationError) as detected:
        detect(event)
    kind, (record,) = records_of(event)
    assert (kind, record.item_id) == ("notification", None)
    with pytest.raises(NotificationError) as info:
        record.extract()
    assert info.value.message == detected.value.message == "unsupported event source 'aws:kinesis'"


def test_sns_records_extract_their_message_text() -> None:
    messages = [notification(inference_id="a"), notification(inference_id="b")]
    kind, records = records_of(sns_event(messages))
    assert kind == "sns"
    assert [r.item_id for r in records] == [None, None]
    assert [json.loads(r.extract()) for r in records] == messages
    _, (bad,) = records_of({"Records": [{"EventSource": "aws:sns", "Sns": {}}]})
    with pytest.raises(NotificationError) as info:
        bad.extract()
    assert info.value.message == "SNS record without Sns.Message"


def test_sqs_records_extract_their_unwrapped_body() -> None:
    message = notification(inference_id="a")
    kind, (record,) = records_of(sqs_event([message], raw=False))
    assert kind == "sqs"
    assert record.item_id is not None
    assert record.extract() == message


def test_a_bare_notification_is_one_record_that_is_the_event() -> None:
    event = notification(inference_id="a")
    kind, (record,) = records_of(event)
    assert (kind, record.item_id) == ("notification", None)
    assert record.extract() is event


def test_an_empty_event_has_no_records_and_an_empty_response() -> None:
    calls: list[int] = []

    def process_batch(extracts: Any, context: Any, *, concurrent: bool) -> list[Outcome | ResultError]:
        calls.append(len(extracts))
        return []

    assert Dispatcher(process_batch)({"Records": []}, None) == {"results": []}
    assert calls == [0]


def test_call_routes_an_sqs_event_and_answers_with_a_partial_batch_response() -> None:
    seen: list[tuple[Any, bool]] = []

    def process_batch(extracts: Any, context: Any, *, concurrent: bool) -> list[Outcome | ResultError]:
        seen.append((context, concurrent))
        items = [extract() for extract in extracts]
        return [
            failure(i["inferenceId"]) if i["inferenceId"] == "bad" else Outcome("ok", "routed") for i in items
        ]

    event = sqs_event([notification(inference_id="ok"), notification(inference_id="bad")], raw=True)
    response = Dispatcher(process_batch)(event, "ctx")
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert seen == [("ctx", True)]


def test_call_routes_a_direct_event_one_by_one_and_returns_results_in_order() -> None:
    seen: list[bool] = []

    def process_batch(extracts: Any, context: Any, *, concurrent: bool) -> list[Outcome | ResultError]:
        seen.append(concurrent)
        return [Outcome(json.loads(e())["inferenceId"], "routed", ["h"]) for e in extracts]

    event = sns_event([notification(inference_id="a"), notification(inference_id="b")])
    assert Dispatcher(process_batch)(event, None) == {
        "results": [
            {"inferenceId": "a", "outcome": "routed", "routedTo": ["h"]},
            {"inferenceId": "b", "outcome": "routed", "routedTo": ["h"]},
        ]
    }
    assert seen == [False]


def test_outcomes_must_pair_one_to_one_with_records() -> None:
    dispatcher = Dispatcher(lambda extracts, context, *, concurrent: [Outcome("a", "routed")])
    records = [EventRecord("m1", lambda: 1), EventRecord("m2", lambda: 2)]
    with pytest.raises(ValueError, match="zip"):
        dispatcher.route("sqs", records, None)


def test_partial_batch_response_without_failures_is_empty() -> None:
    outcomes = [RecordOutcome("m1", Outcome("a", "routed")), RecordOutcome(None, Outcome("b", "duplicate"))]
    assert Dispatcher.respond("sqs", outcomes) == {"batchItemFailures": []}
    assert Dispatcher.respond("sqs", []) == {"batchItemFailures": []}


def test_partial_batch_response_names_each_failed_record_once_in_order() -> None:
    outcomes = [
        RecordOutcome("m2", failure("a")),
        RecordOutcome("m1", failure("b")),
        RecordOutcome("m2", failure("c")),
        RecordOutcome("m3", Outcome("d", "routed")),
    ]
    assert Dispatcher.respond("sqs", outcomes) == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m1"}]
    }


def test_direct_mode_with_every_record_failing_raises_them_all() -> None:
    errors = [failure("a"), failure("b")]
    with pytest.raises(RecordsFailedError) as info:
        Dispatcher.respond("sns", [RecordOutcome(None, e) for e in errors])
    assert info.value.failures == errors
    assert info.value.message == "2 record(s) failed: Boom"


def test_direct_mode_one_failure_among_several_records_is_wrapped() -> None:
    only = failure("a")
    with pytest.raises(RecordsFailedError) as info:
        Dispatcher.respond(
            "notification", [RecordOutcome(None, Outcome("x", "routed")), RecordOutcome(None, only)]
        )
    assert info.value.failures == [only]
    assert info.value.inference_id == "a"


def test_direct_mode_results_skip_nothing_when_all_routed() -> None:
    outcomes = [
        RecordOutcome(None, Outcome("a", "routed", ["h"])),
        RecordOutcome(None, Outcome("b", "duplicate")),
    ]
    assert Dispatcher.respond("sns", outcomes) == {
        "results": [
            {"inferenceId": "a", "outcome": "routed", "routedTo": ["h"]},
            {"inferenceId": "b", "outcome": "duplicate", "routedTo": []},
        ]
    }


def test_records_and_outcomes_are_immutable_values() -> None:
    record = EventRecord("m1", lambda: 1)
    outcome = RecordOutcome("m1", Outcome("a", "routed"))
    for value, attribute in ((record, "item_id"), (outcome, "outcome")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attribute, None)
        assert not hasattr(value, "__dict__")
    assert EventRecord("m1", record.extract) == record
    assert get_type_hints(EventRecord)["extract"] == Callable[[], Any]
