"""Exactly-once through the whole app (moto): calls per result, per-entry failures, ambiguous claims,
resumed retries, lock lifetime and concurrent copies. The guard alone: test_record_guard.py."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import recording_plugin
from conftest import TABLE, Aws
from faults import SERVER_ERROR, Faults

from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS, Clients
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import LambdaContext, lambda_context, notification, sqs_event

ATTEMPTS = MAX_ATTEMPTS + 1


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, ctx: 0)


@pytest.fixture
def dynamodb(aws: Aws) -> Any:
    return Clients().dynamodb


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
