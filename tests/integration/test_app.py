"""ResultsApp built with injected settings/clients/routers (the local run's path), plugin loading."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import OUTPUTS, Aws

from sagemaker_async_results.runtime.app import ResultsApp, load_routers
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.observability import logger as runtime_logger
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sns_event, sqs_event


class ThrottledEvents:
    """An EventBridge client whose calls fail the way botocore reports throttling after its retries."""

    def __init__(self) -> None:
        self.calls = 0

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")


def test_throttled_aws_call_fails_the_record(aws: Aws, runtime_logs: Any) -> None:
    throttled = ThrottledEvents()
    app = ResultsApp(settings=Settings.from_env(), clients=Clients(events=throttled), routers=[])  # type: ignore[arg-type]
    message = notification(inference_id="thr", output_location=aws.put_output("thr.out", b"{}"))
    event = sqs_event([message])

    assert app(event, lambda_context()) == {
        "batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]
    }
    assert runtime_logs.reasons() == ["Throttled"]
    assert runtime_logs.errors()[0].inference_id == "thr"

    with pytest.raises(ResultError) as info:  # direct mode; and not swallowed as a duplicate
        app(sns_event([message]), lambda_context())
    assert info.value.reason == "Throttled"
    assert throttled.calls == 2


def test_no_matching_handler_is_not_an_error(aws: Aws) -> None:
    only_fraud = Router()
    only_fraud.on_result("fraud-*")(lambda result: None)
    app = ResultsApp(settings=Settings.from_env(), routers=[only_fraud])
    message = notification(
        inference_id="n", endpoint_name="churn", output_location=aws.put_output("n.out", b"{}")
    )
    (outcome,) = app(sns_event([message]), lambda_context())["results"]
    assert outcome["routedTo"] == ["resultStore", "sqs", "eventBridge"]


def test_without_table_idempotency_and_result_store_are_off(aws: Aws) -> None:
    seen: list[str] = []
    router = Router()

    @router.on_success()
    def count(result: InferenceResult) -> None:
        seen.append(result.inference_id)

    settings = Settings(readable_locations=Settings.from_env().readable_locations)
    app = ResultsApp(settings=settings, clients=Clients(s3=boto3.client("s3")), routers=[router])
    message = notification(inference_id="again", output_location=aws.put_output("again.out", b"{}"))
    app(message)
    app(message)
    assert seen == ["again", "again"]  # documented: duplicates are routed again without RESULTS_TABLE
    assert aws.result_records() == []


def test_handler_package_loads_every_module_and_example_is_harmless(aws: Aws) -> None:
    routers = load_routers(["handlers"])
    names = [route.name for router in routers for route in router.registry.routes]
    assert names == ["handlers.example.log_success", "handlers.example.log_failure"]

    class NoS3:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("the example plugin must not read payloads")

    app = ResultsApp(
        settings=Settings(readable_locations=Settings.from_env().readable_locations),
        clients=Clients(s3=NoS3()),  # type: ignore[arg-type]
        routers=routers,
    )
    ok = notification(inference_id="e1", output_location=f"{OUTPUTS}e1.out", body={"a": 1})
    failed = notification(inference_id="e2", status="Failed")
    assert [r["outcome"] for r in app(sns_event([ok, failed]))["results"]] == ["routed", "routed"]


@pytest.mark.parametrize(
    ("modules", "problem"),
    [(["no_such_module"], "cannot import"), (["base64"], "defines no module-level `router")],
)
def test_bad_plugin_configuration(modules: list[str], problem: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_routers(modules)
    assert problem in info.value.message


def test_records_of_a_batch_are_routed_concurrently_with_their_own_log_keys(aws: Aws) -> None:
    # Three handlers meet at a barrier: it only opens if the three records are in flight at once.
    barrier = threading.Barrier(3, timeout=10)
    router = Router()
    seen: list[tuple[str, str]] = []

    @router.on_success()
    def wait_for_the_others(result: InferenceResult) -> None:
        barrier.wait()
        seen.append((result.inference_id, threading.current_thread().name))

    app = ResultsApp(settings=Settings.from_env(), routers=[router])
    messages = [
        notification(inference_id=f"c{i}", output_location=aws.put_output(f"c{i}.out", b"{}"))
        for i in range(3)
    ]
    stream = io.StringIO()
    previous = runtime_logger.registered_handler.setStream(stream)
    try:
        assert app(sqs_event(messages), lambda_context()) == {"batchItemFailures": []}
    finally:
        runtime_logger.registered_handler.setStream(previous)
    assert sorted(inference_id for inference_id, _ in seen) == ["c0", "c1", "c2"]
    assert len({thread for _, thread in seen}) == 3

    routed = [json.loads(line) for line in stream.getvalue().splitlines() if '"result routed"' in line]
    assert sorted(line["inference_id"] for line in routed) == ["c0", "c1", "c2"]
    assert all(line["correlation_id"] == line["inference_id"] for line in routed)


def test_batch_concurrency_one_routes_in_order(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_CONCURRENCY", "1")
    order: list[str] = []
    router = Router()
    router.on_success()(lambda result: order.append(result.inference_id))
    app = ResultsApp(settings=Settings.from_env(), routers=[router])
    messages = [
        notification(inference_id=f"s{i}", output_location=aws.put_output(f"s{i}.out", b"{}"))
        for i in range(4)
    ]
    assert app(sqs_event(messages), lambda_context()) == {"batchItemFailures": []}
    assert order == ["s0", "s1", "s2", "s3"]
