"""Deliver notifications to the local functions the way Lambda's event sources do.

Both sources read what the emulator's SNS really delivered into SQS (moto's SNS -> SQS delivery), so the
events handed to the handlers carry the emulator's own envelopes, never ones rebuilt from the notification:

- :class:`SqsEventSource` (``buffered`` mode) is Lambda's SQS event source mapping: batches, partial batch
  responses, failed messages left on the queue until its redrive policy moves them to the dead-letter queue.
- :class:`SnsTapSource` (``direct`` mode) is SNS -> Lambda: each envelope becomes the ``Records[].Sns`` event
  Lambda builds, invoked asynchronously with Lambda's retries, then sent to the on-failure destination.
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


@dataclass
class DeliveryStats:
    invocations: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0


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
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def poll_once(self) -> int:
        messages = self._receive_batch()
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        result = self.function.invoke(event)
        self.stats.invocations += 1
        failed_ids = self._failed_ids(result, messages)
        for message in messages:
            if message["MessageId"] in failed_ids:
                self.stats.failed_attempts += 1
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_after_seconds,
                )
            else:
                self.stats.delivered += 1
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

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
    """SNS -> Lambda delivery: reads the emulator's SNS envelopes from a tap queue subscribed to the topic."""

    sqs: Any
    tap_queue_url: str
    subscription_arn: str
    function: LocalFunction
    #: Lambda's asynchronous invocation retries (``MaximumRetryAttempts`` of the EventInvokeConfig).
    max_retry_attempts: int = 2
    #: URL of the SQS on-failure destination, or ``None`` (then Lambda would drop the event).
    on_failure_queue_url: str | None = None
    stats: DeliveryStats = field(default_factory=DeliveryStats)

    def poll_once(self) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.tap_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages = response.get("Messages", [])
        threads = [threading.Thread(target=self._deliver, args=(m,)) for m in messages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(messages)

    def _deliver(self, message: dict[str, Any]) -> None:
        event = sns_lambda_event(json.loads(message["Body"]), self.subscription_arn)
        result = InvokeResult()
        for _attempt in range(1 + self.max_retry_attempts):
            result = self.function.invoke(event)
            self.stats.invocations += 1
            if result.ok:
                self.stats.delivered += 1
                break
            self.stats.failed_attempts += 1
        else:
            self._send_to_on_failure_destination(event, result)
        self.sqs.delete_message(QueueUrl=self.tap_queue_url, ReceiptHandle=message["ReceiptHandle"])

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
        self.stats.dead_lettered += 1


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

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
