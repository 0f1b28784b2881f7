"""Recovery in the local run: results whose notification SageMaker never sent are routed from S3, once.

The endpoint simulator drops notifications as SageMaker's ``NotificationFailures`` would (the output is
written, nothing is published); the bucket's event notifications (put from the template) feed the
delayed recovery queue, which the local SQS event source polls for the recovery function.
"""

from __future__ import annotations

import time

import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.client.client import InferenceRecord, InferenceStatus
from sagemaker_async_results.local.environment import LocalEnvironment
from tests.e2e.conftest import RECOVERY_DELAY_SECONDS, probe_calls

pytestmark = pytest.mark.slow


def _recovery_source_stats(env: LocalEnvironment) -> tuple[int, int]:
    """(invocations, delivered) of the recovery function's queue poller."""
    name = env.resources.outputs[contract.OUTPUT_RECOVERY_FUNCTION_NAME]
    for source in env.sources:
        function = getattr(source, "function", None)
        if function is not None and function.spec.name == name:
            return source.stats.invocations, source.stats.delivered
    raise AssertionError(f"no event source polls the recovery queue for {name}")


def _wait_recovered(env: LocalEnvironment, inference_id: str) -> InferenceRecord:
    """The record once recovery marked it (right after routing it)."""
    client = env.client()
    deadline = time.monotonic() + RECOVERY_DELAY_SECONDS + 30
    while not (record := client.status(inference_id)).recovered:
        assert time.monotonic() < deadline, f"{inference_id} was not recovered (status {record.status})"
        time.sleep(0.2)
    return record


def test_lost_notifications_are_recovered_once_and_a_late_one_is_a_duplicate(env: LocalEnvironment) -> None:
    client = env.client()
    ids = [f"lost-{kind}-{time.time_ns()}" for kind in ("ok", "failed")]
    env.simulator.lose_notifications(inference_ids=ids)
    ok = client.invoke(b'{"inputs": "nobody told"}', custom_attributes="probe=count", inference_id=ids[0])
    failed = client.invoke(b'{"fail": "lost failure"}', custom_attributes="probe=count", inference_id=ids[1])
    records = {inference_id: _wait_recovered(env, inference_id) for inference_id in ids}
    assert set(ids) <= set(env.simulator.lost_notifications)
    for inference_id, record in records.items():
        assert record.routing == contract.ROUTING_ROUTED
        assert record.routed_to
        assert probe_calls(env, inference_id) == 1
    assert records[ok.inference_id].status == InferenceStatus.COMPLETED
    assert records[ok.inference_id].output_location == ok.output_location
    assert records[failed.inference_id].status == InferenceStatus.FAILED
    assert records[failed.inference_id].failure_location == failed.failure_location
    assert records[failed.inference_id].failure_reason == contract.RECOVERED_FAILURE_REASON
    assert b"lost failure" in (client.fetch_body(records[failed.inference_id]) or b"")

    # SageMaker's notification arrives after all: a duplicate, the handler is not called again.
    assert env.target is not None
    sns = env.target.client("sns")
    delivered = sum(s.stats.delivered for s in env.sources)
    for inference_id in records:
        topic, message = env.simulator.lost_notifications[inference_id]
        sns.publish(TopicArn=topic, Message=message)
    deadline = time.monotonic() + 30
    while sum(s.stats.delivered for s in env.sources) < delivered + 2:
        assert time.monotonic() < deadline, "the late notifications were not delivered"
        time.sleep(0.1)
    assert env.wait_idle(timeout=30)
    for inference_id, record in records.items():
        after = client.status(inference_id)
        assert after.routed_to == record.routed_to
        assert after.item == record.item
        assert probe_calls(env, inference_id) == 1


def test_foreign_objects_under_the_output_prefix_are_not_routed(env: LocalEnvironment) -> None:
    assert env.target is not None
    s3 = env.target.client("s3")
    outputs = env.resources.outputs
    bucket, prefix = outputs[contract.OUTPUT_BUCKET_NAME], outputs[contract.OUTPUT_OUTPUT_PREFIX]
    recovery_dlq = outputs[contract.OUTPUT_RECOVERY_DEAD_LETTER_QUEUE_URL]
    invocations_before, _ = _recovery_source_stats(env)
    # Filtered out by the bucket notification's suffix rule, and named like nothing SageMaker writes.
    s3.put_object(Bucket=bucket, Key=f"{prefix}notes.txt", Body=b"not a result")
    s3.put_object(Bucket=bucket, Key=f"{prefix}not-an-id.json", Body=b"{}")
    # Reaches the recovery function (it ends in .out), which skips it: a nested key names no request.
    nested = f"{prefix}nested/not-an-id.out"
    s3.put_object(Bucket=bucket, Key=nested, Body=b"{}")
    # Named like SageMaker's, but no client submitted it: left alone.
    unknown = f"unsubmitted-{time.time_ns()}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}{unknown}.out", Body=b"{}")

    deadline = time.monotonic() + RECOVERY_DELAY_SECONDS + 30
    while _recovery_source_stats(env)[0] < invocations_before + 1:
        assert time.monotonic() < deadline, "the recovery function never saw the objects"
        time.sleep(0.2)
    assert env.wait_idle(timeout=30)
    client = env.client()
    for inference_id in ("nested/not-an-id", "not-an-id", unknown):
        assert client.status(inference_id).status == InferenceStatus.UNKNOWN
    sqs = env.target.client("sqs")
    depth = sqs.get_queue_attributes(
        QueueUrl=recovery_dlq,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert (
        int(depth["ApproximateNumberOfMessages"]) + int(depth["ApproximateNumberOfMessagesNotVisible"]) == 0
    )
