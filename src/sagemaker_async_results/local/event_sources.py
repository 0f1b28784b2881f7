"""Deliver notifications to the local functions the way Lambda's event sources do.

Both sources read what the emulator's SNS really delivered into SQS (moto's SNS -> SQS delivery), so the
events handed to the handlers carry the emulator's own envelopes, never ones rebuilt from the notification:

- :class:`SqsEventSource` (``buffered`` mode) is Lambda's SQS event source mapping: batches, partial batch
  responses, failed messages left on the queue until its redrive policy moves them to the dead-letter queue.
- :class:`SnsTapSource` (``direct`` mode) is SNS -> Lambda: each envelope becomes the ``Records[].Sns`` event
  Lambda builds, invoked asynchronously with Lambda's retries, then sent to the on-failure destination.

As on Lambda, both hand events to concurrent executions of the function (up to its concurrency, see
:class:`~sagemaker_async_results.local.lambda_runtime.LocalFunction`): a message is received only when
an execution is free to take it, so nothing waits in this process while it could be routed. Like Lambda's
poller, they remove what was handled with ``DeleteMessageBatch`` (and return failed SQS messages with
``ChangeMessageVisibilityBatch``), up to 10 messages a call: every call is a request the emulator serves.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sagemaker_async_results.client.lambda_events import sns_lambda_event
from sagemaker_async_results.local.lambda_runtime import InvokeResult, LocalFunction

logger = logging.getLogger(__name__)

#: Entries per SQS batch call (``DeleteMessageBatch``, ``ChangeMessageVisibilityBatch``): SQS's limit.
SQS_BATCH_LIMIT = 10


def delete_messages(sqs: Any, queue_url: str, receipt_handles: list[str]) -> int:
    """Delete handled messages 10 per ``DeleteMessageBatch``; returns how many SQS refused (logged).

    A refused entry (e.g. an expired receipt handle) leaves its message to come back, as with Lambda.
    """
    refused = 0
    for start in range(0, len(receipt_handles), SQS_BATCH_LIMIT):
        chunk = receipt_handles[start : start + SQS_BATCH_LIMIT]
        response = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)],
        )
        for failure in response.get("Failed", []):
            refused += 1
            logger.warning(
                "%s: message not deleted: %s %s", queue_url, failure.get("Code"), failure.get("Message")
            )
    return refused


def change_visibility(sqs: Any, queue_url: str, receipt_handles: list[str], seconds: int) -> None:
    """Make received messages visible again after ``seconds``, 10 per ``ChangeMessageVisibilityBatch``."""
    for start in range(0, len(receipt_handles), SQS_BATCH_LIMIT):
        chunk = receipt_handles[start : start + SQS_BATCH_LIMIT]
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for i, handle in enumerate(chunk)
            ],
        )


@dataclass
class DeliveryStats:
    invocations: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, count: int = 1) -> None:
        """Count from any of the concurrent deliveries."""
        with self._lock:
            setattr(self, name, getattr(self, name) + count)


class _Executions:
    """Free executions of a function for one event source: take them before receiving, give back after.

    Each delivery runs on its own thread, so the source's poll loop goes on receiving while earlier
    events are being handled.
    """

    def __init__(self, limit: int, name: str) -> None:
        self._free = threading.Semaphore(limit)
        self._name = name
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def take(self, most: int, wait: float = 1.0) -> int:
        """At least one free execution (waiting up to ``wait`` seconds; 0 when none), at most ``most``."""
        if not self._free.acquire(timeout=wait):
            return 0
        taken = 1
        while taken < most and self._free.acquire(blocking=False):
            taken += 1
        return taken

    def give_back(self, count: int = 1) -> None:
        for _ in range(count):
            self._free.release()

    def run(self, target: Any, *args: Any) -> None:
        """``target(*args)`` on a thread of its own; its execution is given back when it returns."""

        def deliver() -> None:
            try:
                target(*args)
            except Exception:
                logger.exception("%s: delivery failed", self._name)
            finally:
                self.give_back()
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=deliver, name=f"deliver-{self._name}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds in all for the deliveries still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class EventSource(Protocol):
    stats: DeliveryStats

    def poll_once(self) -> int: ...


@dataclass
class SqsEventSource:
    """Lambda's SQS event source mapping, polling one queue for one function."""

    sqs: Any
    queue_url: str
    queue_arn: str
    function: LocalFunction
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = True
    region: str = "us-east-1"
    #: Lambda leaves a failed message invisible for the queue's visibility timeout (minutes). Locally it
    #: comes back after this many seconds, so retries and the redrive to the DLQ happen within a demo.
    retry_after_seconds: int = 1
    #: The mapping's ``ScalingConfig.MaximumConcurrency`` (``None``: the function's own limit).
    maximum_concurrency: int | None = None
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def __post_init__(self) -> None:
        limit = self.function.max_concurrency
        if self.maximum_concurrency:
            limit = min(limit, self.maximum_concurrency)
        self._executions = _Executions(limit, self.function.spec.name)

    def poll_once(self) -> int:
        """Receive one batch when an execution is free and hand it over (it runs concurrently)."""
        if not self._executions.take(1):
            return 0
        try:
            messages = self._receive_batch()
        except BaseException:
            self._executions.give_back()
            raise
        if not messages:
            self._executions.give_back()
            return 0
        self._executions.run(self._deliver, messages)
        return len(messages)

    def join(self, timeout: float) -> None:
        self._executions.join(timeout)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [self._record(message) for message in messages]}
        result = self.function.invoke(event)
        self.stats.add("invocations")
        failed_ids = self._failed_ids(result, messages)
        failed = [m["ReceiptHandle"] for m in messages if m["MessageId"] in failed_ids]
        handled = [m["ReceiptHandle"] for m in messages if m["MessageId"] not in failed_ids]
        change_visibility(self.sqs, self.queue_url, failed, self.retry_after_seconds)
        self.stats.add("failed_attempts", len(failed))
        self.stats.add("delivered", len(handled))
        delete_messages(self.sqs, self.queue_url, handled)

    def _receive_batch(self) -> list[dict[str, Any]]:
        """Like Lambda: once a message is in hand, gather more until the batch is full or the
        batching window has passed."""
        messages: list[dict[str, Any]] = []
        deadline = float("inf")
        while len(messages) < self.batch_size and time.monotonic() < deadline:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            if not messages and not received:
                return []
            if not messages:
                deadline = time.monotonic() + self.batching_window_seconds
            elif not received:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
            messages.extend(received)
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def _failed_ids(self, result: InvokeResult, messages: list[dict[str, Any]]) -> set[str]:
        if not result.ok:
            logger.warning("%s failed the whole batch: %s", self.function.spec.name, result.error_message)
            return {m["MessageId"] for m in messages}
        if not self.report_batch_item_failures or not isinstance(result.payload, dict):
            return set()
        return {item["itemIdentifier"] for item in result.payload.get("batchItemFailures", [])}


@dataclass
class SnsTapSource:
    """SNS -> Lambda delivery: reads the emulator's SNS envelopes from a tap queue subscribed to the topic.

    The tap queue is the local run's own plumbing (SNS pushes to Lambda in AWS): it is read 10 envelopes
    per ``ReceiveMessage`` and the delivered ones deleted 10 per ``DeleteMessageBatch``, so the emulator
    serves about 0.2 tap requests per event instead of 2. An envelope received while every execution is
    busy waits here for the next free one (at most ``hold_seconds``, then it goes back to the queue).
    """

    sqs: Any
    tap_queue_url: str
    subscription_arn: str
    function: LocalFunction
    #: Lambda's asynchronous invocation retries (``MaximumRetryAttempts`` of the EventInvokeConfig).
    max_retry_attempts: int = 2
    #: URL of the SQS on-failure destination, or ``None`` (then Lambda would drop the event).
    on_failure_queue_url: str | None = None
    #: How long a received envelope may wait for a free execution before it is put back on the tap queue.
    hold_seconds: float = 5.0
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def __post_init__(self) -> None:
        self._executions = _Executions(self.function.max_concurrency, self.function.spec.name)
        self._handled: list[str] = []  # receipt handles of delivered envelopes, not deleted yet
        self._handled_lock = threading.Lock()

    def poll_once(self) -> int:
        """Delete what was delivered, then receive up to 10 envelopes and hand each to a free execution."""
        self._delete_handled()
        if not self._executions.take(1):
            return 0
        try:
            response = self.sqs.receive_message(
                QueueUrl=self.tap_queue_url,
                MaxNumberOfMessages=SQS_BATCH_LIMIT,
                WaitTimeSeconds=1,
                VisibilityTimeout=self._visibility_timeout(),
            )
        except BaseException:
            self._executions.give_back()
            raise
        messages = response.get("Messages", [])
        if not messages:
            self._executions.give_back()
            return 0
        self._executions.run(self._deliver, messages[0])
        for index, message in enumerate(messages[1:], start=1):
            if not self._executions.take(1, wait=self.hold_seconds):
                self._put_back(messages[index:])
                return index
            self._executions.run(self._deliver, message)
        return len(messages)

    def join(self, timeout: float) -> None:
        self._executions.join(timeout)
        self._delete_handled()

    def _visibility_timeout(self) -> int:
        """Long enough for the last envelope of a receive to wait its turn, run every attempt and be
        deleted by the next poll: it must not come back while it is being handled."""
        attempts = 1 + self.max_retry_attempts
        return int(SQS_BATCH_LIMIT * self.hold_seconds + attempts * self.function.spec.timeout_seconds + 30)

    def _delete_handled(self) -> None:
        with self._handled_lock:
            handles, self._handled = self._handled, []
        if handles:
            delete_messages(self.sqs, self.tap_queue_url, handles)

    def _put_back(self, messages: list[dict[str, Any]]) -> None:
        """Make envelopes no execution could take visible again at once (the next poll receives them)."""
        change_visibility(self.sqs, self.tap_queue_url, [m["ReceiptHandle"] for m in messages], 0)

    def _deliver(self, message: dict[str, Any]) -> None:
        event = sns_lambda_event(json.loads(message["Body"]), self.subscription_arn)
        result = InvokeResult()
        for _attempt in range(1 + self.max_retry_attempts):
            result = self.function.invoke(event)
            self.stats.add("invocations")
            if result.ok:
                self.stats.add("delivered")
                break
            self.stats.add("failed_attempts")
        else:
            self._send_to_on_failure_destination(event, result)
        with self._handled_lock:
            self._handled.append(message["ReceiptHandle"])

    def _send_to_on_failure_destination(self, event: dict[str, Any], result: InvokeResult) -> None:
        if self.on_failure_queue_url is None:
            logger.error("event dropped: %s has no on-failure destination", self.function.spec.name)
            return
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(),
            "requestContext": {
                "requestId": result.request_id,
                "functionArn": f"{self.function.spec.arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 1 + self.max_retry_attempts,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": result.error_type, "errorMessage": result.error_message},
        }
        self.sqs.send_message(QueueUrl=self.on_failure_queue_url, MessageBody=json.dumps(record))
        self.stats.add("dead_lettered")


class Poller:
    """Runs event sources on background threads until stopped."""

    def __init__(self, sources: list[EventSource]) -> None:
        self._sources = sources
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(s,), daemon=True) for s in sources]

    def _loop(self, source: EventSource) -> None:
        while not self._stop.is_set():
            try:
                source.poll_once()
            except Exception:
                if self._stop.is_set():
                    return
                logger.exception("event source poll failed")
                time.sleep(0.5)

    def start(self) -> Poller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop receiving; wait up to ``timeout`` seconds in all for the deliveries under way."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for source in self._sources:
            join = getattr(source, "join", None)
            if join is not None:
                join(max(0.0, deadline - time.monotonic()))
