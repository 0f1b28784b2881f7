"""The deadline through the whole app (moto): nothing started that cannot be recorded, what completed
recorded before the deadline, retries bounded by it, and a slow handler that does not take its batch
down. The module alone: tests/unit/test_deadline.py; at scale: tests/integration/test_chaos.py."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import recording_plugin
from conftest import Aws
from faults import Faults

from sagemaker_async_results.runtime import deadline, entrypoint
from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.errors import DeadlineReachedError
from sagemaker_async_results.runtime.record_guard import FINAL_WRITE_ROUNDS
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import LambdaContext, notification, sns_event, sqs_event

MARGIN = 5.0


class Remaining(LambdaContext):
    """A Lambda context whose time is spent by the test's handlers and by the retries' waits."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.seconds * 1000))

    def spend(self, seconds: float) -> None:
        self.seconds -= seconds


@pytest.fixture
def env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """Result store, exactly-once and the results queue (a notify-once destination); a 5 s margin."""
    monkeypatch.delenv("EVENT_BUS_NAME")
    monkeypatch.setenv("STEP_FUNCTIONS_CALLBACK_ENABLED", "false")
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", str(MARGIN))
    entrypoint.reset_app()
    return aws


def _app(handler: Any) -> ResultsApp:
    router = Router()
    router.on_result(name="work")(handler)
    return ResultsApp(settings=Settings.from_env(), routers=[router])


def _invoke(app: ResultsApp, mode: str, message: dict[str, Any], context: Any) -> str | None:
    """The record's failure reason (``None``: routed), the way each delivery mode reports it."""
    if mode == "buffered":
        response = app(sqs_event([message]), context)
        return "failed" if response["batchItemFailures"] else None
    try:
        app(sns_event([message]), context)
    except DeadlineReachedError as err:
        return err.reason
    return None


def test_no_record_is_claimed_with_the_margin_or_less_left(env: Aws) -> None:
    calls: list[str] = []
    app = _app(lambda result: calls.append(result.inference_id))
    message = notification(inference_id="late", output_location=env.put_output("late.out", b"{}"))
    event = sqs_event([message])
    response = app(event, Remaining(MARGIN))
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert env.record("late") is None, "nothing written: the retry starts from scratch"
    assert calls == []
    assert app(event, Remaining(60)) == {"batchItemFailures": []}
    assert calls == ["late"]


@pytest.mark.parametrize("mode", ["buffered", "direct"])
def test_a_handler_that_leaves_only_the_margin_hands_the_rest_to_the_retry(env: Aws, mode: str) -> None:
    """The send after the handler is not started; the handler's completion is recorded; the retry sends."""
    context = Remaining(30)
    calls: list[str] = []

    def slow(result: Any) -> None:
        calls.append(result.inference_id)
        context.spend(30 - MARGIN)  # returns with exactly the margin left

    app = _app(slow)
    message = notification(inference_id=f"slow-{mode}", output_location=env.put_output("s.out", b"{}"))
    assert _invoke(app, mode, message, context) == ("failed" if mode == "buffered" else "DeadlineReached")
    item = env.record(f"slow-{mode}")
    assert item is not None
    assert item["routing"] == "Failed"
    assert item["routingError"]["reason"] == {"S": "DeadlineReached"}
    assert item["routingError"]["handler"] == {"S": "sqs"}
    assert item["resumeSteps#Completed"] == ["resultStore", "work"]
    assert item["lockExpiresAt"] == 0, "the lock given up: the retry claims at once"
    assert env.drain(env.results_queue_url) == [], "nothing sent that could not be recorded"

    assert _invoke(app, mode, message, Remaining(30)) is None
    assert calls == [f"slow-{mode}"], "the handler ran once"
    sent = [json.loads(m["Body"])["inferenceId"] for m in env.drain(env.results_queue_url)]
    assert sent == [f"slow-{mode}"]
    item = env.record(f"slow-{mode}")
    assert item is not None
    assert (item["routing"], item["routedTo"]) == ("Routed", ["resultStore", "work", "sqs"])


def test_a_second_handler_is_not_started_within_the_margin(env: Aws) -> None:
    context = Remaining(20)
    calls: list[str] = []
    router = Router()

    @router.on_result(name="first")
    def first(result: Any) -> None:
        calls.append("first")
        context.spend(20 - MARGIN + 0.5)

    @router.on_result(name="second")
    def second(result: Any) -> None:
        calls.append("second")

    app = ResultsApp(settings=Settings.from_env(), routers=[router])
    message = notification(inference_id="two", output_location=env.put_output("two.out", b"{}"))
    assert app(sqs_event([message]), context)["batchItemFailures"]
    item = env.record("two")
    assert item is not None
    assert (item["routingError"]["handler"], item["resumeSteps#Completed"]) == (
        {"S": "second"},
        ["resultStore", "first"],
    )
    assert app(sqs_event([message]), Remaining(20)) == {"batchItemFailures": []}
    assert calls == ["first", "second"]


def test_a_throttled_completion_near_the_deadline_keeps_retrying_within_the_margin(
    env: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More throttles than one call's attempts, some after taking effect: recorded, the handler ran once."""
    context = Remaining(30)
    monkeypatch.setattr(deadline, "sleep", context.spend)
    faults = Faults()
    calls: list[str] = []

    def slow(result: Any) -> None:
        calls.append(result.inference_id)
        context.spend(30 - 2 * MARGIN - 0.5)  # the send still fits; the completion meets the throttles
        faults.add("UpdateItem", times=4, after_effect=False).add("UpdateItem", times=4, after_effect=True)

    app = _app(slow)
    faults.install(app.clients.dynamodb)
    message = notification(inference_id="thr", output_location=env.put_output("thr.out", b"{}"))
    assert app(sqs_event([message]), context) == {"batchItemFailures": []}
    assert faults.calls["UpdateItem"] == 1 + 8 + 1, (
        "the claim, the completion's 8 throttled attempts, its own"
    )
    assert context.seconds > 0, "within the invocation's time"
    item = env.record("thr")
    assert item is not None
    assert item["routing"] == "Routed"
    assert app(sqs_event([message]), Remaining(30)) == {"batchItemFailures": []}
    assert calls == ["thr"]


def test_final_writes_stop_just_before_the_deadline(env: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """A completion that never gets through: retried while the invocation lives, never past it."""
    context = Remaining(30)
    monkeypatch.setattr(deadline, "sleep", context.spend)
    faults = Faults()
    app: ResultsApp

    def slow(result: Any) -> None:
        context.spend(30 - 2 * MARGIN - 0.5)
        faults.add("UpdateItem", times=1_000, after_effect=False)
        # from now on every UpdateItem attempt takes 0.3 s (and is throttled)
        app.clients.dynamodb.meta.events.register(
            "before-send.dynamodb.UpdateItem", lambda **_: context.spend(0.3)
        )

    app = _app(slow)
    faults.install(app.clients.dynamodb)
    message = notification(inference_id="never", output_location=env.put_output("never.out", b"{}"))
    started = time.perf_counter()
    app(sqs_event([message]), context)
    assert time.perf_counter() - started < 20, "the retries waited on the context's clock, not the real one"
    attempts = faults.calls["UpdateItem"] - 1
    assert attempts > 6, "more than one call's attempts: the final write goes on while time is left"
    assert attempts <= 6 * FINAL_WRITE_ROUNDS
    assert 0 < context.seconds <= deadline.FINAL_RESERVE_SECONDS + deadline.MAX_BACKOFF_SECONDS + 0.3, (
        "stopped just before the deadline, not past it"
    )


@pytest.mark.parametrize(
    ("release_at", "blocked_ends"),
    [
        (5.5, ("Routed", ["resultStore", "work", "sqs"])),
        (6.5, ("Failed", ["resultStore", "work"])),
    ],
    ids=["returns-before-the-margin", "returns-within-the-margin"],
)
def test_a_slow_handler_does_not_take_its_batch_mates_completion_down(
    env: Aws, monkeypatch: pytest.MonkeyPatch, release_at: float, blocked_ends: tuple[str, list[str]]
) -> None:
    """Real threads, real time: an 8 s invocation, a 2 s margin, one handler still running at 4 s left.

    The batch-mates are finished (sent, completed) at two margins left. The slow one is reported
    failed (the response does not wait for it) and finishes alone when it returns: with 2.5 s left
    (more than the margin) it is sent and completed, so its redelivery is a duplicate; with 1.5 s
    left the send is not started and it records what completed, so its redelivery resumes.
    """
    monkeypatch.setenv("DEADLINE_MARGIN_SECONDS", "2")
    release = threading.Event()
    calls: list[str] = []
    calls_lock = threading.Lock()

    def handler(result: Any) -> None:
        with calls_lock:
            calls.append(result.inference_id)
        if result.inference_id == "blocked":
            assert release.wait(20)

    app = _app(handler)
    warm = notification(inference_id="warm", output_location=env.put_output("warm.out", b"{}"))
    assert app(sqs_event([warm]), LambdaContext()) == {"batchItemFailures": []}  # clients created
    calls.clear()
    env.drain(env.results_queue_url)
    messages = [
        notification(inference_id=name, output_location=env.put_output(f"{name}.out", b"{}"))
        for name in ("quick-1", "blocked", "quick-2")
    ]
    event = sqs_event(messages)
    routed_before_release: list[Any] = []

    def release_late() -> None:
        routed_before_release.extend(env.record(name) for name in ("quick-1", "quick-2"))
        release.set()

    timer = threading.Timer(release_at, release_late)
    started = time.perf_counter()
    timer.start()
    response = app(event, LambdaContext(timeout_ms=8_000))
    took = time.perf_counter() - started
    timer.join()
    assert release_at < took < 8.0, "waited for the slow record to finish alone, returned before the deadline"
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    for item in routed_before_release:  # finished while the slow handler still ran
        assert item is not None
        assert (item["routing"], item["routedTo"]) == ("Routed", ["resultStore", "work", "sqs"])
    item = env.record("blocked")
    assert item is not None
    routing, steps = blocked_ends
    assert item["routing"] == routing
    assert item["routedTo" if routing == "Routed" else "resumeSteps#Completed"] == steps
    assert app(event, LambdaContext(timeout_ms=60_000)) == {"batchItemFailures": []}
    assert sorted(calls) == ["blocked", "quick-1", "quick-2"], "every handler ran once"
    sent = sorted(json.loads(m["Body"])["inferenceId"] for m in env.drain(env.results_queue_url))
    assert sent == ["blocked", "quick-1", "quick-2"]
    assert recording_plugin.CALLS == []
