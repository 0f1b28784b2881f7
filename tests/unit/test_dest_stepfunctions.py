"""The Step Functions callback against stubbed clients: which results it answers, the exact calls, closed tasks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations.stepfunctions import (
    ENABLED_ENV,
    MAX_BODY_BYTES,
    StepFunctionsCallback,
)
from sagemaker_async_results.runtime.errors import AwsCallError, ConfigurationError
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import notification

TABLE = "results"
TOKEN = "AAAA==token"


def make_result(
    inference_id: str = "sf-1", *, inline: bytes | None = None, attributes: str | None = None, **kwargs: Any
) -> InferenceResult:
    if kwargs.get("status", "Completed") == "Completed":
        kwargs.setdefault("output_location", f"s3://bucket/out/{inference_id}.out")
    parsed = parse_notification(
        notification(inference_id=inference_id, custom_attributes=attributes, **kwargs)
    )
    assert isinstance(parsed, InferenceResultNotification)

    def no_s3() -> Any:
        raise AssertionError("the callback reads only an inline payload here")

    payload = Payload(
        inline=inline, location=None, guard=LocationGuard(()), s3_client=no_s3, max_bytes=MAX_BODY_BYTES + 10
    )
    return InferenceResult(parsed, payload)


@pytest.fixture
def stubs() -> Iterator[dict[str, tuple[Any, Stubber]]]:
    made = {}
    for service in ("stepfunctions", "dynamodb"):
        client = boto3.client(
            service, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1})
        )
        stub = Stubber(client)
        stub.activate()
        made[service] = (client, stub)
    yield made
    for _, stub in made.values():
        stub.assert_no_pending_responses()


def _callback(stubs: dict[str, tuple[Any, Stubber]], table: str | None = TABLE) -> StepFunctionsCallback:
    callback = StepFunctionsCallback.from_env(
        {"STEP_FUNCTIONS_CALLBACK_ENABLED": "true"},
        settings=Settings(results_table=table),
        clients=Clients(stepfunctions=stubs["stepfunctions"][0], dynamodb=stubs["dynamodb"][0]),
    )
    assert isinstance(callback, StepFunctionsCallback)
    return callback


def _expect_get_token(stub: Stubber, inference_id: str, item: dict[str, Any]) -> None:
    stub.add_response(
        "get_item",
        item,
        {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"result#{inference_id}"}},
            "ProjectionExpression": "#token",
            "ExpressionAttributeNames": {"#token": "taskToken"},
            "ConsistentRead": True,
        },
    )


def test_off_unless_switched_on() -> None:
    assert StepFunctionsCallback.from_env({}, settings=Settings(), clients=Clients()) is None
    assert (
        StepFunctionsCallback.from_env({ENABLED_ENV: "false"}, settings=Settings(), clients=Clients()) is None
    )


def test_applies_only_to_requests_that_carry_a_task_token(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    callback = _callback(stubs)
    assert (callback.name, callback.stage) == ("stepFunctions", "after")
    assert callback.applies(make_result(attributes=f"taskToken={TOKEN}")) is True
    assert callback.applies(make_result(attributes="taskTokenInRecord=1")) is True
    assert callback.applies(make_result(attributes="taskTokenInRecord=0")) is False
    assert callback.applies(make_result(attributes="taskToken=; tenant=acme")) is False
    assert callback.applies(make_result()) is False


def test_success_sends_the_output_with_the_json_body(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    result = make_result(attributes=f"taskToken={TOKEN}", inline=b'{"label": "POSITIVE"}')
    expected_output = {
        "inferenceId": "sf-1",
        "outputLocation": "s3://bucket/out/sf-1.out",
        "contentType": "application/json",
        "body": {"label": "POSITIVE"},
    }
    stubs["stepfunctions"][1].add_response(
        "send_task_success", {}, {"taskToken": TOKEN, "output": json.dumps(expected_output)}
    )
    _callback(stubs).send(result, {})


def test_body_is_inlined_up_to_exactly_the_limit(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    callback = _callback(stubs)
    at_limit = b'"' + b"x" * (MAX_BODY_BYTES - 2) + b'"'
    assert len(at_limit) == MAX_BODY_BYTES == 128 * 1024
    assert callback.task_output(make_result(inline=at_limit))["body"] == "x" * (MAX_BODY_BYTES - 2)
    over = make_result(inline=b'"' + b"x" * (MAX_BODY_BYTES - 1) + b'"')
    assert "body" not in callback.task_output(over)


def test_no_body_for_a_non_json_type_or_without_a_payload(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any
) -> None:
    callback = _callback(stubs)
    csv = make_result(inline=b"[1, 2]", content_type="text/csv")  # parses as JSON, but is not typed so
    assert callback.task_output(csv) == {
        "inferenceId": "sf-1",
        "outputLocation": "s3://bucket/out/sf-1.out",
        "contentType": "text/csv",
    }
    assert "body" not in callback.task_output(make_result())
    assert runtime_logs.records == []  # left out by rule, not because reading it failed


def test_a_body_that_is_not_json_is_left_out_and_logged(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any
) -> None:
    output = _callback(stubs).task_output(make_result(inline=b"{not json"))
    assert "body" not in output
    assert output["inferenceId"] == "sf-1"
    (warning,) = [r for r in runtime_logs.records if r.getMessage() == "task output without body"]
    assert warning.reason == "UndecodableContent"


def test_failure_sends_task_failure_with_the_reason(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    result = make_result(attributes=f"taskToken={TOKEN}", status="Failed", failure_reason="r" * 40_000)
    stubs["stepfunctions"][1].add_response(
        "send_task_failure", {}, {"taskToken": TOKEN, "error": "InferenceFailed", "cause": "r" * 32_768}
    )
    _callback(stubs).send(result, {})


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist"])
def test_a_closed_task_is_logged_and_not_an_error(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any, code: str
) -> None:
    stubs["stepfunctions"][1].add_client_error("send_task_success", code, "closed")
    _callback(stubs).send(make_result(attributes=f"taskToken={TOKEN}"), {})
    (warning,) = [r for r in runtime_logs.records if "already closed" in r.getMessage()]
    assert warning.getMessage() == "Step Functions task already closed; nothing to answer"
    assert (warning.reason, warning.inference_id) == (code, "sf-1")


@pytest.mark.parametrize(
    ("status", "operation"), [("Completed", "send_task_success"), ("Failed", "send_task_failure")]
)
def test_other_errors_fail_the_record(
    stubs: dict[str, tuple[Any, Stubber]], status: str, operation: str
) -> None:
    stubs["stepfunctions"][1].add_client_error(operation, "InvalidToken", "bad token")
    with pytest.raises(AwsCallError) as caught:
        _callback(stubs).send(make_result(attributes=f"taskToken={TOKEN}", status=status), {})
    error = caught.value
    name = "SendTaskSuccess" if status == "Completed" else "SendTaskFailure"
    assert error.message.startswith(f"StepFunctions.{name} failed:")
    assert (error.reason, error.received, error.inference_id) == ("AwsCallFailed", "InvalidToken", "sf-1")


def test_a_long_token_is_read_from_the_submitted_record(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any
) -> None:
    long_token = "T" * 2048
    _expect_get_token(stubs["dynamodb"][1], "sf-1", {"Item": {"taskToken": {"S": long_token}}})
    stubs["stepfunctions"][1].add_response(
        "send_task_failure", {}, {"taskToken": long_token, "error": "InferenceFailed", "cause": "bad"}
    )
    result = make_result(attributes="taskTokenInRecord=1", status="Failed", failure_reason="bad")
    _callback(stubs).send(result, {})
    assert runtime_logs.records == []


def test_a_long_token_is_taken_from_the_record_the_routing_claim_returned(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    """Result store on: the claim returned the request's record, so the token needs no read of its own."""
    long_token = "T" * 2048
    stubs["stepfunctions"][1].add_response(
        "send_task_failure", {}, {"taskToken": long_token, "error": "InferenceFailed", "cause": "bad"}
    )
    result = make_result(attributes="taskTokenInRecord=1", status="Failed", failure_reason="bad")
    result.submitted = {"taskToken": {"S": long_token}}
    _callback(stubs).send(result, {})  # no get_item stubbed: a read would fail
    stubs["stepfunctions"][1].assert_no_pending_responses()


def test_a_token_in_the_attributes_needs_no_read(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["stepfunctions"][1].add_response(
        "send_task_failure", {}, {"taskToken": TOKEN, "error": "InferenceFailed", "cause": "bad"}
    )
    result = make_result(
        attributes=f"taskToken={TOKEN};taskTokenInRecord=1", status="Failed", failure_reason="bad"
    )
    _callback(stubs).send(result, {})  # no get_item stubbed: a read would fail


def test_a_record_without_the_token_answers_nothing(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any
) -> None:
    _expect_get_token(stubs["dynamodb"][1], "sf-1", {})
    _callback(stubs).send(make_result(attributes="taskTokenInRecord=1"), {})
    (warning,) = [r for r in runtime_logs.records if "Submitted record" in r.getMessage()]
    assert (
        warning.getMessage() == "the request's task token is not in its Submitted record; nothing to answer"
    )
    assert warning.inference_id == "sf-1"


def test_a_failed_token_read_fails_the_record(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["dynamodb"][1].add_client_error("get_item", "ProvisionedThroughputExceededException", "slow")
    with pytest.raises(AwsCallError) as caught:
        _callback(stubs).send(make_result(attributes="taskTokenInRecord=1"), {})
    error = caught.value
    assert error.message.startswith("DynamoDB.GetItem failed:")
    assert (error.reason, error.inference_id) == ("Throttled", "sf-1")


def test_a_token_in_the_record_needs_a_results_table(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _callback(stubs, table=None).send(make_result(attributes="taskTokenInRecord=1"), {})
    error = caught.value
    assert (
        error.message == "the request keeps its task token in the results table, and this function has none"
    )
    assert (error.received, error.expected) == (
        f"{contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE}=1",
        f"{contract.RESULTS_TABLE} set",
    )


def test_a_failure_without_a_reason_sends_an_empty_cause(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    message = notification(inference_id="sf-1", status="Failed", custom_attributes=f"taskToken={TOKEN}")
    del message["failureReason"]
    parsed = parse_notification(message)
    assert isinstance(parsed, InferenceResultNotification)
    result = InferenceResult(
        parsed, Payload(inline=None, location=None, guard=LocationGuard(()), s3_client=object, max_bytes=1)
    )
    stubs["stepfunctions"][1].add_response(
        "send_task_failure", {}, {"taskToken": TOKEN, "error": "InferenceFailed", "cause": ""}
    )
    _callback(stubs).send(result, {})


def test_a_result_without_a_token_is_sent_nowhere(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    _callback(stubs).send(make_result(attributes="tenant=acme"), {})  # nothing stubbed: any call fails
