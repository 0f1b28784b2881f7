"""The invocation's deadline alone: the margin, the step check, the budgets and the retry hook's decisions."""

from __future__ import annotations

import math
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import ClientError

from sagemaker_async_results.runtime import deadline
from sagemaker_async_results.runtime.deadline import Budget, Deadline
from sagemaker_async_results.runtime.errors import ConfigurationError, DeadlineReachedError
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import LambdaContext


class Remaining(LambdaContext):
    """A Lambda context whose remaining time the test sets (and a sleep that spends it)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.seconds * 1000))

    def sleep(self, seconds: float) -> None:
        self.seconds -= seconds


# -- the margin and the step check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "margin"), [(30, 7.5), (60, 10.0), (900, 10.0), (3, 0.75)], ids=["30s", "60s", "900s", "3s"]
)
def test_default_margin_is_a_quarter_of_the_time_at_start_at_most_ten_seconds(
    timeout: float, margin: float
) -> None:
    assert Deadline(Remaining(timeout)).margin == pytest.approx(margin)


def test_a_configured_margin_wins_and_time_is_read_at_every_check() -> None:
    context = Remaining(30)
    clock = Deadline(context, margin_seconds=2)
    assert clock.margin == 2
    context.seconds = 12.5
    assert clock.remaining() == pytest.approx(12.5)


@pytest.mark.parametrize("context", [None, object()], ids=["no-context", "no-remaining-time"])
def test_without_a_lambda_context_the_deadline_is_unknown_and_refuses_nothing(context: Any) -> None:
    clock = Deadline(context)
    assert not clock.known
    assert clock.margin == 0
    assert math.isinf(clock.remaining())
    clock.check("handler", inference_id="x")  # never raises


def test_a_context_that_cannot_say_is_an_unknown_deadline_not_a_failed_record() -> None:
    class Broken(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            raise RuntimeError("no")

    assert not Deadline(Broken()).known


def test_a_step_starts_only_with_more_than_the_margin_left() -> None:
    context = Remaining(10)
    clock = Deadline(context, margin_seconds=4)
    clock.check("handler", inference_id="x")
    context.seconds = 4.0
    with pytest.raises(DeadlineReachedError) as caught:
        clock.check("sqs", inference_id="x")
    err = caught.value
    assert err.reason == "DeadlineReached"
    assert err.inference_id == "x"
    assert err.message.startswith("4.000 s left, 4.000 s kept for recording what completed: sqs is left")
    assert err.received == "{'marginSeconds': 4.0, 'remainingSeconds': 4.0, 'step': 'sqs'}"
    context.seconds = 4.001
    clock.check("sqs", inference_id="x")


# -- budgets ----------------------------------------------------------------------------------------


def test_step_calls_must_end_an_attempt_before_the_margin_final_writes_before_the_reserve() -> None:
    context = Remaining(20)
    clock = Deadline(context, margin_seconds=5)
    assert deadline.current() is None
    with deadline.steps(clock) as steps:
        assert deadline.current() is steps
        assert (steps.reserve, steps.attempt_seconds) == (5, deadline.ATTEMPT_SECONDS)
        context.seconds = 5 + deadline.ATTEMPT_SECONDS + 0.5
        assert steps.allows_attempt()
        assert not steps.allows_attempt(after=0.5)
        with deadline.final_writes() as final:
            assert final is not None
            assert deadline.current() is final
            assert (final.reserve, final.attempt_seconds) == (deadline.FINAL_RESERVE_SECONDS, 0)
            context.seconds = deadline.FINAL_RESERVE_SECONDS + 0.01
            assert final.allows_attempt()
            context.seconds = deadline.FINAL_RESERVE_SECONDS
            assert not final.allows_attempt()
        assert deadline.current() is steps
    assert deadline.current() is None


def test_final_writes_outside_an_invocation_have_no_budget() -> None:
    with deadline.final_writes() as final:
        assert final is None
        assert deadline.current() is None


# -- the retry hook ---------------------------------------------------------------------------------


@pytest.fixture
def ddb() -> Any:
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


def _ask(hook: Any, client: Any, attempts: int, code: str, status: int) -> Any:
    response = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", status, HTTPHeaders(), None)
    parsed = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return hook(
        attempts=attempts,
        response=(response, parsed),
        caught_exception=None,
        operation=client.meta.service_model.operation_model("UpdateItem"),
        request_dict={"context": {}},
    )


def test_hook_leaves_botocore_alone_outside_an_invocation(ddb: Any) -> None:
    hook = deadline._RetryHook(ddb, "dynamodb")
    assert _ask(hook, ddb, 1, "ThrottlingException", 400) is None


def test_hook_retries_what_botocore_retries_while_an_attempt_fits(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = Remaining(60)
    monkeypatch.setattr(deadline, "sleep", context.sleep)
    hook = deadline._RetryHook(ddb, "dynamodb")
    with deadline.steps(Deadline(context, margin_seconds=5)):
        assert _ask(hook, ddb, 1, "ThrottlingException", 400) == 0
        waited = 60 - context.seconds
        assert 0 <= waited <= deadline.MAX_BACKOFF_SECONDS, "botocore's backoff, capped"
        with pytest.raises(ClientError, match="ValidationException"):  # not retryable
            _ask(hook, ddb, 1, "ValidationException", 400)
        with pytest.raises(ddb.exceptions.ProvisionedThroughputExceededException):  # attempts used up
            _ask(hook, ddb, 6, "ProvisionedThroughputExceededException", 400)
        context.seconds = 5 + deadline.ATTEMPT_SECONDS  # an attempt now would reach into the margin
        with pytest.raises(ddb.exceptions.InternalServerError):
            _ask(hook, ddb, 1, "InternalServerError", 500)
        assert context.seconds == 5 + deadline.ATTEMPT_SECONDS, "no wait for a retry that is not made"
        with deadline.final_writes():
            assert _ask(hook, ddb, 1, "InternalServerError", 500) == 0, "the final writes go on"


def test_hook_works_with_a_botocore_without_per_service_backoff(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda runtimes and the lowest boto3 the range allows (1.35) ship an ExponentialBackoff that takes
    only ``max_backoff``: the hook must still build and back off."""
    from botocore.retries import standard

    class OldBackoff(standard.ExponentialBackoff):
        def __init__(self, max_backoff: float = 20) -> None:
            super().__init__(max_backoff=max_backoff)

    monkeypatch.setattr(standard, "ExponentialBackoff", OldBackoff)
    context = Remaining(60)
    monkeypatch.setattr(deadline, "sleep", context.sleep)
    hook = deadline._RetryHook(ddb, "dynamodb")
    with deadline.steps(Deadline(context, margin_seconds=5)):
        assert _ask(hook, ddb, 1, "ThrottlingException", 400) == 0
        assert 0 <= 60 - context.seconds <= deadline.MAX_BACKOFF_SECONDS


def test_hook_leaves_a_successful_response_to_botocore(ddb: Any) -> None:
    """``None``, never ``False``: botocore 1.35 retries on any other answer, a success included."""
    context = Remaining(60)
    hook = deadline._RetryHook(ddb, "dynamodb")
    ok = AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 200, HTTPHeaders(), None)
    with deadline.steps(Deadline(context, margin_seconds=5)):
        answer = hook(
            attempts=1,
            response=(ok, {"Attributes": {}, "ResponseMetadata": {"HTTPStatusCode": 200}}),
            caught_exception=None,
            operation=ddb.meta.service_model.operation_model("UpdateItem"),
            request_dict={"context": {}},
        )
    assert answer is None


def test_installed_hook_under_botocore_1_35_reads_of_the_answer(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore 1.35's ``Endpoint._needs_retry`` sleeps and retries on any answer but ``None``: one call
    must still be one attempt when it succeeds, and a refused one must reach the caller once."""
    from botocore import endpoint
    from botocore.hooks import first_non_none_response

    def needs_retry_1_35(
        self: Any,
        attempts: int,
        operation_model: Any,
        request_dict: Any,
        response: Any = None,
        caught_exception: Any = None,
    ) -> bool:
        service_id = operation_model.service_model.service_id.hyphenize()
        responses = self._event_emitter.emit(
            f"needs-retry.{service_id}.{operation_model.name}",
            response=response,
            endpoint=self,
            operation=operation_model,
            attempts=attempts,
            caught_exception=caught_exception,
            request_dict=request_dict,
        )
        answer = first_non_none_response(responses)
        if answer is None:
            return False
        assert answer is not False, "botocore 1.35 would sleep(False) and retry"
        return True

    monkeypatch.setattr(endpoint.Endpoint, "_needs_retry", needs_retry_1_35)
    sent: list[str] = []

    def reply(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        status, body = (
            (200, b"{}") if len(sent) == 1 else (400, b'{"__type": "ValidationException", "message": "m"}')
        )

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield body

        return AWSResponse(request.url, status, {}, Raw())  # type: ignore[arg-type]

    ddb.meta.events.register_first("before-send.dynamodb.GetItem", reply)
    deadline.install(ddb)
    with deadline.steps(Deadline(Remaining(60), margin_seconds=5)):
        ddb.get_item(TableName="t", Key={"pk": {"S": "k"}})
        assert len(sent) == 1, "a success is not sent again"
        with pytest.raises(ClientError, match="ValidationException"):
            ddb.get_item(TableName="t", Key={"pk": {"S": "k"}})
        assert len(sent) == 2, "a refusal is not retried"


def test_install_leaves_test_doubles_alone_untouched() -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"{name} was read")

    double = Untouchable()
    assert deadline.install(double) is double


def test_installed_hook_stops_a_throttled_call_at_the_budget(
    ddb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through botocore itself: every attempt throttled, the call gives up when no attempt fits."""
    attempts: list[float] = []
    context = Remaining(5 + deadline.ATTEMPT_SECONDS + 1.5)
    monkeypatch.setattr(deadline, "sleep", context.sleep)

    def throttle(request: Any, **_: Any) -> AWSResponse:
        attempts.append(context.seconds)
        context.seconds -= 0.4  # each attempt takes time
        body = b'{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "m"}'

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield body

        return AWSResponse(request.url, 400, {"x-amzn-ErrorType": "ThrottlingException"}, Raw())  # type: ignore[arg-type]

    ddb.meta.events.register_first("before-send.dynamodb.GetItem", throttle)
    deadline.install(ddb)
    with deadline.steps(Deadline(context, margin_seconds=5)), pytest.raises(ClientError) as caught:
        ddb.get_item(TableName="t", Key={"pk": {"S": "k"}})
    assert "ThrottlingException" in str(caught.value)
    assert 1 < len(attempts) < 6, "retried while an attempt fit before the margin, then stopped"
    assert context.seconds > 5, "the margin was kept"


# -- settings ---------------------------------------------------------------------------------------


def test_margin_setting_from_the_environment() -> None:
    assert Settings.from_env({}).deadline_margin_seconds is None
    assert Settings.from_env({"DEADLINE_MARGIN_SECONDS": "4.5"}).deadline_margin_seconds == 4.5
    for bad in ("soon", "-1", "900", "nan"):
        with pytest.raises(ConfigurationError) as caught:
            Settings.from_env({"DEADLINE_MARGIN_SECONDS": bad})
        assert (
            f"DEADLINE_MARGIN_SECONDS={bad!r}: expected seconds, 0 or more and under 900"
            in caught.value.message
        )
        assert "DEADLINE_MARGIN_SECONDS" in (caught.value.received or "")


def test_budget_allows_attempt_counts_the_wait_before_it() -> None:
    context = Remaining(10)
    budget = Budget(Deadline(context, margin_seconds=2), reserve=2, attempt_seconds=3)
    assert budget.allows_attempt(after=4.9)
    assert not budget.allows_attempt(after=5)
