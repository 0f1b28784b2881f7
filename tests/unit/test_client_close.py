"""A client's threads end with it: ``close()``, garbage collection and interpreter exit stop its waiter
and reply-queue source (no heartbeat or receive goes on against a stack or emulator that is gone) and
delete its queue; and the reply-queue source's batching window stays within its bound.

In-memory stand-ins for SQS, DynamoDB and SageMaker (no moto): only the calls the client makes.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any

import pytest

from sagemaker_async_results.client import AsyncInferenceClient, StackResources
from sagemaker_async_results.client.sources import reply_queue
from sagemaker_async_results.client.sources.reply_queue import (
    BATCH_WAIT_SECONDS,
    RECEIVE_LIMIT,
    ReplyQueueSource,
)

THREADS = {"async-results-waiter", "async-results-reply-queue"}


class MemorySqs:
    """A reply queue in memory: long polls of 0.05 s, every call recorded."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.deleted: list[str] = []
        self.messages: deque[str] = deque()

    def create_queue(self, **kwargs: Any) -> dict[str, str]:
        self.calls.append("CreateQueue")
        return {"QueueUrl": f"https://sqs.us-east-1.amazonaws.com/123456789012/{kwargs['QueueName']}"}

    def set_queue_attributes(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("SetQueueAttributes")
        return {}

    def tag_queue(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("TagQueue")
        return {}

    def receive_message(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("ReceiveMessage")
        if not self.messages:
            time.sleep(0.05)
            return {}
        body = self.messages.popleft()
        return {"Messages": [{"MessageId": "m", "ReceiptHandle": "r", "Body": body}]}

    def delete_queue(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append("DeleteQueue")
        self.deleted.append(kwargs["QueueUrl"])
        return {}


class MemoryDynamoDb:
    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        return {}

    def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
        return {"Responses": {}, "UnprocessedKeys": {}}


class Endpoint:
    def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
        return {
            "InferenceId": request["InferenceId"],
            "OutputLocation": f"s3://b/{request['InferenceId']}.out",
        }


def _client(sqs: MemorySqs) -> AsyncInferenceClient:
    resources = StackResources(endpoint_name="ep", bucket="b", input_prefix="in/", results_table="t")
    source = ReplyQueueSource("stack-rq-", sqs, wait_seconds=1, heartbeat_seconds=0.05)
    return AsyncInferenceClient(
        resources, s3=None, sagemaker_runtime=Endpoint(), dynamodb=MemoryDynamoDb(), sources=[source]
    )


def _running() -> set[str]:
    return {t.name for t in threading.enumerate() if t.is_alive()} & THREADS


def _until(condition: Any, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.fixture(autouse=True)
def _no_threads_left_over() -> None:
    gc.collect()
    assert _until(lambda: not _running()), f"threads of an earlier client still run: {_running()}"


def test_a_client_dropped_without_close_stops_its_threads_and_deletes_its_queue() -> None:
    sqs = MemorySqs()
    client = _client(sqs)
    future = client.submit(b"{}", inline=True)
    url = client.waiter.sources[0].url  # type: ignore[attr-defined]
    assert _running() == THREADS
    assert _until(lambda: "TagQueue" in sqs.calls), "the heartbeat never ran"
    future.cancel()  # nothing pending any more: nothing can resolve through this client
    del client, future
    gc.collect()
    assert _until(lambda: not _running()), f"still running after the client was collected: {_running()}"
    assert sqs.deleted == [url]
    calls = len(sqs.calls)
    time.sleep(0.3)  # five heartbeat periods
    assert len(sqs.calls) == calls, f"calls after the client was collected: {sqs.calls[calls:]}"


def test_a_pending_future_keeps_its_client_and_threads_alive() -> None:
    sqs = MemorySqs()
    client = _client(sqs)
    future = client.submit(b"{}", inline=True)
    del client
    gc.collect()
    time.sleep(0.1)
    assert _running() == THREADS, "the client was closed while a future of it could still resolve"
    record = {"inferenceId": future.inference_id, "status": "Completed", "outputLocation": "s3://b/o.out"}
    sqs.messages.append(json.dumps({"results": [record]}))
    assert future.result(timeout=5).inference_id == future.inference_id
    del future
    gc.collect()
    assert _until(lambda: not _running())
    assert len(sqs.deleted) == 1


def test_close_from_a_done_callback_in_the_sources_thread_does_not_deadlock_or_raise() -> None:
    sqs = MemorySqs()
    client = _client(sqs)
    future = client.submit(b"{}", inline=True)
    closed = threading.Event()

    def close_now(_: Any) -> None:
        client.close()  # runs in the reply-queue thread, which cannot join itself
        closed.set()

    future.add_done_callback(close_now)
    record = {"inferenceId": future.inference_id, "status": "Completed", "outputLocation": "s3://b/o.out"}
    sqs.messages.append(json.dumps({"results": [record]}))
    assert closed.wait(5), "close() from the source's own thread did not return"
    assert _until(lambda: not _running())
    client.close()  # a second close is harmless
    assert len(sqs.deleted) == 1


def test_interpreter_exit_deletes_the_queue_of_a_client_never_closed() -> None:
    script = f"""
import sys
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
from test_client_close import MemorySqs, _client

class Printing(MemorySqs):
    def delete_queue(self, **kwargs):
        print("deleted", kwargs["QueueUrl"].rsplit("/", 1)[1], flush=True)
        return {{}}

client = _client(Printing())
future = client.submit(b"{{}}", inline=True)
print("submitted", flush=True)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split()
    assert lines[:1] == ["submitted"]
    assert lines[1:] == ["deleted", lines[2]], f"deleted once: {done.stdout}"
    assert lines[2].startswith("stack-rq-"), done.stdout


class _Waiter:
    """What the source's window reads of the waiter."""

    def __init__(self, pending: int, shortest: float | None) -> None:
        self._pending, self.shortest_push_seconds = pending, shortest

    def pending(self) -> int:
        return self._pending


@pytest.mark.parametrize(
    ("shortest", "expected"),
    [(None, 0.0), (0.1, 0.1), (0.33, BATCH_WAIT_SECONDS), (30.0, BATCH_WAIT_SECONDS)],
)
def test_the_default_window_is_bounded_by_the_shortest_measured_request(
    shortest: float | None, expected: float
) -> None:
    source = ReplyQueueSource("p-", MemorySqs())
    assert source.window(_Waiter(100, shortest)) == pytest.approx(expected)  # type: ignore[arg-type]


def test_a_window_given_is_used_as_is() -> None:
    source = ReplyQueueSource("p-", MemorySqs(), batch_wait=2.5)
    assert source.window(_Waiter(100, 0.2)) == 2.5  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rate", "pending", "pause"),
    [
        (200.0, 100, RECEIVE_LIMIT / 200.0),  # fast: just long enough for a full receive
        (20.0, 100, BATCH_WAIT_SECONDS),  # 6 gathered in the whole window
        (2.0, 100, 0.0),  # 0.6 expected in the window: waiting would only delay
        (200.0, 1, 0.0),  # one pending: nothing to gather
        (20.0, 3, 3 / 20.0),  # only as long as the pending ones need
    ],
)
def test_the_pause_gathers_results_only_when_some_will_come(rate: float, pending: int, pause: float) -> None:
    source = ReplyQueueSource("p-", MemorySqs())
    source.pacer.rate = rate
    waiter = _Waiter(pending, 1.0)
    assert source._pause(waiter) == pytest.approx(pause)  # type: ignore[arg-type]
    assert source._pause(waiter) <= source.window(waiter)  # type: ignore[arg-type]


def test_the_queue_keeps_replies_a_minute_and_never_shows_one_twice() -> None:
    assert reply_queue.RETENTION_SECONDS == 60, "SQS's minimum"
    assert reply_queue.VISIBILITY_SECONDS > reply_queue.RETENTION_SECONDS
