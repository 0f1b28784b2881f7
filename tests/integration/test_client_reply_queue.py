"""Push to the caller's own reply queue on moto: the client's queue, the result function's sends, the
store sweep as safety net, queue loss, throttling and failing receives, idle callers, and the sweeper
that removes a killed caller's queue within the documented bound."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import BUCKET, OUTPUTS, TABLE, Aws

from sagemaker_async_results import contract
from sagemaker_async_results.client import AsyncInferenceClient, InferenceStatus, StackResources
from sagemaker_async_results.client.sources import reply_queue as client_side
from sagemaker_async_results.client.sources.reply_queue import ReplyQueueSource
from sagemaker_async_results.runtime import entrypoint
from sagemaker_async_results.runtime.destinations import reply_queue, reply_queue_sweeper
from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event

PREFIX = "stack-reply-"


class Endpoint:
    def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
        return {
            "InferenceId": request["InferenceId"],
            "OutputLocation": f"{OUTPUTS}{request['InferenceId']}.out",
        }


@pytest.fixture
def replies(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The conftest's AWS with the reply-queue destination switched on, as the default stack has it."""
    monkeypatch.setenv(reply_queue.PREFIX_ENV, PREFIX)
    entrypoint.reset_app()
    yield aws
    entrypoint.reset_app()


def _client(aws: Aws, sqs: Any = None, **source: Any) -> AsyncInferenceClient:
    resources = StackResources(
        endpoint_name="ep",
        bucket=BUCKET,
        input_prefix="in/",
        results_table=TABLE,
        outputs={"ReplyQueuePrefix": PREFIX},
    )
    source.setdefault("wait_seconds", 1)
    return AsyncInferenceClient(
        resources,
        s3=aws.s3,
        sagemaker_runtime=Endpoint(),
        dynamodb=aws.dynamodb,
        sqs=aws.sqs,
        sources=[ReplyQueueSource(PREFIX, sqs or aws.sqs, **source)],
    )


def _route(aws: Aws, *inference_ids: str) -> None:
    events = [
        notification(inference_id=i, output_location=aws.put_output(f"{i}.out", b'{"ok": 1}'))
        for i in inference_ids
    ]
    assert entrypoint.handler(sqs_event(events), lambda_context()) == {"batchItemFailures": []}


def _queues() -> list[str]:
    return boto3.client("sqs").list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", [])


def test_the_package_modules_import_without_the_client_that_submits() -> None:
    # The package's __init__ imports everything; an empty package of the same path tests the modules.
    script = (
        "import sys, types, pathlib, sagemaker_async_results\n"
        "package = types.ModuleType('sagemaker_async_results.client')\n"
        "package.__path__ = [str(pathlib.Path(sagemaker_async_results.__file__).parent / 'client')]\n"
        "sys.modules['sagemaker_async_results.client'] = package\n"
        "import sagemaker_async_results.client.futures, sagemaker_async_results.client.waiter\n"
        "import sagemaker_async_results.client.sources.reply_queue, sagemaker_async_results.client.sources.stream\n"
        "print('sagemaker_async_results.client.client' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_client_and_the_function_agree_on_the_names_they_share() -> None:
    assert client_side.HEARTBEAT_TAG == reply_queue_sweeper.HEARTBEAT_TAG
    assert client_side.EXPIRY_SECONDS == reply_queue_sweeper.DEFAULT_EXPIRY_SECONDS
    from sagemaker_async_results.client.client import REPLY_TO_ATTRIBUTE

    assert REPLY_TO_ATTRIBUTE == reply_queue.REPLY_TO_ATTRIBUTE


def test_each_caller_receives_only_its_own_results_on_its_own_queue(replies: Aws) -> None:
    with _client(replies) as first, _client(replies) as second:
        mine = [first.submit(b"{}", inline=True) for _ in range(3)]
        theirs = [second.submit(b"{}", inline=True) for _ in range(2)]
        queues = _queues()
        assert len(queues) == 2, "one queue per client"
        for future in mine + theirs:
            record = replies.dynamodb.get_item(
                TableName=TABLE, Key={"pk": {"S": contract.result_key(future.inference_id)}}
            )["Item"]
            assert record["replyTo"]["S"] in queues
        _route(replies, *[f.inference_id for f in mine + theirs])
        for future in mine + theirs:
            assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        assert first.waiter.stats.resolved == {"replyQueue": 3}
        assert second.waiter.stats.resolved == {"replyQueue": 2}
        assert "BatchGetItem" not in first.waiter.stats.calls, "the store was read though the push came"
        record = replies.record(mine[0].inference_id) or {}
        assert "replyQueue" in record["routedTo"]
    assert _queues() == [], "a closed client deletes its queue"


def test_a_reply_queue_that_is_gone_neither_fails_the_result_nor_strands_the_caller(replies: Aws) -> None:
    with _client(replies) as client:
        future = client.submit(b"{}", inline=True)
        (lost,) = _queues()
        replies.sqs.delete_queue(QueueUrl=lost)
        _route(replies, future.inference_id)  # asserts no batch item failure
        assert (replies.record(future.inference_id) or {})["routing"] == "Routed"
        # The waiter finds out at its next receive, makes a new queue, and reads the store meanwhile.
        assert future.result(timeout=15).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.resolved == {"store": 1}
        assert client.waiter.stats.recovered["QueueRecreated"] == 1
        (replacement,) = _queues()
        assert replacement != lost
        # Requests submitted from then on name the new queue and are pushed again.
        later = client.submit(b"{}", inline=True)
        _route(replies, later.inference_id)
        assert later.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.resolved["replyQueue"] == 1


class FlakySqs:
    """The SQS client, with ``receive_message`` answering ``failures`` errors of ``code`` first."""

    def __init__(self, sqs: Any, code: str, failures: int) -> None:
        self._sqs, self.code, self.failures, self.receives = sqs, code, failures, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **kwargs: Any) -> Any:
        self.receives += 1
        if self.receives <= self.failures:
            raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "ReceiveMessage")
        return self._sqs.receive_message(**kwargs)


def test_a_failing_receive_leaves_the_store_sweep_running(replies: Aws) -> None:
    flaky = FlakySqs(replies.sqs, "InternalError", failures=10**6)
    with _client(replies, flaky) as client:
        futures = [client.submit(b"{}", inline=True) for _ in range(3)]
        _route(replies, *[f.inference_id for f in futures])
        for future in futures:
            assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.resolved == {"store": 3}
        assert client.waiter.stats.errors["ReceiveMessage"] >= 1
        assert not client.waiter.push


def test_throttled_receives_are_counted_and_backed_off_then_push_resumes(replies: Aws) -> None:
    flaky = FlakySqs(replies.sqs, "RequestThrottled", failures=3)
    with _client(replies, flaky) as client:
        future = client.submit(b"{}", inline=True)
        started = time.monotonic()
        while flaky.receives <= 3 and time.monotonic() - started < 10:
            time.sleep(0.05)
        backed_off = time.monotonic() - started
        _route(replies, future.inference_id)
        assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.throttled == {"ReceiveMessage": 3}
        # Three back-offs of 0.1-0.2, 0.2-0.4 and 0.4-0.8 s: not a tight loop of refused calls.
        assert backed_off >= 0.7
        assert client.waiter.stats.resolved == {"replyQueue": 1}


def test_an_idle_caller_makes_no_receive_only_its_heartbeat(replies: Aws) -> None:
    with _client(replies, heartbeat_seconds=0.5) as client:
        first = client.submit(b"{}", inline=True)
        _route(replies, first.inference_id)
        first.result(timeout=10)
        time.sleep(0.3)  # the receive in flight returns (the long poll is 1 s here)
        calls = dict(client.waiter.stats.calls)
        time.sleep(2.0)
        idle = {k: v - calls.get(k, 0) for k, v in client.waiter.stats.calls.items() if v != calls.get(k, 0)}
        assert set(idle) == {"TagQueue"}, idle
        assert 2 <= idle["TagQueue"] <= 5
        # And awaiting again works at once, on the same queue.
        again = client.submit(b"{}", inline=True)
        _route(replies, again.inference_id)
        assert again.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.resolved == {"replyQueue": 2}


def test_a_killed_callers_queue_is_swept_within_the_documented_bound(replies: Aws) -> None:
    """Killed = its threads stop and nothing deletes its queue; a live caller keeps its heartbeat.

    Time is simulated (one clock for both callers and the sweeper): the schedule runs every
    SWEEP_MINUTES, from a phase 17 s after the kill.
    """
    now = [time.time()]
    killed = ReplyQueueSource(PREFIX, replies.sqs, wait_seconds=1, clock=lambda: now[0])
    dead_url = killed.address()
    killed.close(delete=False)  # what a SIGKILL leaves: the queue, with its last heartbeat
    killed_at = now[0]
    sqs = boto3.client("sqs")
    with _client(replies, heartbeat_seconds=client_side.HEARTBEAT_SECONDS, clock=lambda: now[0]) as live:
        live.submit(b"{}", inline=True)
        live_url = live.waiter.sources[0].url  # type: ignore[attr-defined]
        bound = client_side.EXPIRY_SECONDS + client_side.SWEEP_MINUTES * 60
        gone_at = None
        for tick in range(17, bound + 1, client_side.SWEEP_MINUTES * 60):
            now[0] = killed_at + tick
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:  # the live caller's heartbeat catches up with the clock
                beat = float(sqs.list_queue_tags(QueueUrl=live_url)["Tags"][client_side.HEARTBEAT_TAG])
                if now[0] - beat < client_side.HEARTBEAT_SECONDS + 1:
                    break
                time.sleep(0.05)
            counts = reply_queue_sweeper.sweep(
                sqs, PREFIX, expiry_seconds=client_side.EXPIRY_SECONDS, now=now[0]
            )
            if dead_url not in _queues():
                gone_at = tick
                break
            assert counts == {"seen": 2, "deleted": 0, "kept": 2}
        assert gone_at is not None, f"still there {bound} s after the kill"
        assert client_side.EXPIRY_SECONDS < gone_at <= bound
        assert _queues() == [live_url], "the live caller's queue was swept"
        assert live.waiter.stats.calls["TagQueue"] >= 2  # at 317 and 617 s


def test_the_sweeper_touches_only_its_prefix_and_judges_untagged_queues_by_age(replies: Aws) -> None:
    sqs = boto3.client("sqs")
    other = sqs.create_queue(QueueName="other-app-queue")["QueueUrl"]
    untagged = sqs.create_queue(QueueName=f"{PREFIX}untagged")["QueueUrl"]
    counts = reply_queue_sweeper.sweep(sqs, PREFIX, expiry_seconds=900)
    assert counts == {"seen": 1, "deleted": 0, "kept": 1}
    counts = reply_queue_sweeper.sweep(sqs, PREFIX, expiry_seconds=900, now=time.time() + 901)
    assert counts == {"seen": 1, "deleted": 1, "kept": 0}
    remaining = sqs.list_queues().get("QueueUrls", [])
    assert other in remaining
    assert untagged not in remaining


def test_the_destination_sends_only_to_its_prefix_packs_records_and_never_fails(replies: Aws) -> None:
    foreign = replies.sqs.create_queue(QueueName="someone-elses-queue")["QueueUrl"]
    replies.dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": contract.result_key("foreign")}},
        UpdateExpression="SET replyTo = :q",
        ExpressionAttributeValues={":q": {"S": foreign}},
    )
    with _client(replies) as client:
        futures = [client.submit(b"{}", inline=True) for _ in range(25)]
        (queue,) = _queues()
        client.waiter.sources[0].close(delete=False)  # type: ignore[call-arg]  # nobody receives: look at what was sent
        _route(replies, "foreign", "no-submitted-record", *[f.inference_id for f in futures[:10]])
        _route(replies, *[f.inference_id for f in futures[10:]])
        messages = replies.drain(queue)
    # Ten records per batch of ten routed together: one message each batch (records packed), not 25.
    assert len(messages) == 2
    ids = [r["inferenceId"] for m in messages for r in client_side.records_of(m["Body"])]
    assert sorted(ids) == sorted(f.inference_id for f in futures)
    assert replies.drain(foreign) == [], "sent to a queue outside the stack's prefix"
    assert (replies.record("foreign") or {})["routing"] == "Routed"


def test_heartbeat_and_receives_count_in_the_waiter_stats_and_run_on_their_own_thread(replies: Aws) -> None:
    with _client(replies) as client:
        future = client.submit(b"{}", inline=True)
        names = {t.name for t in threading.enumerate()}
        assert {"async-results-waiter", "async-results-reply-queue"} <= names
        _route(replies, future.inference_id)
        future.result(timeout=10)
        calls = client.waiter.stats.calls
        assert calls["CreateQueue"] == 1
        assert calls["SetQueueAttributes"] == 1
        assert calls["ReceiveMessage"] >= 1


def test_another_processs_request_is_read_from_the_store_at_its_pace_not_the_safety_sweep(
    replies: Aws,
) -> None:
    """Its result goes to the submitter's queue: waiting on it elsewhere must not sit out the 30 s sweep."""
    with _client(replies) as submitter, _client(replies) as other:
        first = submitter.submit(b"{}", inline=True)
        second = submitter.submit(b"{}", inline=True)
        other.future(submitter.submit(b"{}", inline=True).submission)  # the other's waiter is running
        waited: list[Any] = []
        waiting = threading.Thread(target=lambda: waited.append(other.wait(first.inference_id, timeout=20)))
        waiting.start()
        elsewhere = other.future(second.submission)
        time.sleep(0.5)  # both are watched, neither is in yet
        started = time.monotonic()
        _route(replies, first.inference_id, second.inference_id)
        assert elsewhere.result(timeout=20).status == InferenceStatus.COMPLETED
        waiting.join(timeout=20)
        assert waited[0].status == InferenceStatus.COMPLETED
        assert time.monotonic() - started < 5, "waited for the safety sweep"
        assert other.waiter.stats.resolved["store"] == 2
        assert other.waiter.stats.resolved.get("replyQueue", 0) == 0


class NoCreateSqs(FlakySqs):
    """A caller whose IAM lacks sqs:CreateQueue."""

    def create_queue(self, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateQueue")


def test_a_caller_that_may_not_create_its_queue_still_submits_and_reads_the_store(replies: Aws) -> None:
    with _client(replies, NoCreateSqs(replies.sqs, "none", 0)) as client:
        futures = [client.submit(b"{}", inline=True) for _ in range(2)]
        record = replies.dynamodb.get_item(
            TableName=TABLE, Key={"pk": {"S": contract.result_key(futures[0].inference_id)}}
        )["Item"]
        assert "replyTo" not in record
        assert not client.waiter.push
        _route(replies, *[f.inference_id for f in futures])
        started = time.monotonic()
        for future in futures:
            assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        assert time.monotonic() - started < 5
        assert client.waiter.stats.resolved == {"store": 2}
        assert "ReceiveMessage" not in client.waiter.stats.calls


class CountingSqs(FlakySqs):
    """The SQS client, counting any receipt delete (the client makes none)."""

    def __init__(self, sqs: Any) -> None:
        super().__init__(sqs, "none", 0)
        self.deletes = 0

    def delete_message(self, **kwargs: Any) -> Any:
        self.deletes += 1
        return self._sqs.delete_message(**kwargs)

    def delete_message_batch(self, **kwargs: Any) -> Any:
        self.deletes += 1
        return self._sqs.delete_message_batch(**kwargs)


def test_duplicates_resolve_each_future_once_and_no_receipt_is_deleted(replies: Aws) -> None:
    sqs = CountingSqs(replies.sqs)
    with _client(replies, sqs) as client:
        future = client.submit(b"{}", inline=True)
        (queue,) = _queues()
        record = {"inferenceId": future.inference_id, "status": "Completed", "outputLocation": "s3://b/o.out"}
        body = json.dumps({"results": [record]})
        for _ in range(12):  # the same result again and again (SQS delivers at least once)
            replies.sqs.send_message(QueueUrl=queue, MessageBody=body)
        later = client.submit(b"{}", inline=True)
        assert future.result(timeout=10).status == InferenceStatus.COMPLETED
        _route(replies, later.inference_id)
        assert later.result(timeout=10).status == InferenceStatus.COMPLETED
        assert client.waiter.stats.resolved == {"replyQueue": 2}
        assert sqs.deletes == 0
        assert not {"DeleteMessage", "DeleteMessageBatch"} & set(client.waiter.stats.calls)
        # What was received stays invisible (it expires before its visibility timeout ends): no other
        # receive gets it again.
        time.sleep(0.3)
        again = replies.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        assert again.get("Messages", []) == []
        attributes = replies.sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert int(attributes["ApproximateNumberOfMessagesNotVisible"]) == 13


def test_the_queue_is_encrypted_tls_only_short_lived_and_tagged(replies: Aws) -> None:
    with _client(replies) as client:
        client.submit(b"{}", inline=True)
        (queue,) = _queues()
        attributes = replies.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        (statement,) = json.loads(attributes["Policy"])["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Resource"] == attributes["QueueArn"]
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert attributes["SqsManagedSseEnabled"] == "true"  # no ReplyQueueKeyArn given: SSE-SQS
        assert attributes["MessageRetentionPeriod"] == "60" == str(client_side.RETENTION_SECONDS)
        assert int(attributes["VisibilityTimeout"]) > 60, "a received reply would come back before it expires"
        assert queue.rsplit("/", 1)[1].startswith(PREFIX)
        tags = replies.sqs.list_queue_tags(QueueUrl=queue)["Tags"]
        assert abs(float(tags[client_side.HEARTBEAT_TAG]) - time.time()) < 60


def test_a_reply_nobody_received_expires_after_a_minute_on_moto_as_in_sqs(
    replies: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local run's SQS (moto) drops a message past the queue's retention, as SQS does: a reply
    that is never received (its caller was suspended, or gone) does not linger; the store has it."""
    import moto.sqs.models

    source = ReplyQueueSource(PREFIX, replies.sqs)
    queue = source.address()
    try:
        replies.sqs.send_message(QueueUrl=queue, MessageBody='{"results": []}')
        real = moto.sqs.models.unix_time
        monkeypatch.setattr(moto.sqs.models, "unix_time", lambda: real() + 59)
        kept = replies.sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0, WaitTimeSeconds=0)
        assert len(kept.get("Messages", [])) == 1, "gone before its 60 s"
        monkeypatch.setattr(moto.sqs.models, "unix_time", lambda: real() + 61)
        expired = replies.sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
        assert expired.get("Messages", []) == []
    finally:
        source.close()


@pytest.mark.parametrize("store", ["true", "false"], ids=["store-on", "store-off"])
def test_reply_to_comes_from_the_routing_claim_with_the_store_on_else_from_one_read(
    replies: Aws, monkeypatch: pytest.MonkeyPatch, store: str
) -> None:
    """With the result store on, the claim's UpdateItem returns the request's record (replyTo included),
    so the destination reads nothing; with it off (the lock on a record of its own), one BatchGetItem."""
    monkeypatch.setenv(contract.RESULT_STORE_ENABLED, store)
    entrypoint.reset_app()
    reads: list[list[str]] = []
    read = reply_queue.ReplyQueueDestination._reply_to

    def counted(self: Any, inference_ids: list[str]) -> dict[str, str]:
        reads.append(sorted(inference_ids))
        return read(self, inference_ids)

    monkeypatch.setattr(reply_queue.ReplyQueueDestination, "_reply_to", counted)
    with _client(replies) as client:
        futures = [client.submit(b"{}", inline=True) for _ in range(3)]
        (queue,) = _queues()
        client.waiter.sources[0].close(delete=False)  # type: ignore[call-arg]  # look at what was sent
        _route(replies, *[f.inference_id for f in futures])
        messages = replies.drain(queue)
    ids = sorted(f.inference_id for f in futures)
    assert sorted(r["inferenceId"] for m in messages for r in client_side.records_of(m["Body"])) == ids
    assert reads == ([] if store == "true" else [ids])
