"""What the record lifecycle tells operators and what its less common paths do, without AWS.

Metrics (one EMF blob per record outcome), the payload check, before-handler destinations, the result
store's place in the claim, interrupts, and which result a notification's status points at. The
in-memory guard and destinations are the ones of test_lifecycle.py.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from typing import Any, cast

import pytest
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError
from test_lifecycle import Destination, FakeGuard, message, recording_router, run

from sagemaker_async_results.runtime import lifecycle as lifecycle_module
from sagemaker_async_results.runtime.envelopes import parse_message
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.lifecycle import PAYLOAD_CHECK_STEP, Outcome, RecordLifecycle
from sagemaker_async_results.runtime.models import InferenceResultNotification
from sagemaker_async_results.runtime.payloads import LocationGuard
from sagemaker_async_results.runtime.record_guard import AlreadyRouted, Lock
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import S3Prefix, Settings
from sagemaker_async_results.runtime.testing import LambdaContext, notification, test_notification

OUTPUTS = "s3://bucket/outputs/"
FAILURES = "s3://bucket/failures/"
Emitted = list[tuple[str, dict[str, str], dict[str, tuple[float, MetricUnit]]]]


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch) -> Emitted:
    blobs: Emitted = []
    monkeypatch.setattr(lifecycle_module, "emit", lambda ns, dims, values: blobs.append((ns, dims, values)))
    return blobs


class S3:
    """HeadObject answers: a size per key, anything else a 404."""

    def __init__(self, sizes: dict[str, int] | None = None) -> None:
        self.sizes = sizes or {}
        self.heads: list[str] = []

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.heads.append(f"s3://{Bucket}/{Key}")
        if Key not in self.sizes:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {"ContentLength": self.sizes[Key]}


class Store:
    """The result store's part in a claim: the record's attribute values."""

    name = "resultStore"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def applies(self, result: InferenceResult) -> bool:
        return True

    def attribute_values(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        return {"status": {"S": record["status"]}}

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        self.sent.append(result.inference_id)


def lifecycle(
    router: Router,
    *,
    guard: FakeGuard | None = None,
    before: list[Any] | None = None,
    after: list[Any] | None = None,
    store: Any = None,
    s3: S3 | None = None,
    **settings: Any,
) -> RecordLifecycle:
    configured = Settings(
        readable_locations=(S3Prefix.parse(OUTPUTS), S3Prefix.parse(FAILURES)),
        metrics_namespace="Tests",
        **settings,
    )
    return RecordLifecycle(
        settings=configured,
        router=router,
        before=before or [],
        after=after or [],
        locations=LocationGuard(configured.readable_locations),
        s3_client=(lambda: cast(Any, s3)) if s3 is not None else (lambda: pytest.fail("no S3 call expected")),
        record_guard=guard,
        store=store,
    )


# -- metrics -----------------------------------------------------------------------------------------
def test_a_routed_result_emits_its_count_latency_and_known_size(emitted: Emitted) -> None:
    sent = message("m1", endpoint_name="ep", latency=timedelta(milliseconds=2500))
    run(lifecycle(recording_router([]), guard=FakeGuard()), sent)
    body_bytes = len(b'{"id": "m1"}')
    assert emitted == [
        (
            "Tests",
            {"endpointName": "ep", "status": "Completed"},
            {
                "Results": (1, MetricUnit.Count),
                "NotificationLatency": (2500.0, MetricUnit.Milliseconds),
                "PayloadBytes": (body_bytes, MetricUnit.Bytes),
            },
        )
    ]


def test_an_s3_result_not_read_emits_no_size(emitted: Emitted) -> None:
    sent = notification(inference_id="m2", output_location=f"{OUTPUTS}m2.out")
    run(lifecycle(recording_router([]), guard=FakeGuard()), sent)
    ((_, _, values),) = emitted
    assert set(values) == {"Results", "NotificationLatency"}


def test_a_duplicate_emits_only_its_own_count(emitted: Emitted) -> None:
    guard = FakeGuard({"d": AlreadyRouted(["h"])})
    run(lifecycle(recording_router([]), guard=guard), message("d", status="Failed"))
    assert emitted == [
        (
            "Tests",
            {"endpointName": "async-results-demo", "status": "Failed"},
            {"Duplicates": (1, MetricUnit.Count)},
        )
    ]


def test_a_copy_in_the_same_batch_counts_as_a_duplicate(emitted: Emitted) -> None:
    run(lifecycle(recording_router([]), guard=FakeGuard()), message("c"), message("c"))
    assert [set(values) for _, _, values in emitted] == [
        {"Results", "NotificationLatency", "PayloadBytes"},
        {"Duplicates"},
    ]


def test_a_test_notification_is_counted_without_dimensions(emitted: Emitted) -> None:
    run(lifecycle(recording_router([]), guard=FakeGuard()), test_notification())
    assert emitted == [("Tests", {}, {"TestNotifications": (1, MetricUnit.Count)})]


def test_a_failed_record_is_counted_by_endpoint_and_reason(emitted: Emitted) -> None:
    run(lifecycle(recording_router([], fail=["f"]), guard=FakeGuard()), message("f", endpoint_name="ep"))
    assert emitted == [
        ("Tests", {"endpointName": "ep", "reason": "HandlerFailed"}, {"RecordErrors": (1, MetricUnit.Count)})
    ]


def test_an_unexpected_error_is_structured_counted_and_fails_only_its_record(emitted: Emitted) -> None:
    cycle = lifecycle(recording_router([]), guard=FakeGuard())

    def broken() -> Any:
        raise RuntimeError("extractor bug")

    unexpected, routed = cycle.process_batch([broken, lambda: message("ok")], concurrent=False)
    assert isinstance(unexpected, ResultError)
    assert (unexpected.reason, unexpected.inference_id) == ("Unexpected", None)
    assert unexpected.message == "unexpected RuntimeError: extractor bug"
    assert (unexpected.received, unexpected.expected) == (
        "RuntimeError('extractor bug')",
        "no unexpected error",
    )
    assert isinstance(unexpected.__cause__, RuntimeError)
    assert routed == Outcome("ok", "routed", ["h"])
    assert emitted[0] == (
        "Tests",
        {"endpointName": "", "reason": "Unexpected"},
        {"RecordErrors": (1, MetricUnit.Count)},
    )


def test_an_unexpected_error_after_the_id_is_known_names_it() -> None:
    router = Router()

    @router.on_result(name="h")
    def handle(result: InferenceResult) -> None:
        pass

    router.resolve = lambda result: (_ for _ in ()).throw(LookupError("router bug"))  # type: ignore[method-assign]
    guard = FakeGuard()
    (error,) = run(lifecycle(router, guard=guard), message("u", endpoint_name="ep"))
    assert isinstance(error, ResultError)
    assert (error.reason, error.inference_id) == ("Unexpected", "u")
    assert guard.failures == [("u", [], "Unexpected", PAYLOAD_CHECK_STEP)]


def test_a_metric_that_cannot_be_emitted_changes_no_outcome(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any) -> None:
        raise ValueError("EMF limit")

    monkeypatch.setattr(lifecycle_module, "emit", broken)
    guard = FakeGuard()
    routed, failed = run(
        lifecycle(recording_router([], fail=["f"]), guard=guard), message("ok"), message("f")
    )
    assert routed == Outcome("ok", "routed", ["h"])
    assert isinstance(failed, ResultError)
    assert failed.reason == "HandlerFailed"
    assert guard.completed == [("ok", ["h"])]
    logged = [r for r in caplog.records if r.getMessage() == "cannot emit metrics"]
    assert [vars(r)["metrics"] for r in logged] == [
        ["RecordErrors"],
        ["Results", "NotificationLatency", "PayloadBytes"],
    ]


# -- the payload check --------------------------------------------------------------------------------
def test_the_head_check_reads_the_objects_size_before_the_handlers() -> None:
    s3 = S3({"outputs/h1.out": 7})
    sizes: list[int | None] = []
    router = Router()
    router.on_result(name="h")(lambda result: sizes.append(result.payload.known_size))
    sent = notification(inference_id="h1", output_location=f"{OUTPUTS}h1.out")
    assert run(lifecycle(router, guard=FakeGuard(), s3=s3, payload_check="head"), sent) == [
        Outcome("h1", "routed", ["h"])
    ]
    assert (s3.heads, sizes) == ([f"{OUTPUTS}h1.out"], [7])


def test_a_missing_object_fails_the_head_check_as_its_own_step() -> None:
    guard = FakeGuard()
    calls: list[str] = []
    sent = notification(inference_id="h2", output_location=f"{OUTPUTS}h2.out")
    (error,) = run(lifecycle(recording_router(calls), guard=guard, s3=S3(), payload_check="head"), sent)
    assert isinstance(error, ResultError)
    assert error.reason == "PayloadNotFound"
    assert guard.failures == [("h2", [], "PayloadNotFound", "payloadCheck")]
    assert calls == []


def test_the_lazy_check_and_an_inline_body_make_no_s3_call() -> None:
    sent = notification(inference_id="l1", output_location=f"{OUTPUTS}l1.out")
    assert run(lifecycle(recording_router([]), guard=FakeGuard()), sent)[0] == Outcome("l1", "routed", ["h"])
    inline = lifecycle(recording_router([]), guard=FakeGuard(), payload_check="head")
    assert run(inline, message("l2"))[0] == Outcome("l2", "routed", ["h"])


def test_a_failed_inference_without_a_payload_needs_no_check() -> None:
    failed = notification(inference_id="nf", status="Failed")
    assert run(lifecycle(recording_router([]), guard=FakeGuard(), payload_check="head"), failed) == [
        Outcome("nf", "routed", ["h"])
    ]


# -- which payload, which steps -----------------------------------------------------------------------
def parsed(sent: dict[str, Any]) -> InferenceResultNotification:
    parsed = parse_message(sent)
    assert isinstance(parsed, InferenceResultNotification)
    return parsed


def test_a_failed_inference_points_at_its_failure_payload_and_a_completed_one_at_its_output() -> None:
    cycle = lifecycle(recording_router([]))
    both: dict[str, Any] = {"output_location": f"{OUTPUTS}o.out", "failure_location": f"{FAILURES}f.out"}
    failed = cycle.build_result(parsed(notification(status="Failed", **both)))
    assert failed.payload.location == f"{FAILURES}f.out"
    completed = cycle.build_result(parsed(notification(**both)))
    assert completed.payload.location == f"{OUTPUTS}o.out"
    assert not completed.payload.is_inline


def test_before_destinations_run_before_the_handlers_in_order_and_only_where_they_apply() -> None:
    order: list[str] = []

    class Before(Destination):
        def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
            order.append(self.name)
            super().send(result, record)

    router = Router()
    router.on_result(name="h")(lambda result: order.append("h"))
    audit, skipped = Before("audit"), Before("skipped")
    skipped.applies = lambda result: False
    guard = FakeGuard()
    assert run(lifecycle(router, guard=guard, before=[audit, skipped]), message("b")) == [
        Outcome("b", "routed", ["audit", "h"])
    ]
    assert order == ["audit", "h"]
    assert audit.sent == [("b", [])]


def test_a_failing_before_destination_fails_the_record_as_its_step() -> None:
    guard = FakeGuard()
    calls: list[str] = []
    (error,) = run(
        lifecycle(recording_router(calls), guard=guard, before=[Destination("audit", refuse=["x"])]),
        message("x"),
    )
    assert isinstance(error, ResultError)
    assert error.reason == "DestinationFailed"
    assert guard.failures == [("x", [], "DestinationFailed", "audit")]
    assert calls == []


def test_with_a_guard_the_claim_stores_the_record_and_the_store_is_not_sent_again() -> None:
    store = Store()
    guard = FakeGuard()
    assert run(lifecycle(recording_router([]), guard=guard, before=[store], store=store), message("s")) == [
        Outcome("s", "routed", ["resultStore", "h"])
    ]
    assert guard.claims == [("s", "Completed", {"status": {"S": "Completed"}}, ["resultStore"])]
    assert store.sent == []


def test_without_a_guard_the_store_is_an_ordinary_step() -> None:
    store = Store()
    cycle = lifecycle(recording_router([]), before=[store], store=store)
    assert cycle.store is None
    assert run(cycle, message("s")) == [Outcome("s", "routed", ["resultStore", "h"])]
    assert store.sent == ["s"]


def test_the_lock_lives_for_the_invocations_remaining_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seconds: list[float] = []
    guard = FakeGuard()
    original = guard.claim

    def claim(*args: Any, lock_seconds: float, **kwargs: Any) -> Lock | AlreadyRouted:
        seconds.append(lock_seconds)
        return original(*args, lock_seconds=lock_seconds, **kwargs)

    guard.claim = claim
    cycle = lifecycle(recording_router([]), guard=guard)
    cycle.process_batch([lambda: message("t")], LambdaContext(timeout_ms=20_000), concurrent=False)
    assert 19 < seconds[0] <= 20


def test_an_interrupt_in_a_handler_gives_the_lock_up_and_propagates() -> None:
    router = Router()

    @router.on_result(name="h")
    def stop(result: InferenceResult) -> None:
        raise KeyboardInterrupt

    guard = FakeGuard()
    with pytest.raises(KeyboardInterrupt):
        run(lifecycle(router, guard=guard), message("k"))
    assert guard.failures == [("k", [], "Unexpected", "h")]
    assert guard.completed == []


def test_copies_of_different_statuses_are_different_results() -> None:
    guard = FakeGuard()
    outcomes = run(
        lifecycle(recording_router([]), guard=guard),
        message("s", status="Completed"),
        message("s", status="Failed"),
    )
    assert [o.outcome for o in outcomes] == ["routed", "routed"]
    assert [c[1] for c in guard.claims] == ["Completed", "Failed"]


# -- batches and threads ------------------------------------------------------------------------------
def test_a_lone_record_is_sent_without_the_batch_api() -> None:
    sqs = Destination("sqs")
    run(lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs]), message("one"))
    assert (sqs.batches, sqs.sent) == ([], [("one", ["h"])])


def test_a_refused_batch_entry_keeps_the_services_error_as_its_cause() -> None:
    sqs = Destination("sqs", refuse=["r2"])
    outcomes = run(
        lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs]), message("r1"), message("r2")
    )
    error = outcomes[1]
    assert isinstance(error, ResultError)
    assert isinstance(error.__cause__, RuntimeError)
    assert error.received == "RuntimeError('entry r2 refused')"
    assert error.expected == "the destination returns normally or raises a structured error"


def test_a_structured_error_from_a_destination_is_kept_as_it_is() -> None:
    refusal = ResultError("too large for the queue", reason="PayloadTooLarge")

    class Refusing(Destination):
        def send_batch(self, items: list[tuple[InferenceResult, dict[str, Any]]]) -> list[Exception | None]:
            return [refusal, None]

    outcomes = run(
        lifecycle(recording_router([]), guard=FakeGuard(), after=[Refusing("sqs")]),
        message("a"),
        message("b"),
    )
    assert outcomes[0] is refusal
    assert outcomes[1] == Outcome("b", "routed", ["h", "sqs"])


def test_one_worker_or_one_record_runs_on_the_callers_thread() -> None:
    single = lifecycle(recording_router([]), guard=FakeGuard(), batch_concurrency=1)
    run(single, message("a"), message("b"), concurrent=True)
    assert single._pool is None
    several = lifecycle(recording_router([]), guard=FakeGuard(), batch_concurrency=4)
    run(several, message("a"), concurrent=True)
    assert several._pool is None
    run(several, message("a"), message("b"), concurrent=True)
    assert several._pool is not None


def test_the_lifecycles_records_are_slotted() -> None:
    """Thousands of these are built per minute under load."""
    for cls in (Outcome, lifecycle_module._Routing, lifecycle_module._Copy):
        assert "__slots__" in vars(cls)
        assert dataclasses.is_dataclass(cls)


def test_the_records_of_a_batch_run_concurrently_by_default() -> None:
    barrier = threading.Barrier(3, timeout=5)
    router = Router()
    threads: list[str] = []

    @router.on_result(name="h")
    def meet(result: InferenceResult) -> None:
        threads.append(threading.current_thread().name)
        barrier.wait()

    cycle = lifecycle(router, guard=FakeGuard(), batch_concurrency=3)
    sent = [message(f"c{i}") for i in range(3)]
    outcomes = cycle.process_batch([lambda m=m: m for m in sent])  # type: ignore[misc]
    assert [o.outcome for o in outcomes] == ["routed"] * 3  # type: ignore[union-attr]
    assert all(name.startswith("record_") for name in threads), threads  # named in stack dumps


def test_a_failure_without_an_endpoint_name_is_counted_under_an_empty_one(emitted: Emitted) -> None:
    sent = message("ne")
    del sent["requestParameters"]["endpointName"]
    run(lifecycle(recording_router([], fail=["ne"]), guard=FakeGuard()), sent)
    assert emitted == [
        ("Tests", {"endpointName": "", "reason": "HandlerFailed"}, {"RecordErrors": (1, MetricUnit.Count)})
    ]


def test_an_inline_body_is_used_whatever_its_location_says() -> None:
    """The body came with the notification: its S3 location is never read, so it is not checked."""
    sent = message("il", output_location="s3://somewhere-else/il.out")
    assert run(lifecycle(recording_router([]), guard=FakeGuard()), sent) == [Outcome("il", "routed", ["h"])]


def test_a_completed_notification_without_output_says_what_it_expected() -> None:
    (error,) = run(lifecycle(recording_router([]), guard=FakeGuard()), notification(inference_id="no"))
    assert isinstance(error, ResultError)
    assert error.message == "a Completed notification without output"
    assert error.expected == "responseParameters.outputLocation or an inline responseBody"
    assert error.inference_id == "no"


def test_without_a_guard_results_still_reach_the_notify_once_destinations() -> None:
    sqs = Destination("sqs")
    assert run(lifecycle(recording_router([]), after=[sqs]), message("g1"), message("g2")) == [
        Outcome("g1", "routed", ["h", "sqs"]),
        Outcome("g2", "routed", ["h", "sqs"]),
    ]
    assert sqs.batches == [2]


def test_duplicates_and_resumed_attempts_are_logged_with_what_they_skip(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    guard = FakeGuard({"d": AlreadyRouted(["h"]), "r": Lock("k#r", "r", "Completed", resume=("h",))})
    run(lifecycle(recording_router([]), guard=guard), message("d"), message("r"), message("r"))
    logged = {r.getMessage(): r for r in caplog.records}
    assert logged["duplicate notification: already routed, skipped"].routed_to == ["h"]  # type: ignore[attr-defined]
    resumed = logged["an earlier attempt failed: steps it completed are not run again"]
    assert resumed.resume == ["h"]  # type: ignore[attr-defined]
    copy = logged["duplicate notification: the same result earlier in this batch, skipped"]
    assert copy.routed_to == ["h"]  # type: ignore[attr-defined]
    assert logged["result routed"].routed_to == ["h"]  # type: ignore[attr-defined]


def test_a_result_no_handler_matches_is_routed_and_logged_as_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")
    assert run(lifecycle(Router(), guard=FakeGuard()), message("none")) == [Outcome("none", "routed", [])]
    assert "no user handler matches this result (not an error)" in [r.getMessage() for r in caplog.records]


def test_an_exception_handled_by_its_handler_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    router = recording_router([], fail=["x"])
    router.exception_handler(ValueError)(lambda exc, result: None)
    run(lifecycle(router, guard=FakeGuard()), message("x"))
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage() == "handler error handled by exception handler"
    fields = {name: getattr(warning, name) for name in ("handler", "error_type", "error")}
    assert fields == {"handler": "h", "error_type": "ValueError", "error": "model output rejected"}


# -- skipping one step or one record never skips the rest ---------------------------------------------
def test_a_resumed_handler_is_skipped_and_the_next_one_still_runs() -> None:
    calls: list[str] = []
    router = Router()
    router.on_result(name="first")(lambda result: calls.append("first"))
    router.on_result(name="second")(lambda result: calls.append("second"))
    guard = FakeGuard({"r": Lock("k#r", "r", "Completed", resume=("first",))})
    assert run(lifecycle(router, guard=guard), message("r")) == [Outcome("r", "routed", ["first", "second"])]
    assert calls == ["second"]


def test_a_record_that_failed_a_destination_first_does_not_keep_the_next_records_from_the_next_one() -> None:
    sqs, bus = Destination("sqs", refuse=["n1"]), Destination("eventBridge")
    outcomes = run(
        lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs, bus]), message("n1"), message("n2")
    )
    assert [i for i, _ in bus.sent] == ["n2"]
    assert outcomes[1] == Outcome("n2", "routed", ["h", "sqs", "eventBridge"])


def test_a_record_resumed_past_a_destination_does_not_keep_the_next_records_from_it() -> None:
    sqs = Destination("sqs")
    guard = FakeGuard({"r": Lock("k#r", "r", "Completed", resume=("h", "sqs"))})
    outcomes = run(lifecycle(recording_router([]), guard=guard, after=[sqs]), message("r"), message("x"))
    assert sqs.sent == [("x", ["h"])]
    assert outcomes == [Outcome("r", "routed", ["h", "sqs"]), Outcome("x", "routed", ["h", "sqs"])]


def test_an_interrupted_step_is_recorded_as_such() -> None:
    router = Router()

    @router.on_result(name="h")
    def stop(result: InferenceResult) -> None:
        raise KeyboardInterrupt

    errors: list[ResultError] = []
    guard = FakeGuard()
    guard.fail = lambda lock, routed_to, error, step: errors.append(error)
    with pytest.raises(KeyboardInterrupt):
        run(lifecycle(router, guard=guard), message("k"))
    (error,) = errors
    assert (error.message, error.received, error.expected) == ("interrupted", "h", "the step returns")


def test_a_copy_of_a_failed_result_says_why_it_is_retried() -> None:
    _, copy = run(
        lifecycle(recording_router([], fail=["dup"]), guard=FakeGuard()), message("dup"), message("dup")
    )
    assert isinstance(copy, ResultError)
    assert copy.message == "the same result earlier in this batch failed: this copy is retried with it"
    assert copy.expected == "the first copy of the result routed"
    assert copy.inference_id == "dup"


def test_a_destination_error_names_the_destination_and_what_it_raised() -> None:
    sqs = Destination("sqs", refuse=["e1"])
    (error,) = run(lifecycle(recording_router([]), guard=FakeGuard(), after=[sqs]), message("e1"))
    assert isinstance(error, ResultError)
    assert error.message == "destination sqs raised RuntimeError: refused"
    assert error.inference_id == "e1"


# -- handler errors and the failure log line ---------------------------------------------------------
def test_a_structured_error_a_handler_raised_without_an_id_gets_the_records_id() -> None:
    router = Router()

    @router.on_result(name="h")
    def refuse(result: InferenceResult) -> None:
        raise ResultError("not for us", reason="Refused")

    (error,) = run(lifecycle(router, guard=FakeGuard()), message("own"))
    assert isinstance(error, ResultError)
    assert (error.reason, error.inference_id) == ("Refused", "own")


def test_a_structured_error_keeps_its_own_id() -> None:
    router = Router()

    @router.on_result(name="h")
    def refuse(result: InferenceResult) -> None:
        raise ResultError("not for us", reason="Refused", inference_id="given")

    (error,) = run(lifecycle(router, guard=FakeGuard()), message("own"))
    assert isinstance(error, ResultError)
    assert error.inference_id == "given"


def test_every_failed_record_is_logged_once_as_an_error_with_its_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cycle = lifecycle(recording_router([], fail=["f"]), guard=FakeGuard())

    def broken() -> Any:
        raise RuntimeError("extractor bug")

    cycle.process_batch([lambda: message("f"), broken], concurrent=False)
    failed = [r for r in caplog.records if r.levelname == "ERROR" and r.name == lifecycle_module.logger.name]
    assert [r.getMessage() for r in failed] == [
        "record failed: handler h raised ValueError: model output rejected",
        "record failed: unexpected RuntimeError: extractor bug",
    ]
    assert [(vars(r)["reason"], vars(r)["inference_id"]) for r in failed] == [
        ("HandlerFailed", "f"),
        ("Unexpected", None),
    ]
    assert failed[1].exc_info is not None, "an unexpected error is logged with its traceback"
