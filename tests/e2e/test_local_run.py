"""The whole path on the embedded AWS: client -> simulator -> S3 + SNS (moto) -> real handler -> result store.

Both delivery modes run the same tests: ``buffered`` (SNS -> SQS -> event source mapping) and ``direct``
(SNS -> Lambda, with asynchronous retries and the on-failure destination).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.client.client import AsyncInferenceClient, InferenceStatus
from sagemaker_async_results.local.demo import topic_may_send
from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.model import sentiment_model
from sagemaker_async_results.local.simulator import INLINE_RESPONSE_LIMIT

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _cli(env: LocalEnvironment, *args: str) -> subprocess.CompletedProcess[str]:
    assert env.target is not None
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process_env.update({**env.target.environment(), "AWS_EC2_METADATA_DISABLED": "true"})
    return subprocess.run(
        [sys.executable, "-m", "sagemaker_async_results.cli", "--stack-name", env.deployed.name, *args],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _queue_depth(env: LocalEnvironment, url: str) -> int:
    assert env.target is not None
    attributes = env.target.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.1)


def test_success_reaches_the_caller_through_the_result_store(env: LocalEnvironment) -> None:
    client = env.client()
    payload = b'{"inputs": "results pushed, not polled"}'
    submission = client.invoke(payload)
    record = client.wait(submission.inference_id, timeout=30, routed=True)
    assert record.status == InferenceStatus.COMPLETED
    assert record.output_location == submission.output_location
    assert submission.output_location.endswith(f"/{submission.inference_id}.out")
    assert client.fetch_body(record) == sentiment_model(payload, "application/json").body
    assert record.routed_to, "the handler records where the result went"


def test_model_error_is_reported_with_its_reason_and_failure_payload(env: LocalEnvironment) -> None:
    client = env.client()
    submission = client.invoke(b'{"fail": "tensor shape mismatch"}')
    record = client.wait(submission.inference_id, timeout=30)
    assert record.status == InferenceStatus.FAILED
    assert record.failure_reason is not None
    assert "(500)" in record.failure_reason
    assert record.failure_location == submission.failure_location
    error = json.loads(client.fetch_body(record) or b"{}")
    assert error == {"code": "ModelFailure", "message": "tensor shape mismatch"}


def test_output_above_the_inline_limit_is_read_from_s3(env: LocalEnvironment) -> None:
    client = env.client()
    payload = b'{"inputs": "big", "pad_bytes": 200000}'
    record = client.wait(client.invoke(payload).inference_id, timeout=30)
    assert record.status == InferenceStatus.COMPLETED
    assert record.inline_body is None
    body = client.fetch_body(record) or b""
    assert len(body) > INLINE_RESPONSE_LIMIT
    assert body == sentiment_model(payload, "application/json").body


def test_duplicate_notification_is_routed_once(env: LocalEnvironment) -> None:
    assert env.target is not None
    sqs, sns = env.target.client("sqs"), env.target.client("sns")
    recorder = sqs.create_queue(QueueName=f"recorder-{env.deployed.outputs['SuccessTopicArn'][-8:]}")[
        "QueueUrl"
    ]
    recorder_arn = sqs.get_queue_attributes(QueueUrl=recorder, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # Permissions are enforced: as in AWS, SNS delivers only to a queue whose policy allows the topic.
    policy = topic_may_send(recorder_arn, env.deployed.outputs["SuccessTopicArn"])
    sqs.set_queue_attributes(QueueUrl=recorder, Attributes={"Policy": policy})
    sns.subscribe(
        TopicArn=env.deployed.outputs["SuccessTopicArn"],
        Protocol="sqs",
        Endpoint=recorder_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    client = env.client()
    record = client.wait(client.invoke(b'{"inputs": "once"}').inference_id, timeout=30, routed=True)
    original = next(
        m["Body"]
        for m in sqs.receive_message(QueueUrl=recorder, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
        if json.loads(m["Body"]).get("inferenceId") == record.inference_id
    )
    before = client.status(record.inference_id).item
    delivered = sum(source.stats.delivered for source in env.sources)
    sns.publish(TopicArn=env.deployed.outputs["SuccessTopicArn"], Message=original)
    _wait_for(lambda: sum(s.stats.delivered for s in env.sources) > delivered)
    assert client.status(record.inference_id).item == before


def test_request_without_notification_is_reported_expired_not_waited_on(env: LocalEnvironment) -> None:
    client = env.client()
    submission = client.invoke(
        b'{"inputs": "slow", "sleep_seconds": 3}', ttl_seconds=60, invocation_timeout_seconds=60
    )
    assert client.status(submission.inference_id).status == InferenceStatus.SUBMITTED
    assert _cli(env, "result", submission.inference_id).returncode == 3  # still pending

    later = datetime.now(UTC) + timedelta(seconds=125)  # past RequestTTLSeconds + InvocationTimeoutSeconds
    clocked = AsyncInferenceClient(
        client.resources,
        s3=None,
        sagemaker_runtime=None,
        dynamodb=env.target.client("dynamodb"),
        clock=lambda: later,  # type: ignore[union-attr]
    )
    assert clocked.status(submission.inference_id).status == InferenceStatus.EXPIRED


def test_invocation_timeout_ends_the_request_failed_and_invoke_wait_returns_at_once(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    slow = tmp_path / "slow.json"
    slow.write_text('{"inputs": "slow", "sleep_seconds": 20}')
    started = time.monotonic()
    waited = _cli(env, "invoke", str(slow), "--timeout", "1", "--wait", "--wait-timeout", "60")
    took = time.monotonic() - started
    assert waited.returncode == 1, waited.stderr  # Failed, not a --wait timeout (6)
    assert "InvocationTimeoutSeconds (1 s)" in waited.stderr
    assert "InvocationTimeout" in waited.stderr  # the error object written to the failure path
    assert took < 15, f"invoke --wait took {took:.1f} s for a 1 s invocation timeout"


def test_cli_invoke_wait_status_and_result_exit_codes(env: LocalEnvironment, input_file: Path) -> None:
    ok = _cli(env, "invoke", str(input_file), "--wait", "--wait-timeout", "60")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["label"] in ("POSITIVE", "NEGATIVE")

    failing = input_file.with_name("failing.json")
    failing.write_text('{"fail": "bad pixels"}')
    submitted = _cli(env, "invoke", str(failing))
    assert submitted.returncode == 0, submitted.stderr
    inference_id = json.loads(submitted.stdout)["inferenceId"]
    result = _cli(env, "result", inference_id, "--wait", "--wait-timeout", "60")
    assert result.returncode == 1
    assert "failed: ClientError" in result.stderr
    assert "bad pixels" in result.stderr

    status = _cli(env, "status", inference_id)
    assert status.returncode == 0
    assert json.loads(status.stdout)["status"] == "Failed"
    assert _cli(env, "status", "no-such-inference").returncode == 5


def _notification(env: LocalEnvironment, inference_id: str, output_location: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return json.dumps(
        {
            "awsRegion": "us-east-1",
            "eventTime": now,
            "receivedTime": now,
            "invocationStatus": "Completed",
            "requestParameters": {
                "contentType": "application/json",
                "endpointName": env.deployed.outputs["EndpointName"],
                # A handler that reads the output (the probe plugin) makes a missing or refused one fail.
                "customAttributes": "probe=read",
            },
            "responseParameters": {"contentType": "application/json", "outputLocation": output_location},
            "inferenceId": inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
    )


def test_failed_deliveries_are_dead_lettered_and_redriven(env: LocalEnvironment) -> None:
    assert env.target is not None
    sns, s3 = env.target.client("sns"), env.target.client("s3")
    outputs = env.deployed.outputs
    dead_letters = env.resources.dead_letter_queues["success"]
    assert _queue_depth(env, dead_letters) == 0

    # 1. The output object is missing when the notification arrives: retried, then dead-lettered.
    inference_id = f"redrive-{env.deployed.outputs['SuccessTopicArn'][-6:]}-{time.time_ns()}"
    key = f"{outputs['OutputPrefix']}{inference_id}.out"
    location = f"s3://{outputs['BucketName']}/{key}"
    sns.publish(TopicArn=outputs["SuccessTopicArn"], Message=_notification(env, inference_id, location))
    _wait_for(lambda: _queue_depth(env, dead_letters) == 1, timeout=60)
    client = env.client()
    unrouted = client.status(inference_id)
    # The record exists once the result is claimed; its routing says the handlers did not finish.
    assert unrouted.status == InferenceStatus.UNKNOWN or unrouted.routing_failed, unrouted

    # Once the object exists, redrive replays the dead letter through the handler.
    s3.put_object(
        Bucket=outputs["BucketName"], Key=key, Body=b'{"late": true}', ContentType="application/json"
    )
    redrive = _cli(env, "redrive", "--function", "success")
    assert redrive.returncode == 0, redrive.stdout + redrive.stderr
    assert json.loads(redrive.stdout)["replayed"] == 1
    redriven = client.status(inference_id)
    assert redriven.status == InferenceStatus.COMPLETED
    assert redriven.routing in (None, contract.ROUTING_ROUTED), redriven
    assert _queue_depth(env, dead_letters) == 0

    # 2. A forged notification pointing outside the output prefix is refused, never read, and kept.
    forged = _notification(env, f"forged-{time.time_ns()}", f"s3://{outputs['BucketName']}/secrets/key.pem")
    sns.publish(TopicArn=outputs["SuccessTopicArn"], Message=forged)
    _wait_for(lambda: _queue_depth(env, dead_letters) == 1, timeout=60)
    still_failing = _cli(env, "redrive", "--function", "success")
    assert still_failing.returncode == 7
    assert json.loads(still_failing.stdout)["stillFailing"] == 1
    assert _queue_depth(env, dead_letters) == 1
    env.target.client("sqs").purge_queue(QueueUrl=dead_letters)
