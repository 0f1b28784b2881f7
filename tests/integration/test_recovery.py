"""Recovery on moto: results whose notification never came are routed once; late notifications are
duplicates; foreign objects are logged and left alone.

The events are what the recovery function receives in AWS: an SQS event whose message bodies are S3
event notifications. One test lets moto itself produce them (bucket notification -> queue with
``DelaySeconds``), the others synthesize them, so each case controls exactly what exists.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import recording_plugin
from conftest import BUCKET, FAILURES, OUTPUTS, TABLE, Aws

from sagemaker_async_results import contract
from sagemaker_async_results.runtime import entrypoint, recovery, testing
from sagemaker_async_results.runtime.errors import ConfigurationError

OUTPUT_PREFIX = "async-inference/outputs/"
FAILURE_PREFIX = "async-inference/failures/"
SUBMITTED_AT = "2026-11-23T10:00:00.000+00:00"


@pytest.fixture
def env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The recovery function's environment as the construct sets it."""
    for name, value in {
        contract.RECOVERY_OUTPUT_LOCATION: OUTPUTS,
        contract.RECOVERY_FAILURE_LOCATION: FAILURES,
        contract.RECOVERY_ENDPOINT_NAME: "fraud-scorer",
        contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: "true",
    }.items():
        monkeypatch.setenv(name, value)
    recovery.reset_recovery()
    try:
        yield aws
    finally:
        recovery.reset_recovery()


def submitted(aws: Aws, inference_id: str, **extra: str) -> None:
    """The record the client writes before InvokeEndpointAsync."""
    values = {
        "inferenceId": inference_id,
        "submittedAt": SUBMITTED_AT,
        "expiresBy": "2026-11-23T16:15:00.000+00:00",
        "inputLocation": f"s3://{BUCKET}/async-inference/inputs/{inference_id}.in",
        "status": "Submitted",
        **extra,
    }
    names = {f"#a{i}": k for i, k in enumerate(values)}
    aws.dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": contract.result_key(inference_id)}},
        UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={f":v{i}": {"S": v} for i, v in enumerate(values.values())},
    )


def s3_record(key: str, *, bucket: str = BUCKET, event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-23T10:00:05.000Z",
        "eventName": event_name,
        "s3": {
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": 10},
        },
    }


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"r-{i}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "eventSource": "aws:sqs",
            }
            for i, body in enumerate(bodies)
        ]
    }


def s3_event(*keys: str) -> dict[str, Any]:
    return sqs_event(*({"Records": [s3_record(key)]} for key in keys))


def notification(inference_id: str, status: str = "Completed") -> dict[str, Any]:
    """The notification SageMaker publishes (bare, as a direct invoke hands it over)."""
    message: dict[str, Any] = {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "inferenceId": inference_id,
        "invocationStatus": status,
        "receivedTime": "2026-11-23T10:00:01.000Z",
        "eventTime": "2026-11-23T10:00:04.000Z",
        "requestParameters": {"endpointName": "fraud-scorer"},
    }
    if status == "Completed":
        message["responseParameters"] = {"outputLocation": f"{OUTPUTS}{inference_id}.out"}
    else:
        message["responseParameters"] = {"failureLocation": f"{FAILURES}{inference_id}-error.out"}
        message["failureReason"] = "ClientError: Received server error (500) from model."
    return message


def calls_for(inference_id: str) -> list[dict[str, Any]]:
    return [c for c in recording_plugin.CALLS if c["inferenceId"] == inference_id]


# --- lost notifications ---------------------------------------------------------------------------------


def test_lost_success_is_routed_once_then_the_late_notification_is_a_duplicate(env: Aws) -> None:
    submitted(env, "lost-1", customAttributes="tenant=acme")
    env.s3.put_object(
        Bucket=BUCKET,
        Key=f"{OUTPUT_PREFIX}lost-1.out",
        Body=b'{"label": "POSITIVE"}',
        ContentType="application/json",
    )

    assert recovery.handler(s3_event(f"{OUTPUT_PREFIX}lost-1.out"), None) == {"batchItemFailures": []}

    assert calls_for("lost-1") == [
        {"handler": "success", "inferenceId": "lost-1", "body": {"label": "POSITIVE"}}
    ]
    record = env.record("lost-1")
    assert record is not None
    assert record["status"] == "Completed"
    assert record[contract.ROUTING_ATTRIBUTE] == contract.ROUTING_ROUTED
    assert record[contract.RECOVERED_ATTRIBUTE] is True
    assert record["outputLocation"] == f"{OUTPUTS}lost-1.out"
    assert record["endpointName"] == "fraud-scorer"  # from the function's environment
    assert record["receivedTime"].startswith("2026-11-23T10:00:00")  # submittedAt
    assert record["customAttributes"] == "tenant=acme"  # from the Submitted record
    assert record["contentType"] == "application/json"  # the object's Content-Type

    # The real notification, late: the exactly-once guard recognises the result.
    response = entrypoint.handler(notification("lost-1"), None)
    assert response["results"][0]["outcome"] == "duplicate"
    # The same S3 event delivered again (SQS at least once): the record says it was routed.
    assert recovery.handler(s3_event(f"{OUTPUT_PREFIX}lost-1.out"), None) == {"batchItemFailures": []}
    assert len(calls_for("lost-1")) == 1


def test_lost_failure_is_routed_with_the_recovered_reason(env: Aws) -> None:
    submitted(env, "lost-2")
    env.s3.put_object(Bucket=BUCKET, Key=f"{FAILURE_PREFIX}lost-2-error.out", Body=b"model exploded")

    assert recovery.handler(s3_event(f"{FAILURE_PREFIX}lost-2-error.out"), None) == {"batchItemFailures": []}

    assert calls_for("lost-2") == [
        {
            "handler": "failure",
            "inferenceId": "lost-2",
            "reason": contract.RECOVERED_FAILURE_REASON,
            "body": "model exploded",
        }
    ]
    record = env.record("lost-2")
    assert record is not None
    assert (record["status"], record["failureLocation"]) == ("Failed", f"{FAILURES}lost-2-error.out")
    assert record[contract.RECOVERED_ATTRIBUTE] is True
    assert entrypoint.handler(notification("lost-2", "Failed"), None)["results"][0]["outcome"] == "duplicate"
    assert len(calls_for("lost-2")) == 1


def test_notified_result_is_not_recovered(env: Aws) -> None:
    submitted(env, "seen-1")
    env.put_output("seen-1.out", b'{"ok": true}')
    assert entrypoint.handler(notification("seen-1"), None)["results"][0]["outcome"] == "routed"

    assert recovery.handler(s3_event(f"{OUTPUT_PREFIX}seen-1.out"), None) == {"batchItemFailures": []}

    assert len(calls_for("seen-1")) == 1
    record = env.record("seen-1")
    assert record is not None
    assert contract.RECOVERED_ATTRIBUTE not in record


def test_result_store_off_still_recognises_a_notified_result_by_its_lock(
    env: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(contract.RESULT_STORE_ENABLED, "false")
    monkeypatch.setenv(contract.RECOVERY_REQUIRE_SUBMITTED_RECORD, "false")
    entrypoint.reset_app()
    recovery.reset_recovery()
    env.put_output("seen-2.out", b'{"ok": true}')
    entrypoint.handler(notification("seen-2"), None)

    outcome = recovery.get_recovery().recover_record(s3_record(f"{OUTPUT_PREFIX}seen-2.out"))

    assert (outcome.verdict, outcome.inference_id) == ("notified", "seen-2")
    assert len(calls_for("seen-2")) == 1


# --- what is not recovered ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "bucket"),
    [
        (f"{OUTPUT_PREFIX}report.txt", BUCKET),  # not SageMaker's suffix
        (f"{OUTPUT_PREFIX}nested/abc.out", BUCKET),  # S3OutputPathExtension / a folder
        (f"{OUTPUT_PREFIX}.out", BUCKET),  # no inference ID
        (f"{OUTPUT_PREFIX}{'x' * 65}.out", BUCKET),  # longer than SageMaker allows
        (f"{FAILURE_PREFIX}abc.out", BUCKET),  # a failure without -error
        ("async-inference/inputs/abc.out", BUCKET),  # outside both prefixes
        (f"{OUTPUT_PREFIX}abc.out", "someone-elses-bucket"),
    ],
)
def test_foreign_objects_are_logged_and_skipped(
    env: Aws, key: str, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    submitted(env, "abc")
    with caplog.at_level("INFO"):
        response = recovery.handler(sqs_event({"Records": [s3_record(key, bucket=bucket)]}), None)

    assert response == {"batchItemFailures": []}
    assert recording_plugin.CALLS == []
    (line,) = [r for r in caplog.records if hasattr(r, "recovery")]
    assert (line.levelname, line.getMessage()) == ("INFO", "not a SageMaker result object: skipped")
    assert line.recovery["verdict"] == "foreign"
    assert line.recovery["key"] == key
    record = env.record("abc")
    assert record is not None
    assert record["status"] == "Submitted"


def test_s3_test_event_and_other_events_are_skipped(env: Aws) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": BUCKET}
    removed = {"Records": [s3_record(f"{OUTPUT_PREFIX}gone.out", event_name="ObjectRemoved:Delete")]}
    assert recovery.handler(sqs_event(test_event, removed, "not json"), None) == {"batchItemFailures": []}
    assert recording_plugin.CALLS == []


def test_object_of_an_unknown_request_is_not_recovered_unless_allowed(
    env: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.put_output("direct-call.out", b'{"ok": 1}')

    outcome = recovery.get_recovery().recover_record(s3_record(f"{OUTPUT_PREFIX}direct-call.out"))
    assert outcome.verdict == "unknown-request"
    assert recording_plugin.CALLS == []

    monkeypatch.setenv(contract.RECOVERY_REQUIRE_SUBMITTED_RECORD, "false")
    recovery.reset_recovery()
    outcome = recovery.get_recovery().recover_record(s3_record(f"{OUTPUT_PREFIX}direct-call.out"))
    assert outcome.verdict == "recovered"
    assert len(calls_for("direct-call")) == 1


def test_deleted_object_is_nothing_to_recover(env: Aws) -> None:
    submitted(env, "expired-1")
    outcome = recovery.get_recovery().recover_record(s3_record(f"{OUTPUT_PREFIX}expired-1.out"))
    assert outcome.verdict == "missing"
    assert recording_plugin.CALLS == []


# --- failures are retried, not lost ---------------------------------------------------------------------


def test_aws_error_fails_only_its_message(env: Aws) -> None:
    submitted(env, "ok-1")
    submitted(env, "ok-2")
    env.put_output("ok-1.out", b"{}")
    env.put_output("ok-2.out", b"{}")
    dynamodb = boto3.client("dynamodb")
    broken = {"n": 0}

    def fail_first_get(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", {}).get("pk", {}).get("S") == contract.result_key("ok-1") and broken["n"] == 0:
            broken["n"] += 1
            raise RuntimeError("connection reset")

    dynamodb.meta.events.register("provide-client-params.dynamodb.GetItem", fail_first_get)
    subject = recovery.ResultRecovery(s3=env.s3, dynamodb=dynamodb)

    response = subject(s3_event(f"{OUTPUT_PREFIX}ok-1.out", f"{OUTPUT_PREFIX}ok-2.out"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert [c["inferenceId"] for c in recording_plugin.CALLS] == ["ok-2"]
    # The message comes back: routed then.
    assert subject(s3_event(f"{OUTPUT_PREFIX}ok-1.out")) == {"batchItemFailures": []}
    assert sorted(c["inferenceId"] for c in recording_plugin.CALLS) == ["ok-1", "ok-2"]


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(ConfigurationError) as raised:
        recovery.RecoverySettings.from_env({contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: "maybe"})
    message = str(raised.value)
    for name in (
        contract.RECOVERY_OUTPUT_LOCATION,
        contract.RECOVERY_FAILURE_LOCATION,
        contract.RESULTS_TABLE,
        contract.RECOVERY_REQUIRE_SUBMITTED_RECORD,
    ):
        assert name in message


# --- moto itself: bucket notification -> delayed queue -> recovery --------------------------------------


def test_bucket_notification_through_a_delayed_queue(env: Aws) -> None:
    """What the stack wires and the local run can use: moto delivers S3 events to SQS after DelaySeconds."""
    url = env.sqs.create_queue(QueueName="recovery", Attributes={"DelaySeconds": "1"})["QueueUrl"]
    arn = env.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    env.s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [{"Name": "prefix", "Value": p}, {"Name": "suffix", "Value": s}]
                        }
                    },
                }
                for p, s in ((OUTPUT_PREFIX, ".out"), (FAILURE_PREFIX, "-error.out"))
            ]
        },
    )
    submitted(env, "moto-1")
    env.put_output("moto-1.out", b'{"n": 1}')
    env.s3.put_object(Bucket=BUCKET, Key="async-inference/inputs/moto-1.in", Body=b"{}")  # not matched
    assert env.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []  # delayed
    time.sleep(1.2)
    messages = env.drain(url)  # the S3 test event and the output's event
    event = {
        "Records": [
            {"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"} for m in messages
        ]
    }

    assert recovery.handler(event, None) == {"batchItemFailures": []}
    assert calls_for("moto-1") == [{"handler": "success", "inferenceId": "moto-1", "body": b'{"n": 1}'}]


# --- both delivery modes: the late notification in the event shape each mode delivers -----------------


@pytest.mark.parametrize("mode", ["direct", "buffered"])
def test_late_notification_after_recovery_is_a_duplicate_in_both_delivery_modes(env: Aws, mode: str) -> None:
    inference_id = f"late-{mode}"
    submitted(env, inference_id)
    env.put_output(f"{inference_id}.out", b'{"score": 0.9}')
    context = testing.lambda_context("recovery")
    assert recovery.handler(s3_event(f"{OUTPUT_PREFIX}{inference_id}.out"), context) == {
        "batchItemFailures": []
    }

    late = notification(inference_id)
    if mode == "direct":  # SNS -> Lambda: the invocation returns the outcomes
        response = entrypoint.handler(testing.sns_event(late), testing.lambda_context("success"))
        assert [r["outcome"] for r in response["results"]] == ["duplicate"]
    else:  # SNS -> SQS -> Lambda: nothing to retry
        response = entrypoint.handler(testing.sqs_event(late), testing.lambda_context("success"))
        assert response == {"batchItemFailures": []}
    assert len(calls_for(inference_id)) == 1
    record = env.record(inference_id)
    assert record is not None
    assert record[contract.ROUTING_ATTRIBUTE] == contract.ROUTING_ROUTED
    assert record[contract.RECOVERED_ATTRIBUTE] is True
