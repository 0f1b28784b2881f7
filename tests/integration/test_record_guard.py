"""Exactly-once: one claim write, one completion, under ambiguous writes (moto).

Every guard case runs on both homes of the lock: the result record the client reads (result store
on) and a lock record per result and status (result store off). "after effect" = moto applied the
write and the client was answered with a throttle or a 500, which botocore retries as in AWS;
"before effect" = the write never happened.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TABLE, Aws
from faults import SERVER_ERROR, THROTTLE, Faults

from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS, Clients
from sagemaker_async_results.runtime.errors import DuplicateInProgressError, ResultError
from sagemaker_async_results.runtime.record_guard import (
    DEFAULT_LOCK_SECONDS,
    FINAL_WRITE_ROUNDS,
    AlreadyRouted,
    Lock,
    RecordGuard,
    lock_seconds,
)
from sagemaker_async_results.runtime.testing import LambdaContext

ATTEMPTS = MAX_ATTEMPTS + 1
VALUES = {"status": {"S": "Completed"}, "inferenceId": {"S": "x"}}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb(aws: Aws) -> Any:
    return Clients().dynamodb


@pytest.fixture
def clock() -> Clock:
    return Clock()


#: Where the lock lives: ``None`` = on the result record; a number = on a lock record kept that long.
LOCK_HOMES = {"result-record": None, "lock-record": 3600}


@pytest.fixture(params=list(LOCK_HOMES))
def guard(request: pytest.FixtureRequest, dynamodb: Any, clock: Clock) -> RecordGuard:
    return RecordGuard(
        table=TABLE, dynamodb=lambda: dynamodb, ttl_seconds=LOCK_HOMES[request.param], clock=clock
    )


@pytest.fixture
def record(guard: RecordGuard, dynamodb: Any) -> Any:
    """Reads the record holding the lock of an inference ID's ``Completed`` result."""

    def read(inference_id: str, status: str = "Completed") -> dict[str, Any] | None:
        key = guard.key(inference_id, status)
        item: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")
        return item

    return read


def error(reason: str = "Boom") -> ResultError:
    return ResultError("boom", reason=reason, received="x", expected="y")


def claim(guard: RecordGuard, inference_id: str, status: str = "Completed") -> Lock | AlreadyRouted:
    return guard.claim(inference_id, status, VALUES, lock_seconds=30, routed_to=["resultStore"])


# -- claim ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [THROTTLE, SERVER_ERROR], ids=["throttle", "500"])
@pytest.mark.parametrize("times", [1, ATTEMPTS - 1])
def test_claim_recognises_its_own_write_answered_with_an_error(
    guard: RecordGuard, dynamodb: Any, record: Any, error: tuple[int, str], times: int
) -> None:
    faults = Faults().install(dynamodb).add("UpdateItem", times=times, after_effect=True, error=error)
    lock = claim(guard, "amb")
    assert isinstance(lock, Lock)
    assert faults.calls["UpdateItem"] == times + 1
    item = record("amb")
    assert item is not None
    assert (item["routing"]["S"], item["lockOwner"]["S"]) == ("InProgress", lock.owner)
    assert item["status"]["S"] == "Completed", "the claim stored the record"


def test_refused_retry_is_explained_by_the_record_returned_with_the_refusal(
    guard: RecordGuard, dynamodb: Any
) -> None:
    faults = Faults().install(dynamodb).add("UpdateItem", times=1, after_effect=True)
    faults.add("UpdateItem", times=1, after_effect=False, error=(400, "ConditionalCheckFailedException"))
    assert isinstance(claim(guard, "amb2"), Lock)
    assert faults.calls.get("GetItem", 0) <= 1


def test_claim_that_never_got_through_fails_and_writes_nothing(
    guard: RecordGuard, dynamodb: Any, record: Any
) -> None:
    Faults().install(dynamodb).add("UpdateItem", times=ATTEMPTS, after_effect=False)
    with pytest.raises(ResultError) as info:
        claim(guard, "down")
    assert (info.value.reason, info.value.inference_id) == ("Throttled", "down")
    assert record("down") is None


def test_lock_of_a_crashed_attempt_expires_with_its_invocation(
    guard: RecordGuard, dynamodb: Any, record: Any, clock: Clock
) -> None:
    Faults().install(dynamodb).add("UpdateItem", times=ATTEMPTS, after_effect=True)
    with pytest.raises(ResultError):
        claim(guard, "crash")
    assert record("crash") is not None
    clock.now += 29
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "crash")
    clock.now += 2
    assert isinstance(claim(guard, "crash"), Lock)


def test_two_copies_have_different_owners(guard: RecordGuard) -> None:
    assert isinstance(claim(guard, "twin"), Lock)
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "twin")


def test_claim_keeps_what_the_client_wrote(dynamodb: Any, clock: Clock) -> None:
    guard = RecordGuard(table=TABLE, dynamodb=lambda: dynamodb, clock=clock)
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "result#kept"}, "status": {"S": "Submitted"}, "submittedAt": {"S": "t0"}},
    )
    assert isinstance(claim(guard, "kept"), Lock)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "result#kept"}}).get("Item")
    assert item is not None
    assert (item["status"]["S"], item["submittedAt"]["S"]) == ("Completed", "t0")


# -- complete and fail -------------------------------------------------------------------------------


def test_completed_result_is_a_duplicate_and_another_status_is_not(guard: RecordGuard, clock: Clock) -> None:
    lock = claim(guard, "done")
    assert isinstance(lock, Lock)
    guard.complete_many([(lock, ["resultStore", "handler"])])
    clock.now += 10 * 86400  # as long as the record lives, not an idempotency TTL
    assert claim(guard, "done") == AlreadyRouted(["resultStore", "handler"])
    assert isinstance(claim(guard, "done", "Failed"), Lock), "another status is another result"


@pytest.mark.parametrize(("operation", "count"), [("UpdateItem", 1), ("TransactWriteItems", 3)])
def test_completion_answered_with_an_error_after_effect_is_still_completed(
    guard: RecordGuard, dynamodb: Any, operation: str, count: int
) -> None:
    locks = [claim(guard, f"c{i}") for i in range(count)]
    faults = Faults().install(dynamodb).add(operation, times=2, after_effect=True, error=SERVER_ERROR)
    guard.complete_many([(lock, ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert faults.calls[operation] == 3
    assert [claim(guard, f"c{i}") for i in range(count)] == [AlreadyRouted(["x"])] * count


def test_a_lost_lock_does_not_keep_the_rest_of_the_batch_in_progress(
    guard: RecordGuard, dynamodb: Any, clock: Clock
) -> None:
    locks = [claim(guard, f"l{i}") for i in range(3)]
    clock.now += 31
    thief = claim(guard, "l1")  # the lock of l1 expired and another attempt took it
    assert isinstance(thief, Lock)
    guard.complete_many([(lock, ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert claim(guard, "l0") == AlreadyRouted(["x"])
    assert claim(guard, "l2") == AlreadyRouted(["x"])
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "l1")  # the thief decides l1's outcome


def test_fail_answered_with_an_error_after_effect_lets_the_retry_claim(
    guard: RecordGuard, dynamodb: Any, record: Any
) -> None:
    lock = claim(guard, "f")
    assert isinstance(lock, Lock)
    faults = Faults().install(dynamodb).add("UpdateItem", times=1, after_effect=True)
    guard.fail(lock, ["resultStore"], error(), "h")
    assert faults.calls["UpdateItem"] == 2
    item = record("f")
    assert item is not None
    assert item["routing"]["S"] == "Failed"
    assert item["routingError"]["M"]["handler"]["S"] == "h"
    assert isinstance(claim(guard, "f"), Lock)


def test_fail_never_takes_another_owners_lock(guard: RecordGuard, clock: Clock) -> None:
    first = claim(guard, "o")
    assert isinstance(first, Lock)
    clock.now += 31
    assert isinstance(claim(guard, "o"), Lock)
    guard.fail(first, [], error("Late"), "h")
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "o")


def test_a_lock_record_is_kept_for_the_idempotency_ttl(dynamodb: Any, clock: Clock) -> None:
    guard = RecordGuard(table=TABLE, dynamodb=lambda: dynamodb, ttl_seconds=3600, clock=clock)
    lock = guard.claim("ttl", "Completed", lock_seconds=30)
    assert isinstance(lock, Lock)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "idempotency#result#ttl#Completed"}})["Item"]
    assert int(item["expiresAt"]["N"]) == int(clock.now) + 3600
    assert int(item["lockExpiresAt"]["N"]) == int(clock.now) + 30
    assert dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "result#ttl"}}).get("Item") is None


def test_the_retry_of_a_failed_attempt_skips_what_completed(guard: RecordGuard, record: Any) -> None:
    first = claim(guard, "r")
    assert isinstance(first, Lock)
    guard.fail(first, ["resultStore", "handler"], error(), "sqs")
    item = record("r")
    assert item is not None
    assert item["routedTo"]["L"] == [{"S": "resultStore"}, {"S": "handler"}]
    retry = claim(guard, "r")
    assert isinstance(retry, Lock)
    assert retry.resume == ("resultStore", "handler")
    guard.complete_many([(retry, ["resultStore", "handler", "sqs"])])
    item = record("r")
    assert item is not None
    assert "resumeSteps#Completed" not in item, "a routed result has nothing to resume"
    assert claim(guard, "r") == AlreadyRouted(["resultStore", "handler", "sqs"])


def test_a_retried_claim_after_a_failed_attempt_still_skips_what_completed(
    guard: RecordGuard, dynamodb: Any
) -> None:
    """The claim took effect (routing = InProgress again) and was answered with an error: its retry
    must still see the steps the failed attempt completed, or the handler would run twice."""
    first = claim(guard, "rr")
    assert isinstance(first, Lock)
    guard.fail(first, ["resultStore", "handler"], error(), "sqs")
    faults = Faults().install(dynamodb).add("UpdateItem", times=1, after_effect=True, error=SERVER_ERROR)
    retry = claim(guard, "rr")
    assert faults.calls["UpdateItem"] == 2
    assert isinstance(retry, Lock)
    assert retry.resume == ("resultStore", "handler")


def test_resume_steps_belong_to_their_status(guard: RecordGuard) -> None:
    failed = claim(guard, "st", "Failed")
    assert isinstance(failed, Lock)
    guard.fail(failed, ["handler"], error(), "sqs")
    other = claim(guard, "st", "Completed")
    assert isinstance(other, Lock)
    assert other.resume == ()


@pytest.mark.parametrize("write", ["fail", "complete"])
def test_the_outcome_write_outlasts_a_burst_longer_than_botocores_retries(
    guard: RecordGuard, dynamodb: Any, record: Any, write: str
) -> None:
    lock = claim(guard, "burst")
    assert isinstance(lock, Lock)
    faults = Faults().install(dynamodb).add("UpdateItem", times=2 * ATTEMPTS, after_effect=False)
    if write == "fail":
        guard.fail(lock, ["resultStore"], error(), "h")
    else:
        guard.complete_many([(lock, ["resultStore"])])
    assert faults.calls["UpdateItem"] == 2 * ATTEMPTS + 1
    item = record("burst")
    assert item is not None
    assert item["routing"]["S"] == ("Failed" if write == "fail" else "Routed")


def test_an_outcome_write_that_never_gets_through_is_logged_and_the_lock_expires(
    guard: RecordGuard, dynamodb: Any, record: Any, clock: Clock
) -> None:
    lock = claim(guard, "gone")
    assert isinstance(lock, Lock)
    faults = (
        Faults().install(dynamodb).add("UpdateItem", times=FINAL_WRITE_ROUNDS * ATTEMPTS, after_effect=False)
    )
    guard.fail(lock, ["resultStore"], error(), "h")  # never raises
    assert faults.calls["UpdateItem"] == FINAL_WRITE_ROUNDS * ATTEMPTS
    item = record("gone")
    assert item is not None
    assert item["routing"]["S"] == "InProgress"
    clock.now += 31
    assert isinstance(claim(guard, "gone"), Lock), "the lock expired with the invocation"


def test_a_large_record_completes_alone_and_the_small_ones_together(
    guard: RecordGuard, dynamodb: Any
) -> None:
    """A transaction costs twice the write units of a record: a large inline body is not worth the saved call."""
    big = {**VALUES, "inlineBody": {"B": b"x" * 10_000}}
    locks = [guard.claim("big", "Completed", big, lock_seconds=30)] + [
        claim(guard, f"s{i}") for i in range(2)
    ]
    faults = Faults().install(dynamodb)
    guard.complete_many([(lock, ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert faults.calls == {"UpdateItem": 1, "TransactWriteItems": 1}
    assert [claim(guard, name) for name in ("big", "s0", "s1")] == [AlreadyRouted(["x"])] * 3


def test_lock_lives_as_long_as_the_invocation_has_left() -> None:
    assert lock_seconds(LambdaContext(timeout_ms=45_000)) == pytest.approx(45, abs=1)
    assert lock_seconds(LambdaContext(timeout_ms=0)) == 1.0
    assert lock_seconds(None) == DEFAULT_LOCK_SECONDS
