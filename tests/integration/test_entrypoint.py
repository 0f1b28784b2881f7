"""The real entry point (``entrypoint.handler``) against moto, in both delivery modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
import recording_plugin
from conftest import OUTPUTS, Aws

from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.testing import (
    lambda_context,
    notification,
    sns_event,
    sqs_event,
    test_notification,
)

CALLS = recording_plugin.CALLS
ALL_DESTINATIONS = ["resultStore", "recording_plugin.record_success", "sqs", "eventBridge"]


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return entrypoint.handler(event, lambda_context())


def test_success_with_s3_output_reaches_every_destination(aws: Aws) -> None:
    location = aws.put_output("ok-1.out", b'{"label": "POSITIVE", "score": 0.98}')
    message = notification(inference_id="ok-1", endpoint_name="sentiment", output_location=location)

    response = invoke(sns_event([message]))

    assert response == {
        "results": [{"inferenceId": "ok-1", "outcome": "routed", "routedTo": ALL_DESTINATIONS}]
    }
    assert CALLS == [
        {"handler": "success", "inferenceId": "ok-1", "body": {"label": "POSITIVE", "score": 0.98}}
    ]
    record = aws.record("ok-1")
    assert record is not None
    assert record["status"] == "Completed"
    assert record["outputLocation"] == location
    assert record["endpointName"] == "sentiment"
    assert record["contentType"] == "application/json"
    assert record["latencyMs"] == 1500
    assert record["routedTo"] == ALL_DESTINATIONS
    assert record["expiresAt"] > 0
    assert record["handledTime"].endswith("Z")

    (queued,) = aws.drain(aws.results_queue_url)
    assert json.loads(queued["Body"])["inferenceId"] == "ok-1"
    assert queued["MessageAttributes"]["status"]["StringValue"] == "Completed"

    (captured,) = aws.drain(aws.events_queue_url)
    event = json.loads(captured["Body"])
    assert event["source"] == "sagemaker.async-results"
    assert event["detail-type"] == "SageMaker Async Inference Result"
    assert event["detail"]["endpointName"] == "sentiment"
    assert event["detail"]["status"] == "Completed"


def test_result_store_keeps_the_clients_submit_attributes(aws: Aws) -> None:
    aws.dynamodb.put_item(
        TableName="async-results-test",
        Item={
            "pk": {"S": "result#kept"},
            "status": {"S": "Submitted"},
            "submittedAt": {"S": "2026-01-01T00:00:00Z"},
        },
    )
    invoke(sns_event([notification(inference_id="kept", output_location=aws.put_output("kept.out", b"{}"))]))
    record = aws.record("kept")
    assert record is not None
    assert (record["status"], record["submittedAt"]) == ("Completed", "2026-01-01T00:00:00Z")


def test_success_with_inline_body_does_not_read_s3(aws: Aws) -> None:
    # The output object does not exist: the inline body must be used, not GetObject.
    message = notification(
        inference_id="inline-1", output_location=f"{OUTPUTS}never-written.out", body={"label": "NEGATIVE"}
    )
    invoke(sns_event([message]))
    assert CALLS == [{"handler": "success", "inferenceId": "inline-1", "body": {"label": "NEGATIVE"}}]
    record = aws.record("inline-1")
    assert record is not None
    assert json.loads(record["inlineBody"]) == {"label": "NEGATIVE"}, "the caller needs no S3 read"


def test_failure_with_failure_payload(aws: Aws) -> None:
    location = aws.put_output(
        "fail-1.out", b"model error: CUDA out of memory", prefix="async-inference/failures/"
    )
    message = notification(
        inference_id="fail-1", status="Failed", failure_location=location, failure_reason="ClientError: 500"
    )
    invoke(sns_event([message]))
    assert CALLS == [
        {
            "handler": "failure",
            "inferenceId": "fail-1",
            "reason": "ClientError: 500",
            "body": "model error: CUDA out of memory",
        }
    ]
    record = aws.record("fail-1")
    assert record is not None
    assert (record["status"], record["failureReason"], record["failureLocation"]) == (
        "Failed",
        "ClientError: 500",
        location,
    )
    assert "outputLocation" not in record


def test_failure_without_failure_payload(aws: Aws) -> None:
    invoke(sqs_event([notification(inference_id="fail-2", status="Failed")], raw=True))
    assert CALLS[0]["body"] is None
    assert CALLS[0]["reason"].startswith("ClientError")
    record = aws.record("fail-2")
    assert record is not None
    assert record["status"] == "Failed"


@pytest.mark.parametrize("make_event", [sns_event, sqs_event, lambda m: m[0]], ids=["sns", "sqs", "bare"])
def test_test_notification_is_acknowledged_and_ignored(aws: Aws, make_event: Any) -> None:
    response = invoke(make_event([test_notification()]))
    assert response in (
        {"batchItemFailures": []},
        {"results": [{"inferenceId": None, "outcome": "test", "routedTo": []}]},
    )
    assert CALLS == []
    assert aws.dynamodb.scan(TableName="async-results-test")["Count"] == 0


def test_multi_record_sns_event(aws: Aws) -> None:
    messages = [
        notification(inference_id=f"m-{i}", output_location=aws.put_output(f"m-{i}.out", b"[%d]" % i))
        for i in range(3)
    ]
    response = invoke(sns_event(messages))
    assert [r["inferenceId"] for r in response["results"]] == ["m-0", "m-1", "m-2"]
    assert [c["body"] for c in CALLS] == [[0], [1], [2]]


@pytest.mark.parametrize("raw", [False, True], ids=["sns-envelope", "raw"])
def test_multi_record_sqs_event(aws: Aws, raw: bool) -> None:
    messages = [
        notification(inference_id=f"q-{i}", output_location=aws.put_output(f"q-{i}.out", b"%d" % i))
        for i in range(4)
    ] + [test_notification()]
    assert invoke(sqs_event(messages, raw=raw)) == {"batchItemFailures": []}
    assert sorted(c["inferenceId"] for c in CALLS) == ["q-0", "q-1", "q-2", "q-3"]
    assert len(aws.result_records()) == 4


def test_bare_notification_direct_invoke(aws: Aws) -> None:
    location = aws.put_output("bare.out", b"label,score\nPOS,0.9\n")
    message = notification(inference_id="bare", output_location=location, content_type="text/csv")
    assert invoke(message)["results"][0]["outcome"] == "routed"
    assert CALLS[0]["body"] == [["label", "score"], ["POS", "0.9"]]


def test_duplicates_are_routed_once(aws: Aws) -> None:
    message = notification(inference_id="dup", output_location=aws.put_output("dup.out", b"{}"))
    assert invoke(sqs_event([message, message])) == {"batchItemFailures": []}
    again = invoke(sns_event([message]))
    assert again["results"][0]["outcome"] == "duplicate"
    assert again["results"][0]["routedTo"] == ALL_DESTINATIONS
    assert len(CALLS) == 1
    assert len(aws.drain(aws.results_queue_url)) == 1
    assert len(aws.drain(aws.events_queue_url)) == 1


def test_same_inference_id_with_another_status_is_not_a_duplicate(aws: Aws) -> None:
    invoke(sns_event([notification(inference_id="x", output_location=aws.put_output("x.out", b"{}"))]))
    invoke(sns_event([notification(inference_id="x", status="Failed")]))
    assert [c["handler"] for c in CALLS] == ["success", "failure"]


def test_failed_record_is_routed_when_retried(aws: Aws) -> None:
    """A failure must not leave an idempotency record behind that would swallow the retry."""
    message = notification(inference_id="late", output_location=f"{OUTPUTS}late.out")
    with pytest.raises(ResultError):
        invoke(sns_event([message]))
    aws.put_output("late.out", b'{"ok": true}')
    assert invoke(sns_event([message]))["results"][0]["outcome"] == "routed"
    assert CALLS == [{"handler": "success", "inferenceId": "late", "body": {"ok": True}}]


def test_exception_handler_marks_error_handled(aws: Aws) -> None:
    message = notification(
        inference_id="handled",
        output_location=aws.put_output("h.out", b"{}"),
        custom_attributes="raise=handled",
    )
    assert invoke(sns_event([message]))["results"][0]["outcome"] == "routed"
    assert CALLS == [
        {"handler": "exception", "inferenceId": "handled", "error": "'dealt with by the exception handler'"}
    ]


def test_large_payload_is_streamed_not_loaded(aws: Aws) -> None:
    location = aws.put_output("big.out", b"x" * 10_000)  # MAX_PAYLOAD_BYTES is 4096 in these tests
    message = notification(inference_id="big", output_location=location, custom_attributes="read=stream")
    invoke(sns_event([message]))
    assert CALLS == [{"handler": "success", "inferenceId": "big", "body": 10_000}]


# -- bad inputs: each one fails its record (DLQ path), with a structured log, never silently ---------


def bad_input(aws: Aws, case: str) -> tuple[Any, str, str | None]:
    """(message, expected reason, expected inference id) for one kind of bad input."""
    if case == "malformed-json":
        return '{"eventName": "InferenceResult", ', "MalformedJson", None
    if case == "not-sagemaker":
        return {"source": "aws.s3", "detail-type": "Object Created"}, "NotSageMakerMessage", None
    if case == "missing-object":
        return (
            notification(inference_id="bad", output_location=f"{OUTPUTS}missing.out"),
            "PayloadNotFound",
            "bad",
        )
    if case == "refused-location":
        forged = "s3://someone-elses-bucket/async-inference/outputs/secret.out"
        return notification(inference_id="bad", output_location=forged), "LocationRefused", "bad"
    if case == "refused-prefix":  # an input object, same bucket: still refused
        forged = "s3://async-results-test-bucket/async-inference/inputs/x.json"
        return notification(inference_id="bad", output_location=forged), "LocationRefused", "bad"
    if case == "undecodable":
        location = aws.put_output("bad.out", b"<html>not json</html>")
        return notification(inference_id="bad", output_location=location), "UndecodableContent", "bad"
    if case == "too-large":
        location = aws.put_output("bad.out", b"[" + b"1," * 5000 + b"1]")
        return notification(inference_id="bad", output_location=location), "PayloadTooLarge", "bad"
    if case == "handler-exception":
        location = aws.put_output("bad.out", b"{}")
        message = notification(inference_id="bad", output_location=location, custom_attributes="raise=yes")
        return message, "HandlerFailed", "bad"
    raise AssertionError(case)


BAD_INPUTS = [
    "malformed-json",
    "not-sagemaker",
    "missing-object",
    "refused-location",
    "refused-prefix",
    "undecodable",
    "too-large",
    "handler-exception",
]


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("raw", [False, True], ids=["sns-envelope", "raw"])
def test_bad_input_fails_only_its_record_in_buffered_mode(
    aws: Aws, runtime_logs: Any, case: str, raw: bool
) -> None:
    bad, reason, inference_id = bad_input(aws, case)
    good = notification(inference_id="good", output_location=aws.put_output("good.out", b"{}"))
    event = sqs_event([good, bad], raw=raw)

    response = invoke(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert [c["inferenceId"] for c in CALLS] == ["good"]
    (error,) = runtime_logs.errors()
    assert (error.reason, error.inference_id) == (reason, inference_id)
    assert error.received
    assert error.expected
    if case == "refused-location":
        assert aws.record("bad") is None  # nothing written for a forged notification


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_raises_in_direct_mode(aws: Aws, runtime_logs: Any, case: str) -> None:
    bad, reason, inference_id = bad_input(aws, case)
    with pytest.raises(ResultError) as info:
        invoke(sns_event([bad]))
    assert (info.value.reason, info.value.inference_id) == (reason, inference_id)
    assert runtime_logs.reasons() == [reason]


def test_direct_mode_tries_every_record_before_raising(aws: Aws) -> None:
    good = notification(inference_id="good", output_location=aws.put_output("good.out", b"{}"))
    bad = notification(inference_id="bad", output_location=f"{OUTPUTS}missing.out")
    with pytest.raises(ResultError) as info:
        invoke(sns_event([bad, good, "not json"]))
    assert info.value.reason == "RecordsFailed"
    assert sorted(f.reason for f in info.value.failures) == ["MalformedJson", "PayloadNotFound"]  # type: ignore[attr-defined]
    assert [c["inferenceId"] for c in CALLS] == ["good"]


def test_unsupported_event_source_raises(aws: Aws) -> None:
    with pytest.raises(ResultError) as info:
        invoke({"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]})
    assert info.value.reason == "NotSageMakerMessage"


def test_step_functions_callback_success_and_failure(aws: Aws) -> None:
    aws.watch_step_functions()
    ok = notification(
        inference_id="sf-ok",
        output_location=aws.put_output("sf.out", b'{"score": 1}'),
        custom_attributes="taskToken=AAAAKgAAAAIAAA==;tenant=acme",
    )
    failed = notification(
        inference_id="sf-bad",
        status="Failed",
        failure_reason="ModelError: boom",
        custom_attributes="taskToken=BBBB",
    )
    invoke(sqs_event([ok, failed]))
    assert len(aws.sfn_calls) == 2
    calls = dict(aws.sfn_calls)  # records of a batch are routed concurrently: any order
    success, failure = calls["SendTaskSuccess"], calls["SendTaskFailure"]
    assert success["taskToken"] == "AAAAKgAAAAIAAA=="
    assert json.loads(success["output"]) == {
        "inferenceId": "sf-ok",
        "outputLocation": f"{OUTPUTS}sf.out",
        "contentType": "application/json",
        "body": {"score": 1},
    }
    assert failure == {"taskToken": "BBBB", "error": "InferenceFailed", "cause": "ModelError: boom"}
    assert "stepFunctions" in (aws.record("sf-ok") or {})["routedTo"]


def test_configuration_error_is_raised(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDLER_MODULES", "no_such_plugin_module")
    with pytest.raises(ResultError) as info:
        invoke(sns_event([test_notification()]))
    assert info.value.reason == "InvalidConfiguration"
    assert "no_such_plugin_module" in info.value.message
