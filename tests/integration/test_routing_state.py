"""The result record tells routing apart from the inference status, and names only what completed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import OUTPUTS, Aws

from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sns_event, sqs_event

HANDLER = "flaky"


class Flaky:
    """A handler that fails until told to succeed."""

    def __init__(self) -> None:
        self.fail = True
        self.seen: list[str] = []

    def __call__(self, result: InferenceResult) -> None:
        self.seen.append(result.inference_id)
        if self.fail:
            raise RuntimeError("downstream service unavailable")


def app_with(handler: Any, **clients: Any) -> ResultsApp:
    router = Router()
    router.on_result(name=HANDLER)(handler)
    return ResultsApp(settings=Settings.from_env(), clients=Clients(**clients), routers=[router])


def test_routed_result_lists_everything_it_went_to(aws: Aws) -> None:
    flaky = Flaky()
    flaky.fail = False
    app = app_with(flaky)
    app(notification(inference_id="r1", output_location=aws.put_output("r1.out", b"{}")))
    record = aws.record("r1")
    assert record is not None
    assert (record["status"], record["routing"]) == ("Completed", "Routed")
    assert record["routedTo"] == ["resultStore", HANDLER, "sqs", "eventBridge"]
    assert "routingError" not in record


def test_failed_handler_is_not_listed_and_its_error_is_recorded(aws: Aws) -> None:
    flaky = Flaky()
    app = app_with(flaky)
    message = notification(inference_id="r2", output_location=aws.put_output("r2.out", b"{}"))

    with pytest.raises(ResultError):
        app(message)
    record = aws.record("r2")
    assert record is not None
    assert (record["status"], record["routing"]) == ("Completed", "Failed")
    assert record["routedTo"] == ["resultStore"], "the handler that raised ran to no completion"
    error = record["routingError"]
    assert error["handler"] == {"S": HANDLER}
    assert error["reason"] == {"S": "HandlerFailed"}
    assert "downstream service unavailable" in error["message"]["S"]
    assert aws.drain(aws.results_queue_url) == [], "notify-once destinations wait for the handlers"

    flaky.fail = False  # the retry succeeds: the record says so and forgets the old error
    assert app(message)["results"][0]["outcome"] == "routed"
    record = aws.record("r2")
    assert record is not None
    assert record["routing"] == "Routed"
    assert record["routedTo"] == ["resultStore", HANDLER, "sqs", "eventBridge"]
    assert "routingError" not in record
    assert flaky.seen == ["r2", "r2"]


class ThrottledEvents:
    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")


def test_failed_destination_is_named_in_the_routing_error(aws: Aws) -> None:
    flaky = Flaky()
    flaky.fail = False
    app = app_with(flaky, events=ThrottledEvents())
    with pytest.raises(ResultError) as info:
        app(notification(inference_id="r3", output_location=aws.put_output("r3.out", b"{}")))
    assert info.value.reason == "Throttled"
    record = aws.record("r3")
    assert record is not None
    assert record["routing"] == "Failed"
    assert record["routedTo"] == ["resultStore", HANDLER, "sqs"]
    assert record["routingError"]["handler"] == {"S": "eventBridge"}
    assert record["routingError"]["reason"] == {"S": "Throttled"}


class BrokenDestination:
    """A destination with a bug: raises something that is not a structured error."""

    name = "broken"

    def applies(self, result: InferenceResult) -> bool:
        return True

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        raise KeyError("missing field")


def test_unstructured_destination_error_becomes_a_structured_one(aws: Aws) -> None:
    app = app_with(lambda result: None)
    app.before.append(BrokenDestination())
    with pytest.raises(ResultError) as info:
        app(notification(inference_id="r8", output_location=aws.put_output("r8.out", b"{}")))
    assert (info.value.reason, info.value.received) == ("DestinationFailed", "KeyError('missing field')")
    record = aws.record("r8")
    assert record is not None
    assert (record["routing"], record["routedTo"]) == ("Failed", ["resultStore"])
    assert record["routingError"]["handler"] == {"S": "broken"}


def test_routing_is_in_progress_while_handlers_run(aws: Aws) -> None:
    during: list[dict[str, Any] | None] = []
    app = app_with(lambda result: during.append(aws.record(result.inference_id)))
    app(notification(inference_id="r4", output_location=aws.put_output("r4.out", b"{}")))
    (record,) = during
    assert record is not None
    assert (record["routing"], record["routedTo"]) == ("InProgress", ["resultStore"])
    assert record["status"] == "Completed", "the claim stored the record before the handlers"


def test_refused_location_writes_nothing(aws: Aws) -> None:
    flaky = Flaky()
    app = app_with(flaky)
    with pytest.raises(ResultError) as info:
        app(notification(inference_id="r5", output_location="s3://another-bucket/secrets.out"))
    assert info.value.reason == "LocationRefused"
    assert aws.record("r5") is None
    assert flaky.seen == []


def test_lazy_check_fails_a_missing_payload_when_a_handler_reads_it(aws: Aws) -> None:
    app = app_with(lambda result: result.body())
    with pytest.raises(ResultError) as info:
        app(notification(inference_id="r8", output_location=f"{OUTPUTS}missing.out"))
    assert info.value.reason == "PayloadNotFound"
    record = aws.record("r8")
    assert record is not None
    assert (record["routing"], record["routedTo"]) == ("Failed", ["resultStore"])
    assert record["routingError"]["reason"] == {"S": "PayloadNotFound"}
    assert record["routingError"]["handler"] == {"S": HANDLER}


def test_lazy_check_routes_a_missing_payload_no_handler_reads(aws: Aws) -> None:
    """The documented trade-off: no S3 request by the handler; the caller's GetObject sees NoSuchKey."""
    requests: list[str] = []
    app = app_with(lambda result: None)
    app.clients.s3.meta.events.register("before-call.s3.*", lambda model, **_: requests.append(model.name))
    app(notification(inference_id="r9", output_location=f"{OUTPUTS}missing.out"))
    record = aws.record("r9")
    assert record is not None
    assert record["routing"] == "Routed"
    assert requests == []


def test_head_check_fails_a_missing_payload_before_any_handler(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYLOAD_CHECK", "head")
    flaky = Flaky()
    app = app_with(flaky)
    with pytest.raises(ResultError) as info:
        app(notification(inference_id="r10", output_location=f"{OUTPUTS}missing.out"))
    assert info.value.reason == "PayloadNotFound"
    assert flaky.seen == []
    record = aws.record("r10")
    assert record is not None
    assert (record["routing"], record["routedTo"]) == ("Failed", ["resultStore"])
    assert record["routingError"]["handler"] == {"S": "payloadCheck"}


def test_without_result_store_no_record_is_written(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESULT_STORE_ENABLED", "false")
    app = app_with(Flaky())
    with pytest.raises(ResultError):
        app(notification(inference_id="r6", output_location=aws.put_output("r6.out", b"{}")))
    assert aws.record("r6") is None


def test_batch_outcomes_are_paired_with_their_message_ids(aws: Aws) -> None:
    flaky = Flaky()
    app = app_with(lambda result: flaky(result) if result.attributes.get("fail") else None)
    messages = [
        notification(
            inference_id=f"b{i}",
            output_location=aws.put_output(f"b{i}.out", b"{}"),
            custom_attributes="fail=yes" if i in (0, 3) else None,
        )
        for i in range(5)
    ]
    event = sqs_event(messages)
    event["Records"][3]["messageId"] = "the-fourth"
    response = app(event, lambda_context())
    assert response == {
        "batchItemFailures": [
            {"itemIdentifier": event["Records"][0]["messageId"]},
            {"itemIdentifier": "the-fourth"},
        ]
    }


def test_direct_mode_outcome_lists_only_what_completed(aws: Aws) -> None:
    flaky = Flaky()
    flaky.fail = False
    app = app_with(flaky)
    message = notification(inference_id="r7", output_location=aws.put_output("r7.out", b"{}"))
    (outcome,) = app(sns_event([message]), lambda_context())["results"]
    assert outcome["routedTo"] == ["resultStore", HANDLER, "sqs", "eventBridge"]
