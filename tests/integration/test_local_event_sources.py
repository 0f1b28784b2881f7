"""The local event sources delete what was handled in batches (as Lambda's poller does) and lose nothing:
every message is handed to the function once, failed SQS messages come back, and SNS envelopes that wait
for a busy function go back to the tap queue instead of being held."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sagemaker_async_results.local.event_sources import SnsTapSource, SqsEventSource
from sagemaker_async_results.local.lambda_runtime import InvokeResult


@dataclass(frozen=True)
class _Spec:
    name: str = "fn"
    arn: str = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    timeout_seconds: int = 3


@dataclass
class _Function:
    """Stands in for a LocalFunction: records events; ``fail`` message bodies fail, ``gate`` holds runs."""

    max_concurrency: int = 2
    fail: set[str] = field(default_factory=set)
    gate: threading.Event = field(default_factory=threading.Event)
    spec: _Spec = field(default_factory=_Spec)
    events: list[Any] = field(default_factory=list)

    def invoke(self, event: Any) -> InvokeResult:
        self.gate.wait(10)
        self.events.append(event)
        failed = [r["messageId"] for r in event["Records"] if r.get("body") in self.fail]
        return InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": i} for i in failed]})


class _Counting:
    """An SQS client that counts the calls it makes."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._sqs, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append(name)
            return method(**kwargs)

        return call


@pytest.fixture
def sqs() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[n]) for n in names)


def _drain(source: Any, until: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        source.poll_once()
    source.join(5)


def test_sqs_source_deletes_each_batch_in_one_call_and_returns_failures(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="buffered")["QueueUrl"]
    for index in range(10):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{index}")
    counting = _Counting(sqs)
    function: Any = _Function(fail={"m3"})
    function.gate.set()
    source = SqsEventSource(
        counting, url, "arn:aws:sqs:us-east-1:123456789012:buffered", function, batch_size=10
    )
    _drain(source, lambda: source.stats.delivered >= 9)
    assert source.stats.delivered == 9
    assert source.stats.failed_attempts >= 1
    assert "delete_message" not in counting.calls
    assert counting.calls.count("delete_message_batch") <= source.stats.invocations
    # The failed message came back after retry_after_seconds and is still on the queue (not deleted).
    assert _depth(sqs, url) == 1


def test_sns_tap_reads_ten_at_a_time_and_deletes_in_batches(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    for index in range(30):
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"Type": "Notification", "Message": f"n{index}"})
        )
    counting = _Counting(sqs)
    function: Any = _Function(max_concurrency=10)
    function.gate.set()
    source = SnsTapSource(counting, url, "arn:aws:sns:us-east-1:123456789012:topic:sub", function)
    _drain(source, lambda: source.stats.delivered >= 30)
    assert sorted(e["Records"][0]["Sns"]["Message"] for e in function.events) == sorted(
        f"n{i}" for i in range(30)
    )
    assert _depth(sqs, url) == 0
    assert "delete_message" not in counting.calls
    assert counting.calls.count("receive_message") <= 6  # 10 per call (+ at most a few short reads)
    assert counting.calls.count("delete_message_batch") <= 6


def test_sns_tap_puts_back_what_no_execution_can_take(sqs: Any) -> None:
    url = sqs.create_queue(QueueName="busy")["QueueUrl"]
    for index in range(5):
        sqs.send_message(
            QueueUrl=url, MessageBody=json.dumps({"Type": "Notification", "Message": f"n{index}"})
        )
    function: Any = _Function(max_concurrency=1)  # the gate holds its one execution
    source = SnsTapSource(
        sqs, url, "arn:aws:sns:us-east-1:123456789012:topic:sub", function, hold_seconds=0.2
    )
    assert source.poll_once() == 1  # one handed over; the other four went back
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "4"
    function.gate.set()
    _drain(source, lambda: source.stats.delivered >= 5)
    assert source.stats.delivered == 5
    assert _depth(sqs, url) == 0
