"""The embedded emulator's speed-ups change no answer: services are still found per request, and SQS
delays and visibility timeouts still hold, on a moto server started after the patch."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sagemaker_async_results.local.moto_speedups import speed_up_embedded_moto


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    speed_up_embedded_moto()
    speed_up_embedded_moto()  # idempotent
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(url: str, service: str) -> object:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    return session.client(service, endpoint_url=url)  # type: ignore[call-overload]


def test_requests_still_reach_their_own_service(url: str) -> None:
    sqs, dynamodb, s3 = (_client(url, name) for name in ("sqs", "dynamodb", "s3"))
    for _ in range(2):  # the second time from the remembered host
        assert "QueueUrl" in sqs.create_queue(QueueName="speed")  # type: ignore[attr-defined]
        assert "TableNames" in dynamodb.list_tables()  # type: ignore[attr-defined]
        assert "Buckets" in s3.list_buckets()  # type: ignore[attr-defined]


def test_sqs_delays_and_visibility_timeouts_still_hold(url: str) -> None:
    sqs: object = _client(url, "sqs")
    queue = sqs.create_queue(QueueName="clock")["QueueUrl"]  # type: ignore[attr-defined]
    sent = time.monotonic()
    sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=5)  # type: ignore[attr-defined]
    sqs.send_message(QueueUrl=queue, MessageBody="now")  # type: ignore[attr-defined]
    first = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=5)  # type: ignore[attr-defined]
    assert [m["Body"] for m in first["Messages"]] == ["now"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]  # type: ignore[attr-defined]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    bodies: list[str] = []
    deadline = time.monotonic() + 30
    while len(bodies) < 2 and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)  # type: ignore[attr-defined]
        bodies += [m["Body"] for m in received.get("Messages", [])]
    assert sorted(bodies) == ["later", "now"]
    assert time.monotonic() - sent >= 5  # neither came back before its 5 s were up
