"""Exactly-once on the result record: one claim write, one completion, under ambiguous writes (moto).

The same cases as the separate lock item (test_guard.py), now on the record the client reads:
"after effect" = moto applied the write and the client was answered with a throttle or a 500,
which botocore retries as in AWS; "before effect" = the write never happened.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import recording_plugin
from conftest import TABLE, Aws
from faults import SERVER_ERROR, THROTTLE, Faults

from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS, Clients
from sagemaker_async_results.runtime.errors import DuplicateInProgressError, ResultError
from sagemaker_async_results.runtime.guard import AlreadyRouted, Lock
from sagemaker_async_results.runtime.record_guard import RecordGuard
from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event

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


@pytest.fixture
def guard(dynamodb: Any, clock: Clock) -> RecordGuard:
    return RecordGuard(table=TABLE, dynamodb=lambda: dynamodb, clock=clock)


def record(dynamodb: Any, inference_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(
        TableName=TABLE, Key={"pk": {"S": f"result#{inference_id}"}}
    ).get("Item")
    return item


def claim(guard: RecordGuard, inference_id: str, status: str = "Completed") -> Lock | AlreadyRouted:
    return guard.claim(inference_id, status, VALUES, lock_seconds=30, routed_to=["resultStore"])


# -- claim ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [THROTTLE, SERVER_ERROR], ids=["throttle", "500"])
@pytest.mark.parametrize("times", [1, ATTEMPTS - 1])
def test_claim_recognises_its_own_write_answered_with_an_error(
    guard: RecordGuard, dynamodb: Any, error: tuple[int, str], times: int
) -> None:
    faults = Faults().install(dynamodb).add("UpdateItem", times=times, after_effect=True, error=error)
    lock = claim(guard, "amb")
    assert isinstance(lock, Lock)
    assert faults.calls["UpdateItem"] == times + 1
    item = record(dynamodb, "amb")
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


def test_claim_that_never_got_through_fails_and_writes_nothing(guard: RecordGuard, dynamodb: Any) -> None:
    Faults().install(dynamodb).add("UpdateItem", times=ATTEMPTS, after_effect=False)
    with pytest.raises(ResultError) as info:
        claim(guard, "down")
    assert (info.value.reason, info.value.inference_id) == ("Throttled", "down")
    assert record(dynamodb, "down") is None


def test_lock_of_a_crashed_attempt_expires_with_its_invocation(
    guard: RecordGuard, dynamodb: Any, clock: Clock
) -> None:
    Faults().install(dynamodb).add("UpdateItem", times=ATTEMPTS, after_effect=True)
    with pytest.raises(ResultError):
        claim(guard, "crash")
    assert record(dynamodb, "crash") is not None
    clock.now += 29
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "crash")
    clock.now += 2
    assert isinstance(claim(guard, "crash"), Lock)


def test_two_copies_have_different_owners(guard: RecordGuard) -> None:
    assert isinstance(claim(guard, "twin"), Lock)
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "twin")


def test_claim_keeps_what_the_client_wrote(guard: RecordGuard, dynamodb: Any) -> None:
    dynamodb.put_item(
        TableName=TABLE,
        Item={"pk": {"S": "result#kept"}, "status": {"S": "Submitted"}, "submittedAt": {"S": "t0"}},
    )
    assert isinstance(claim(guard, "kept"), Lock)
    item = record(dynamodb, "kept")
    assert item is not None
    assert (item["status"]["S"], item["submittedAt"]["S"]) == ("Completed", "t0")


# -- complete and fail -------------------------------------------------------------------------------


def test_completed_result_is_a_duplicate_and_another_status_is_not(guard: RecordGuard, clock: Clock) -> None:
    lock = claim(guard, "done")
    assert isinstance(lock, Lock)
    guard.complete_many([(lock, "Completed", ["resultStore", "handler"])])
    clock.now += 10 * 86400  # as long as the record lives, not an idempotency TTL
    assert claim(guard, "done") == AlreadyRouted(["resultStore", "handler"])
    assert isinstance(claim(guard, "done", "Failed"), Lock), "another status is another result"


@pytest.mark.parametrize(("operation", "count"), [("UpdateItem", 1), ("TransactWriteItems", 3)])
def test_completion_answered_with_an_error_after_effect_is_still_completed(
    guard: RecordGuard, dynamodb: Any, operation: str, count: int
) -> None:
    locks = [claim(guard, f"c{i}") for i in range(count)]
    faults = Faults().install(dynamodb).add(operation, times=2, after_effect=True, error=SERVER_ERROR)
    guard.complete_many([(lock, "Completed", ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert faults.calls[operation] == 3
    assert [claim(guard, f"c{i}") for i in range(count)] == [AlreadyRouted(["x"])] * count


def test_a_lost_lock_does_not_keep_the_rest_of_the_batch_in_progress(
    guard: RecordGuard, dynamodb: Any, clock: Clock
) -> None:
    locks = [claim(guard, f"l{i}") for i in range(3)]
    clock.now += 31
    thief = claim(guard, "l1")  # the lock of l1 expired and another attempt took it
    assert isinstance(thief, Lock)
    guard.complete_many([(lock, "Completed", ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert claim(guard, "l0") == AlreadyRouted(["x"])
    assert claim(guard, "l2") == AlreadyRouted(["x"])
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "l1")  # the thief decides l1's outcome


def test_fail_answered_with_an_error_after_effect_lets_the_retry_claim(
    guard: RecordGuard, dynamodb: Any
) -> None:
    lock = claim(guard, "f")
    assert isinstance(lock, Lock)
    faults = Faults().install(dynamodb).add("UpdateItem", times=1, after_effect=True)
    guard.fail(lock, ["resultStore"], ResultError("boom", reason="Boom", received="x", expected="y"), "h")
    assert faults.calls["UpdateItem"] == 2
    item = record(dynamodb, "f")
    assert item is not None
    assert item["routing"]["S"] == "Failed"
    assert item["routingError"]["M"]["handler"]["S"] == "h"
    assert isinstance(claim(guard, "f"), Lock)


def test_fail_never_takes_another_owners_lock(guard: RecordGuard, clock: Clock) -> None:
    first = claim(guard, "o")
    assert isinstance(first, Lock)
    clock.now += 31
    assert isinstance(claim(guard, "o"), Lock)
    guard.fail(first, [], ResultError("late", reason="Late", received="x", expected="y"), "h")
    with pytest.raises(DuplicateInProgressError):
        claim(guard, "o")


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
    guard.complete_many([(lock, "Completed", ["x"]) for lock in locks if isinstance(lock, Lock)])
    assert faults.calls == {"UpdateItem": 1, "TransactWriteItems": 1}
    assert [claim(guard, name) for name in ("big", "s0", "s1")] == [AlreadyRouted(["x"])] * 3
