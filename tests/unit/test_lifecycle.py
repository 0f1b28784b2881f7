"""The record lifecycle alone: claims, handlers, batch destinations and outcomes, without AWS.

The exactly-once guard is replaced by an in-memory one that records what the lifecycle asked of it, so
each test says exactly which claim, failure and completion a record's path produces. The guard's own
behaviour against DynamoDB is tested on moto in tests/integration/test_record_guard.py.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.lifecycle import Outcome, RecordLifecycle
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.payloads import LocationGuard
from sagemaker_async_results.runtime.record_guard import AlreadyRouted, Lock
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import S3Prefix, Settings
from sagemaker_async_results.runtime.testing import notification, test_notification

OUTPUTS = "s3://bucket/outputs/"


class FakeGuard:
    """Claims as told, and records every claim, failure and completion."""

    def __init__(self, answers: dict[str, Lock | AlreadyRouted] | None = None) -> None:
        self.answers = answers or {}
        self.claims: list[tuple[str, str, Any, list[str]]] = []
        self.failures: list[tuple[str, list[str], str, str]] = []
        self.completed: list[tuple[str, list[str]]] = []
        self._lock = threading.Lock()

    def claim(
        self, inference_id: str, status: str, values: Any = None, *, lock_seconds: float, routed_to: Any = ()
    ) -> Lock | AlreadyRouted:
        with self._lock:
            self.claims.append((inference_id, status, values, list(routed_to)))
        return self.answers.get(inference_id) or Lock(f"k#{inference_id}", inference_id, status)

    def fail(self, lock: Lock, routed_to: Sequence[str], error: ResultError, step: str) -> None:
        with self._lock:
            self.failures.append((lock.inference_id, list(routed_to), error.reason, step))

    def complete_many(self, done: Sequence[tuple[Lock, Sequence[str]]]) -> None:
        self.completed += [(lock.inference_id, list(routed_to)) for lock, routed_to in done]


class Destination:
    """A notify-once destination; ``refuse`` names the inference IDs whose entries fail."""

    def __init__(self, name: str, *, refuse: Sequence[str] = (), batch: bool = True) -> None:
        self.name = name
        self.refuse = set(refuse)
        self.sent: list[tuple[str, list[str]]] = []
        self.batches: list[int] = []
        if not batch:
            self.send_batch = None  # type: ignore[assignment]

    def applies(self, result: InferenceResult) -> bool:
        if result.attributes.get("applies") == "raise":
            raise KeyError("cannot tell")
        return result.attributes.get("applies") != "no"

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        if result.inference_id in self.refuse:
            raise RuntimeError("refused")
        self.sent.append((result.inference_id, record["routedTo"]))

    def send_batch(self, items: list[tuple[InferenceResult, dict[str, Any]]]) -> list[Exception | None]:
        self.batches.append(len(items))
        answers: list[Exception | None] = []
        for result, record in items:
            if result.inference_id in self.refuse:
                answers.append(RuntimeError(f"entry {result.inference_id} refused"))
            else:
                self.sent.append((result.inference_id, record["routedTo"]))
                answers.append(None)
        return answers


def lifecycle(
    router: Router,
    *,
    guard: FakeGuard | None = None,
    after: Sequence[Any] = (),
    concurrency: int = 1,
) -> RecordLifecycle:
    settings = Settings(readable_locations=(S3Prefix.parse(OUTPUTS),), batch_concurrency=concurrency)
    return RecordLifecycle(
        settings=settings,
        router=router,
        before=[],
        after=list(after),
        locations=LocationGuard(settings.readable_locations),
        s3_client=lambda: pytest.fail("no S3 call expected"),
        record_guard=guard,  # type: ignore[arg-type]
    )


def message(inference_id: str, **kwargs: Any) -> dict[str, Any]:
    return notification(inference_id=inference_id, body={"id": inference_id}, **kwargs)


def recording_router(calls: list[str], *, fail: Sequence[str] = ()) -> Router:
    router = Router()

    @router.on_result(name="h")
    def handle(result: InferenceResult) -> None:
        if result.inference_id in fail:
            raise ValueError("model output rejected")
        calls.append(result.inference_id)

    return router


def run(cycle: RecordLifecycle, *messages: dict[str, Any], concurrent: bool = False) -> list[Any]:
    return cycle.process_batch([lambda m=m: m for m in messages], concurrent=concurrent)


# -- outcomes ----------------------------------------------------------------------------------------


def test_outcome_serialises_with_the_record_names_and_is_frozen() -> None:
    outcome = Outcome("i", "routed", ["resultStore", "h"])
    assert outcome.to_dict() == {"inferenceId": "i", "outcome": "routed", "routedTo": ["resultStore", "h"]}
    assert Outcome("i", "test").routed_to == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.outcome = "duplicate"  # type: ignore[misc]


def test_process_returns_the_outcome_of_its_one_record_or_raises_its_error() -> None:
    calls: list[str] = []
    cycle = lifecycle(recording_router(calls, fail=["bad"]))
    assert cycle.process(lambda: message("ok")) == Outcome("ok", "routed", ["h"])
    with pytest.raises(ResultError) as info:
        cycle.process(lambda: message("bad"))
    assert (info.value.reason, info.value.inference_id) == ("HandlerFailed", "bad")
    assert calls == ["ok"]


def test_a_test_notification_is_acknowledged_and_only_its_declared_fields_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []
    guard = FakeGuard()
    sent = {**test_notification(), "secret": "do-not-log"}
    caplog.set_level("INFO")
    (outcome,) = run(lifecycle(recording_router(calls), guard=guard), sent)
    assert outcome == Outcome(None, "test")
    assert (calls, guard.claims) == ([], [])
    (entry,) = [r for r in caplog.records if r.getMessage() == "test notification acknowledged and ignored"]
    assert entry.notification == {  # type: ignore[attr-defined]
        "eventName": "TestNotification",
        "eventSource": "aws:sagemaker",
        "eventVersion": "1.0",
    }


def test_record_log_keys_are_removed_after_the_record() -> None:
    cycle = lifecycle(recording_router([]))
    run(cycle, message("k1"))
    keys = logger.thread_safe_get_current_keys()
    assert not {"correlation_id", "inference_id", "endpoint_name", "status"} & set(keys)


# -- claims, resume, failures ------------------------------------------------------------------------


def test_the_claim_comes_first_and_the_completion_names_what_ran() -> None:
    calls: list[str] = []
    guard = FakeGuard()
    sqs = Destination("sqs")
    assert run(lifecycle(recording_router(calls), guard=guard, after=[sqs]), message("c1")) == [
        Outcome("c1", "routed", ["h", "sqs"])
    ]
    assert guard.claims == [("c1", "Completed", None, [])]
    assert guard.completed == [("c1", ["h", "sqs"])]
    assert sqs.sent == [("c1", ["h"])], "a destination's record names what completed before it"
    assert guard.failures == []


def test_a_routed_result_is_a_duplicate_and_nothing_runs() -> None:
    calls: list[str] = []
    guard = FakeGuard({"d": AlreadyRouted(["h", "sqs"])})
    sqs = Destination("sqs")
    assert run(lifecycle(recording_router(calls), guard=guard, after=[sqs]), message("d")) == [
        Outcome("d", "duplicate", ["h", "sqs"])
    ]
    assert (calls, sqs.sent, guard.completed) == ([], [], [])


def test_steps_a_failed_attempt_completed_are_skipped_and_still_listed() -> None:
    calls: list[str] = []
    guard = FakeGuard({"r": Lock("k#r", "r", "Completed", resume=("h",))})
    sqs = Destination("sqs")
    assert run(lifecycle(recording_router(calls), guard=guard, after=[sqs]), message("r")) == [
        Outcome("r", "routed", ["h", "sqs"])
    ]
    assert calls == [], "the handler ran in the failed attempt"
    assert guard.completed == [("r", ["h", "sqs"])]


def test_a_destination_the_failed_attempt_completed_is_not_sent_again() -> None:
    guard = FakeGuard({"r": Lock("k#r", "r", "Completed", resume=("h", "sqs"))})
    sqs, bus = Destination("sqs"), Destination("eventBridge")
    outcome = run(lifecycle(recording_router([]), guard=guard, after=[sqs, bus]), message("r"))
    assert outcome == [Outcome("r", "routed", ["h", "sqs", "eventBridge"])]
    assert (sqs.sent, bus.sent) == ([], [("r", ["h", "sqs"])])


def test_a_failing_handler_records_the_failure_with_what_completed() -> None:
    guard = FakeGuard()
    router = recording_router([], fail=["f"])
    router.on_result(name="second")(lambda result: None)
    (error,) = run(lifecycle(router, guard=guard, after=[Destination("sqs")]), message("f"))
    assert isinstance(error, ResultError)
    assert (error.reason, error.inference_id) == ("HandlerFailed", "f")
    assert error.message == "handler h raised ValueError: model output rejected"
    assert (error.received, error.expected) == (
        "ValueError('model output rejected')",
        "the handler returns normally",
    )
    assert isinstance(error.__cause__, ValueError)
    assert guard.failures == [("f", [], "HandlerFailed", "h")]
    assert guard.completed == []


def test_an_exception_handler_that_returns_marks_the_handler_completed() -> None:
    router = recording_router([], fail=["x"])
    handled: list[str] = []
    router.exception_handler(ValueError)(lambda exc, result: handled.append(str(exc)))
    guard = FakeGuard()
    assert run(lifecycle(router, guard=guard), message("x")) == [Outcome("x", "routed", ["h"])]
    assert handled == ["model output rejected"]


def test_an_exception_handler_that_raises_fails_the_record() -> None:
    router = recording_router([], fail=["x"])

    def again(exc: Exception, result: InferenceResult) -> None:
        raise RuntimeError("still broken")

    router.exception_handler(ValueError)(again)
    (error,) = run(lifecycle(router, guard=FakeGuard()), message("x"))
    assert isinstance(error, ResultError)
    assert error.reason == "HandlerFailed"
    assert error.message == "exception handler for ValueError raised RuntimeError: still broken"
    assert error.received == "RuntimeError('still broken')"
    assert error.expected == "the exception handler returns normally (or no exception)"
    assert isinstance(error.__cause__, RuntimeError)


def test_checks_that_need_no_call_fail_before_the_claim() -> None:
    guard = FakeGuard()
    cycle = lifecycle(recording_router([]), guard=guard)
    refused, missing = run(
        cycle,
        notification(inference_id="elsewhere", output_location="s3://other/x.out"),
        notification(inference_id="no-output"),
    )
    assert isinstance(refused, ResultError)
    assert isinstance(missing, ResultError)
    assert (refused.reason, missing.reason) == ("LocationRefused", "PayloadNotFound")
    assert missing.received == "no responseBody and no responseParameters.outputLocation"
    assert guard.claims == []


# -- the batch's notify-once destinations -------------------------------------------------------------


def test_a_batch_goes_to_a_destination_in_one_call_and_a_refused_entry_fails_only_its_record() -> None:
    guard = FakeGuard()
    sqs = Destination("sqs", refuse=["b2"])
    outcomes = run(
        lifecycle(recording_router([]), guard=guard, after=[sqs]), message("b1"), message("b2"), message("b3")
    )
    assert sqs.batches == [3]
    assert outcomes[0] == Outcome("b1", "routed", ["h", "sqs"])
    assert isinstance(outcomes[1], ResultError)
    assert (outcomes[1].reason, outcomes[1].inference_id) == ("DestinationFailed", "b2")
    assert "destination sqs raised RuntimeError: entry b2 refused" in outcomes[1].message
    assert outcomes[2] == Outcome("b3", "routed", ["h", "sqs"])
    assert guard.failures == [("b2", ["h"], "DestinationFailed", "sqs")]
    assert sorted(guard.completed) == [("b1", ["h", "sqs"]), ("b3", ["h", "sqs"])]


def test_a_record_that_failed_one_destination_is_not_sent_to_the_next() -> None:
    sqs, bus = Destination("sqs", refuse=["n2"]), Destination("eventBridge")
    run(lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs, bus]), message("n1"), message("n2"))
    assert [i for i, _ in bus.sent] == ["n1"]


def test_a_destination_without_a_batch_api_sends_one_by_one() -> None:
    sqs = Destination("sqs", batch=False, refuse=["o2"])
    outcomes = run(
        lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs]), message("o1"), message("o2")
    )
    assert sqs.sent == [("o1", ["h"])]
    assert isinstance(outcomes[1], ResultError)
    assert outcomes[1].reason == "DestinationFailed"


def test_destinations_that_do_not_apply_are_skipped_and_one_that_cannot_tell_fails_its_record() -> None:
    guard = FakeGuard()
    sqs = Destination("sqs")
    skipped, broken = run(
        lifecycle(recording_router([]), guard=guard, after=[sqs]),
        message("s1", custom_attributes="applies=no"),
        message("s2", custom_attributes="applies=raise"),
    )
    assert skipped == Outcome("s1", "routed", ["h"])
    assert isinstance(broken, ResultError)
    assert (broken.reason, broken.inference_id) == ("DestinationFailed", "s2")
    assert guard.failures == [("s2", ["h"], "DestinationFailed", "sqs")]
    assert sqs.sent == []


def test_a_batch_that_raises_as_a_whole_fails_each_of_its_records() -> None:
    sqs = Destination("sqs")

    def broken(items: Any) -> Any:
        raise ConnectionError("endpoint unreachable")

    sqs.send_batch = broken  # type: ignore[method-assign]
    guard = FakeGuard()
    outcomes = run(lifecycle(recording_router([]), guard=guard, after=[sqs]), message("w1"), message("w2"))
    assert [o.reason for o in outcomes] == ["DestinationFailed", "DestinationFailed"]
    assert [f[0] for f in guard.failures] == ["w1", "w2"]


# -- copies in one batch, concurrency ----------------------------------------------------------------


def test_a_second_copy_in_a_batch_takes_the_first_copys_outcome() -> None:
    calls: list[str] = []
    guard = FakeGuard()
    first, other, copy = run(
        lifecycle(recording_router(calls), guard=guard), message("dup"), message("x"), message("dup")
    )
    assert first == Outcome("dup", "routed", ["h"])
    assert copy == Outcome("dup", "duplicate", ["h"])
    assert other == Outcome("x", "routed", ["h"])
    assert calls == ["dup", "x"]
    assert [c[0] for c in guard.claims] == ["dup", "x"]


def test_a_copy_of_a_failed_result_fails_with_it() -> None:
    first, copy = run(
        lifecycle(recording_router([], fail=["dup"]), guard=FakeGuard()), message("dup"), message("dup")
    )
    assert isinstance(first, ResultError)
    assert isinstance(copy, ResultError)
    assert copy.reason == "DuplicateInProgress"
    assert copy.received == str({"failedWith": "HandlerFailed"})


def test_without_a_guard_copies_are_routed_each() -> None:
    calls: list[str] = []
    run(lifecycle(recording_router(calls)), message("dup"), message("dup"))
    assert calls == ["dup", "dup"]


def test_records_of_a_batch_run_concurrently_on_one_reused_pool() -> None:
    barrier = threading.Barrier(3, timeout=5)
    router = Router()

    @router.on_result(name="h")
    def meet(result: InferenceResult) -> None:
        barrier.wait()  # passes only when three records are in their handlers at once

    cycle = lifecycle(router, guard=FakeGuard(), concurrency=3)
    for round_ in range(2):
        outcomes = run(cycle, *(message(f"p{round_}-{i}") for i in range(3)), concurrent=True)
        assert [o.outcome for o in outcomes] == ["routed"] * 3
    pool = cycle._pool
    assert pool is not None
    run(cycle, message("again-1"), message("again-2"), concurrent=True)
    assert cycle._pool is pool
