"""How ResultsApp wires itself: defaults from the environment, the exactly-once guard per configuration,
the Lambda entry with and without a context, and the delegations a subclass can wrap.

Notifications here carry their body inline and the settings name no table, so nothing calls AWS.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import ResultStore
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.lifecycle import Outcome
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.record_guard import RecordGuard
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import S3Prefix, Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sns_event

LOCATIONS = (S3Prefix.parse("s3://bucket/outputs/"),)


def _inline(inference_id: str) -> dict[str, Any]:
    return notification(inference_id=inference_id, body={"score": 1})


def _recording_router(seen: list[tuple[str, str]]) -> Router:
    router = Router()

    @router.on_success()
    def record(result: InferenceResult) -> None:
        seen.append((result.inference_id, threading.current_thread().name))

    return router


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the runtime logger writes (JSON lines), captured, from a logger without earlier keys."""
    logger.clear_state()
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        yield stream
    finally:
        logger.registered_handler.setStream(previous)


def test_settings_clients_and_routers_given_are_the_ones_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.HANDLER_MODULES, "no_such_plugin_module")  # not loaded: routers are given
    settings = Settings(readable_locations=LOCATIONS)
    clients = Clients()
    seen: list[tuple[str, str]] = []
    first, second = _recording_router(seen), Router()
    second.on_failure()(lambda result: None)
    app = ResultsApp(settings, clients=clients, routers=[first, second])
    assert app.settings is settings
    assert app.clients is clients
    assert len(app.router.registry.routes) == 2
    assert app.guard.allowed == LOCATIONS
    assert app.lifecycle.locations is app.guard
    assert app.lifecycle._s3_client() is clients.s3
    assert (app.before, app.after, app.record_guard) == ([], [], None)
    assert ResultsApp(settings, routers=[]).router.registry.routes == []


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(contract.HANDLER_MODULES, "no_such_plugin_module")
    monkeypatch.setenv(contract.BATCH_CONCURRENCY, "3")
    with pytest.raises(ConfigurationError, match="no_such_plugin_module"):
        ResultsApp()
    monkeypatch.setenv(contract.HANDLER_MODULES, "recording_plugin")
    app = ResultsApp()
    assert app.settings.batch_concurrency == 3
    assert isinstance(app.clients, Clients)
    assert {route.name for route in app.router.registry.routes} >= {"recording_plugin.record_success"}


def test_with_the_result_store_the_guard_locks_the_result_record() -> None:
    clients = Clients()
    app = ResultsApp(
        Settings(results_table="results", idempotency_ttl_seconds=77), clients=clients, routers=[]
    )
    (store,) = app.before
    assert isinstance(store, ResultStore)
    guard = app.record_guard
    assert isinstance(guard, RecordGuard)
    assert (guard._table, guard._ttl_seconds) == ("results", None)  # the result record expires by its own TTL
    assert guard._dynamodb() is clients.dynamodb
    assert app.lifecycle.record_guard is guard
    assert app.lifecycle.store is store


def test_without_the_result_store_the_guard_writes_lock_records_that_expire() -> None:
    settings = Settings.from_env(
        {
            contract.RESULTS_TABLE: "results",
            contract.RESULT_STORE_ENABLED: "false",
            contract.IDEMPOTENCY_TTL_SECONDS: "77",
        }
    )
    app = ResultsApp(settings, routers=[])
    assert app.before == []
    guard = app.record_guard
    assert isinstance(guard, RecordGuard)
    assert (guard._table, guard._ttl_seconds) == ("results", 77)
    assert app.lifecycle.store is None


def test_a_context_gets_the_lambda_log_keys_and_a_fresh_state_each_time(log_lines: io.StringIO) -> None:
    router = Router()
    calls: list[str] = []

    @router.on_success()
    def tag_first(result: InferenceResult) -> None:
        calls.append(result.inference_id)
        if result.inference_id == "k-1":
            logger.append_keys(leaked="from the first invocation")

    app = ResultsApp(Settings(readable_locations=LOCATIONS), routers=[router])
    app(sns_event([_inline("k-1")]), lambda_context("fn-x"))
    first_end = len(log_lines.getvalue().splitlines())
    app(sns_event([_inline("k-2")]), lambda_context("fn-x"))
    assert calls == ["k-1", "k-2"]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    second = lines[first_end:]
    assert second
    assert all(line.get("function_name") == "fn-x" for line in second)
    assert all("leaked" not in line for line in second)


def test_without_a_context_there_are_no_lambda_log_keys(log_lines: io.StringIO) -> None:
    app = ResultsApp(Settings(readable_locations=LOCATIONS), routers=[])
    response = app(sns_event([_inline("k-3")]))
    assert [r["inferenceId"] for r in response["results"]] == ["k-3"]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    assert lines
    assert all("function_name" not in line for line in lines)


def test_process_batch_is_concurrent_unless_told_otherwise() -> None:
    seen: list[tuple[str, str]] = []
    app = ResultsApp(Settings(readable_locations=LOCATIONS), routers=[_recording_router(seen)])
    extracts = [lambda i=i: _inline(f"b-{i}") for i in range(2)]
    outcomes = app.process_batch(extracts, None)
    assert [o.inference_id for o in outcomes if isinstance(o, Outcome)] == ["b-0", "b-1"]
    assert all(thread.startswith("record") for _, thread in seen)
    seen.clear()
    app.process_batch(extracts, None, concurrent=False)
    assert [thread for _, thread in seen] == [threading.current_thread().name] * 2


def test_process_and_build_result_delegate_to_the_lifecycle() -> None:
    seen: list[tuple[str, str]] = []
    app = ResultsApp(Settings(readable_locations=LOCATIONS), routers=[_recording_router(seen)])
    outcome = app.process(lambda: _inline("p-1"))
    assert (outcome.inference_id, outcome.outcome) == ("p-1", "routed")
    parsed = parse_notification(_inline("p-2"))
    assert isinstance(parsed, InferenceResultNotification)
    result = app.build_result(parsed)
    assert (result.inference_id, result.json()) == ("p-2", {"score": 1})


def test_a_subclass_wrapping_process_batch_sees_every_event() -> None:
    class Counting(ResultsApp):
        batches: list[int] = []

        def process_batch(
            self, extracts: Sequence[Callable[[], Any]], context: Any = None, *, concurrent: bool = True
        ) -> list[Outcome | ResultError]:
            self.batches.append(len(extracts))
            return super().process_batch(extracts, context, concurrent=concurrent)

    app = Counting(Settings(readable_locations=LOCATIONS), routers=[])
    app(sns_event([_inline("s-1"), _inline("s-2")]))
    assert app.batches == [2]
