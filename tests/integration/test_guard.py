"""The exactly-once guard under ambiguous writes: faults injected at the botocore boundary, on moto.

"after effect": moto applies the write, then the client is answered with a throttle or a 500 and
botocore retries it, as in AWS. "before effect": the write never happened.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import recording_plugin
from conftest import TABLE, Aws
from faults import SERVER_ERROR, THROTTLE, Faults

from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS, Clients
from sagemaker_async_results.runtime.errors import DuplicateInProgressError, ResultError
from sagemaker_async_results.runtime.guard import (
    DEFAULT_LOCK_SECONDS,
    AlreadyRouted,
    ExactlyOnceGuard,
    Lock,
    lock_seconds,
)
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import LambdaContext, lambda_context, notification, sqs_event

#: Attempts botocore makes in all: ``max_attempts`` of its config counts the retries only.
ATTEMPTS = MAX_ATTEMPTS + 1


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their sleep (the retry decisions are unchanged)."""
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dynamodb(aws: Aws) -> Any:
    """A DynamoDB client configured exactly as the runtime configures its own."""
    return Clients().dynamodb


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def guard(dynamodb: Any, clock: Clock) -> ExactlyOnceGuard:
    return ExactlyOnceGuard(table=TABLE, dynamodb=lambda: dynamodb, ttl_seconds=3600, clock=clock)


def lock_item(dynamodb: Any, key: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item")
    return item


# -- acquire ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [THROTTLE, SERVER_ERROR], ids=["throttle", "500"])
@pytest.mark.parametrize("times", [1, ATTEMPTS - 1])
def test_acquire_recognises_its_own_write_answered_with_an_error(
    guard: ExactlyOnceGuard, dynamodb: Any, error: tuple[int, str], times: int
) -> None:
    faults = Faults().install(dynamodb).add("PutItem", times=times, after_effect=True, error=error)
    claim = guard.acquire("amb", "Completed", lock_seconds=30)
    assert isinstance(claim, Lock)
    assert faults.calls["PutItem"] == times + 1  # botocore retried; the retry passed the owner condition
    item = lock_item(dynamodb, claim.key)
    assert item is not None
    assert (item["status"]["S"], item["owner"]["S"]) == ("INPROGRESS", claim.owner)


def test_refused_retry_is_explained_by_a_consistent_read_of_the_owner(
    guard: ExactlyOnceGuard, dynamodb: Any
) -> None:
    # The write took effect, the answer was lost, and the retry's condition failed anyway (a stricter
    # condition than the guard's own, as with a service that does not evaluate `owner = :me`).
    faults = Faults().install(dynamodb).add("PutItem", times=1, after_effect=True)
    faults.add("PutItem", times=1, after_effect=False, error=(400, "ConditionalCheckFailedException"))
    claim = guard.acquire("amb2", "Completed", lock_seconds=30)
    assert isinstance(claim, Lock)
    assert faults.calls["GetItem"] == 1


def test_ambiguous_acquire_never_dead_letters_a_good_result(aws: Aws) -> None:
    """The whole record path: every claim write answered with an error after taking effect."""
    app = entrypoint.get_app()
    faults = Faults().install(app.clients.dynamodb).add("UpdateItem", times=ATTEMPTS - 1, after_effect=True)
    message = notification(inference_id="amb-app", output_location=aws.put_output("amb.out", b"{}"))
    assert app(sqs_event([message]), lambda_context()) == {"batchItemFailures": []}
    assert [c["inferenceId"] for c in recording_plugin.CALLS] == ["amb-app"]
    assert faults.calls["UpdateItem"] == ATTEMPTS + 1, "the claim's attempts, then one completion"
    record = aws.record("amb-app")
    assert record is not None
    assert (record["routing"], record["routedStatuses"]) == ("Routed", ["Completed"])
    again = app(sqs_event([message]), lambda_context())
    assert again == {"batchItemFailures": []}
    assert len(recording_plugin.CALLS) == 1, "the redelivery is a duplicate, not routed again"


@pytest.mark.parametrize("times", [1, ATTEMPTS - 1])
def test_acquire_retries_faults_before_effect(guard: ExactlyOnceGuard, dynamodb: Any, times: int) -> None:
    faults = Faults().install(dynamodb).add("PutItem", times=times, after_effect=False)
    assert isinstance(guard.acquire("pre", "Completed", lock_seconds=30), Lock)
    assert faults.calls["PutItem"] == times + 1


def test_acquire_that_never_got_through_fails_the_record_and_leaves_no_lock(
    guard: ExactlyOnceGuard, dynamodb: Any
) -> None:
    Faults().install(dynamodb).add("PutItem", times=ATTEMPTS, after_effect=False)
    with pytest.raises(ResultError) as info:
        guard.acquire("down", "Completed", lock_seconds=30)
    assert (info.value.reason, info.value.inference_id) == ("Throttled", "down")
    assert lock_item(dynamodb, ExactlyOnceGuard.key("down", "Completed")) is None


def test_lock_of_a_crashed_attempt_expires_with_its_invocation(
    guard: ExactlyOnceGuard, dynamodb: Any, clock: Clock
) -> None:
    # Every attempt took effect and was answered with an error: the record fails, the lock stays.
    Faults().install(dynamodb).add("PutItem", times=ATTEMPTS, after_effect=True)
    with pytest.raises(ResultError):
        guard.acquire("crash", "Completed", lock_seconds=30)
    assert lock_item(dynamodb, ExactlyOnceGuard.key("crash", "Completed")) is not None
    clock.now += 29  # still inside the invocation that took it: a concurrent copy must wait
    with pytest.raises(DuplicateInProgressError):
        guard.acquire("crash", "Completed", lock_seconds=30)
    clock.now += 2  # the invocation's time is up; any redelivery comes later than this
    assert isinstance(guard.acquire("crash", "Completed", lock_seconds=30), Lock)


# -- complete and release ---------------------------------------------------------------------------


def test_completed_result_is_a_duplicate_until_the_idempotency_ttl(
    guard: ExactlyOnceGuard, clock: Clock
) -> None:
    lock = guard.acquire("done", "Completed", lock_seconds=30)
    assert isinstance(lock, Lock)
    guard.complete(lock, ["resultStore", "handler"])
    clock.now += 3599
    assert guard.acquire("done", "Completed", lock_seconds=30) == AlreadyRouted(["resultStore", "handler"])
    assert isinstance(guard.acquire("done", "Failed", lock_seconds=30), Lock), "another status, another key"
    clock.now += 2
    assert isinstance(guard.acquire("done", "Completed", lock_seconds=30), Lock)


def test_complete_answered_with_an_error_after_effect_is_still_completed(
    guard: ExactlyOnceGuard, dynamodb: Any
) -> None:
    lock = guard.acquire("c", "Completed", lock_seconds=30)
    assert isinstance(lock, Lock)
    faults = Faults().install(dynamodb).add("UpdateItem", times=2, after_effect=True, error=SERVER_ERROR)
    guard.complete(lock, ["x"])
    assert faults.calls["UpdateItem"] == 3
    assert guard.acquire("c", "Completed", lock_seconds=30) == AlreadyRouted(["x"])


def test_release_answered_with_an_error_after_effect_lets_the_retry_route(
    guard: ExactlyOnceGuard, dynamodb: Any
) -> None:
    lock = guard.acquire("r", "Completed", lock_seconds=30)
    assert isinstance(lock, Lock)
    faults = Faults().install(dynamodb).add("DeleteItem", times=1, after_effect=True)
    guard.release(lock)  # the retry finds nothing it owns: released, no error
    assert faults.calls["DeleteItem"] == 2
    assert isinstance(guard.acquire("r", "Completed", lock_seconds=30), Lock)


def test_release_never_takes_another_owners_lock(guard: ExactlyOnceGuard, clock: Clock) -> None:
    first = guard.acquire("o", "Completed", lock_seconds=30)
    assert isinstance(first, Lock)
    clock.now += 31
    second = guard.acquire("o", "Completed", lock_seconds=30)
    assert isinstance(second, Lock)
    guard.release(first)  # the first attempt woke up late
    with pytest.raises(DuplicateInProgressError):
        guard.acquire("o", "Completed", lock_seconds=30)


def test_two_copies_in_one_invocation_have_different_owners(guard: ExactlyOnceGuard) -> None:
    assert isinstance(guard.acquire("twin", "Completed", lock_seconds=30), Lock)
    with pytest.raises(DuplicateInProgressError) as info:
        guard.acquire("twin", "Completed", lock_seconds=30)
    assert info.value.received
    assert info.value.expected


# -- lock lifetime ----------------------------------------------------------------------------------


def test_lock_lives_as_long_as_the_invocation_has_left() -> None:
    assert lock_seconds(LambdaContext(timeout_ms=45_000)) == pytest.approx(45, abs=1)
    assert lock_seconds(LambdaContext(timeout_ms=0)) == 1.0
    assert lock_seconds(None) == DEFAULT_LOCK_SECONDS


def test_app_locks_for_the_remaining_time_of_the_invocation(aws: Aws, dynamodb: Any) -> None:
    seen: list[dict[str, Any] | None] = []
    router = Router()

    @router.on_success()
    def look_at_the_lock(result: Any) -> None:
        seen.append(lock_item(dynamodb, f"result#{result.inference_id}"))

    app = ResultsApp(settings=Settings.from_env(), routers=[router])
    message = notification(inference_id="t", output_location=aws.put_output("t.out", b"{}"))
    app.process(lambda: message, LambdaContext(timeout_ms=20_000))
    (item,) = seen
    assert item is not None
    assert item["routing"]["S"] == "InProgress"
    assert int(item["lockExpiresAt"]["N"]) - time.time() == pytest.approx(20, abs=2)


def test_concurrent_duplicate_is_retried_later_not_dropped(aws: Aws) -> None:
    """Two invocations get the same notification: one routes, the other's record fails until then."""
    started, release = threading.Event(), threading.Event()
    routed: list[str] = []
    router = Router()

    @router.on_success()
    def slow(result: InferenceResult) -> None:
        started.set()
        assert release.wait(10)
        routed.append(result.inference_id)

    first, second = (ResultsApp(settings=Settings.from_env(), routers=[router]) for _ in range(2))
    message = notification(inference_id="race", output_location=aws.put_output("race.out", b"{}"))
    event = sqs_event([message])
    worker = threading.Thread(target=first, args=(event, lambda_context()))
    worker.start()
    assert started.wait(10)

    assert second(event, lambda_context()) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }, "a copy that meets the result in progress fails its record, so SQS delivers it again"
    release.set()
    worker.join(10)
    assert second(event, lambda_context()) == {"batchItemFailures": []}  # the redelivery: a duplicate
    assert routed == ["race"]
