"""Exactly-once: one claim write, one completion, under ambiguous writes (moto).

Every guard case runs on both homes of the lock: the result record the client reads (result store
on) and a lock record per result and status (result store off). "after effect" = moto applied the
write and the client was answered with a throttle or a 500, which botocore retries as in AWS;
"before effect" = the write never happened.
"""

from __future__ import annotations

import json
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
from sagemaker_async_results.runtime.record_guard import (
    DEFAULT_LOCK_SECONDS,
    FINAL_WRITE_ROUNDS,
    AlreadyRouted,
    Lock,
    RecordGuard,
    lock_seconds,
)
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import LambdaContext, lambda_context, notification, sqs_event

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


# -- the app: calls per result and per-entry failures -----------------------------------------------


class CountCalls:
    """Counts every AWS call (first attempts and retries alike) of a client, by operation."""

    def __init__(self, *clients: Any) -> None:
        self.calls: dict[str, int] = {}
        for client in clients:
            client.meta.events.register("before-send", self._count)

    def _count(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        name = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        if not name:  # query protocol (SQS JSON has a target too) or S3: the path's verb is enough
            name = f"{request.method} {request.url.split('?')[0].rsplit('/', 1)[-1]}"
        self.calls[name] = self.calls.get(name, 0) + 1


def target_config(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Result store, exactly-once and the SQS destination on; nothing else."""
    monkeypatch.delenv("EVENT_BUS_NAME")
    monkeypatch.setenv("STEP_FUNCTIONS_CALLBACK_ENABLED", "false")
    entrypoint.reset_app()


def test_a_batch_of_ten_costs_at_most_one_and_a_half_calls_per_result(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    target_config(aws, monkeypatch)
    app = entrypoint.get_app()
    locations = [aws.put_output(f"n{i}.out", b"{}") for i in range(10)]
    # As SageMaker sends them with the response inline (up to 128 KB) and the object in S3.
    messages = [
        notification(inference_id=f"n{i}", output_location=locations[i], body={"i": i}) for i in range(10)
    ]
    counter = CountCalls(app.clients.dynamodb, app.clients.sqs, app.clients.s3)
    recording_plugin.CALLS.clear()
    assert app(sqs_event(messages), lambda_context()) == {"batchItemFailures": []}
    assert counter.calls == {"UpdateItem": 10, "TransactWriteItems": 1, "SendMessageBatch": 1}, (
        "one claim per result, one completion and one send for the batch, no HeadObject"
    )
    assert sum(counter.calls.values()) / 10 <= 1.5
    assert sorted(json.loads(m["Body"])["inferenceId"] for m in aws.drain(aws.results_queue_url)) == sorted(
        f"n{i}" for i in range(10)
    )
    for i in range(10):
        item = aws.record(f"n{i}")
        assert item is not None
        assert (item["routing"], item["routedTo"]) == (
            "Routed",
            ["resultStore", "recording_plugin.record_success", "sqs"],
        )


def test_copies_in_one_batch_are_routed_once(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    target_config(aws, monkeypatch)
    app = entrypoint.get_app()
    message = notification(inference_id="dup", output_location=aws.put_output("dup.out", b"{}"))
    other = notification(inference_id="other", output_location=aws.put_output("other.out", b"{}"))
    recording_plugin.CALLS.clear()
    assert app(sqs_event([message, other, message, message]), lambda_context()) == {"batchItemFailures": []}
    assert sorted(c["inferenceId"] for c in recording_plugin.CALLS) == ["dup", "other"]
    assert len(aws.drain(aws.results_queue_url)) == 2


class RefusingSqs:
    """The real (moto) SQS client, except that SendMessageBatch refuses chosen results' entries."""

    def __init__(self, real: Any, refuse: dict[str, int]) -> None:
        self._real = real
        #: inference ID -> how many more times its entry is refused (retryable, as an internal error)
        self.refuse = refuse
        self.batch_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.batch_calls += 1
        accepted, failed = [], []
        for entry in Entries:
            inference_id = json.loads(entry["MessageBody"])["inferenceId"]
            if self.refuse.get(inference_id, 0) > 0:
                self.refuse[inference_id] -= 1
                failed.append(
                    {"Id": entry["Id"], "Code": "InternalError", "SenderFault": False, "Message": "x"}
                )
            else:
                accepted.append(entry)
        response = self._real.send_message_batch(QueueUrl=QueueUrl, Entries=accepted) if accepted else {}
        return {"Successful": response.get("Successful", []), "Failed": failed}


def test_a_refused_entry_fails_only_its_own_record_and_a_passing_retry_routes(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    target_config(aws, monkeypatch)
    app = entrypoint.get_app()
    fake = RefusingSqs(app.clients.sqs, {"e1": 99, "e2": 1})
    app.clients._clients["sqs"] = fake
    messages = [
        notification(inference_id=f"e{i}", output_location=aws.put_output(f"e{i}.out", b"{}"))
        for i in range(4)
    ]
    event = sqs_event(messages)
    response = app(event, lambda_context())
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert fake.batch_calls == 3, "the refused entries were sent again, up to three times in all"
    failed = aws.record("e1")
    assert failed is not None
    assert (failed["routing"], failed["routingError"]["handler"]) == ("Failed", {"S": "sqs"})
    assert failed["routedTo"] == ["resultStore", "recording_plugin.record_success"]
    for name in ("e0", "e2", "e3"):
        item = aws.record(name)
        assert item is not None
        assert item["routing"] == "Routed"
    sent = sorted(json.loads(m["Body"])["inferenceId"] for m in aws.drain(aws.results_queue_url))
    assert sent == ["e0", "e2", "e3"]


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


# -- the app: ambiguous claims, resumed retries, lock lifetime, concurrent copies -------------------


@pytest.mark.parametrize("store", ["true", "false"], ids=["result-record", "lock-record"])
def test_ambiguous_claim_never_dead_letters_a_good_result(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    """Every claim attempt but the last answered with an error after taking effect."""
    monkeypatch.setenv("RESULT_STORE_ENABLED", store)
    entrypoint.reset_app()
    app = entrypoint.get_app()
    faults = Faults().install(app.clients.dynamodb).add("UpdateItem", times=ATTEMPTS - 1, after_effect=True)
    message = notification(inference_id="amb-app", output_location=aws.put_output("amb.out", b"{}"))
    assert app(sqs_event([message]), lambda_context()) == {"batchItemFailures": []}
    assert [c["inferenceId"] for c in recording_plugin.CALLS] == ["amb-app"]
    assert faults.calls["UpdateItem"] == ATTEMPTS + 1, "the claim's attempts, then one completion"
    assert app(sqs_event([message]), lambda_context()) == {"batchItemFailures": []}
    assert len(recording_plugin.CALLS) == 1, "the redelivery is a duplicate, not routed again"


@pytest.mark.parametrize("store", ["true", "false"], ids=["result-record", "lock-record"])
def test_a_handler_that_returned_is_not_called_again_when_a_later_send_failed(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    """The failed attempt's handler ran; its retry claims ambiguously and still skips it."""
    target_config(aws, monkeypatch)
    monkeypatch.setenv("RESULT_STORE_ENABLED", store)
    entrypoint.reset_app()
    app = entrypoint.get_app()
    message = notification(inference_id="once", output_location=aws.put_output("once.out", b"{}"))
    sqs_faults = Faults().install(app.clients.sqs).add("SendMessage", times=ATTEMPTS, after_effect=False)
    event = sqs_event([message])
    assert app(event, lambda_context()) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
    assert sqs_faults.calls["SendMessage"] == ATTEMPTS
    assert [c["inferenceId"] for c in recording_plugin.CALLS] == ["once"]
    Faults().install(app.clients.dynamodb).add("UpdateItem", times=1, after_effect=True, error=SERVER_ERROR)
    assert app(event, lambda_context()) == {"batchItemFailures": []}
    assert [c["inferenceId"] for c in recording_plugin.CALLS] == ["once"], "the handler ran once"
    assert [json.loads(m["Body"])["inferenceId"] for m in aws.drain(aws.results_queue_url)] == ["once"]
    if store == "true":
        item = aws.record("once")
        assert item is not None
        assert (item["routing"], item["routedTo"]) == (
            "Routed",
            ["resultStore", "recording_plugin.record_success", "sqs"],
        )


def test_lock_lives_as_long_as_the_invocation_has_left() -> None:
    assert lock_seconds(LambdaContext(timeout_ms=45_000)) == pytest.approx(45, abs=1)
    assert lock_seconds(LambdaContext(timeout_ms=0)) == 1.0
    assert lock_seconds(None) == DEFAULT_LOCK_SECONDS


def test_app_locks_for_the_remaining_time_of_the_invocation(aws: Aws, dynamodb: Any) -> None:
    seen: list[dict[str, Any] | None] = []
    router = Router()

    @router.on_success()
    def look_at_the_lock(result: Any) -> None:
        key = f"result#{result.inference_id}"
        seen.append(dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}}).get("Item"))

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
