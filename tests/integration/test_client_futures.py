"""Futures, asyncio and batches of the client on moto: one waiter per client, fed by the results stream
(push) or by batched reads of the result store; submit options; the S3 check before Expired.

The endpoint is a stand-in that answers ``InvokeEndpointAsync`` as SageMaker does (locations, no work);
each test writes the result record (or the stream record) the result handlers would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sagemaker_async_results import contract
from sagemaker_async_results.client import (
    AsyncInferenceClient,
    InferenceExpiredError,
    InferenceFailedError,
    InferenceStatus,
    InferenceTimeoutError,
    StackResources,
    as_completed,
)

TABLE = "results"
BUCKET = "bkt"
STREAM = "results-stream"


class Endpoint:
    """``InvokeEndpointAsync`` as SageMaker answers it; remembers every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        inference_id = request["InferenceId"]
        extension = f"/{request['S3OutputPathExtension']}" if request.get("S3OutputPathExtension") else ""
        name = request.get("Filename") or f"{inference_id}.out"
        return {
            "InferenceId": inference_id,
            "OutputLocation": f"s3://{BUCKET}/out{extension}/{name}",
            "FailureLocation": f"s3://{BUCKET}/fail{extension}/{inference_id}-error.out",
        }


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        dynamodb = session.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        s3 = session.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        kinesis = session.client("kinesis")
        kinesis.create_stream(StreamName=STREAM, ShardCount=2)
        arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
        yield {"session": session, "dynamodb": dynamodb, "s3": s3, "kinesis": kinesis, "stream_arn": arn}


def _client(aws: dict[str, Any], *, stream: bool = False, clock: Any = None) -> AsyncInferenceClient:
    outputs = {"ResultsStreamArn": aws["stream_arn"]} if stream else {}
    resources = StackResources(
        endpoint_name="ep", bucket=BUCKET, input_prefix="in/", results_table=TABLE, outputs=outputs
    )
    extra = {"clock": clock} if clock else {}
    return AsyncInferenceClient(
        resources,
        s3=aws["s3"],
        sagemaker_runtime=Endpoint(),
        dynamodb=aws["dynamodb"],
        kinesis=aws["kinesis"] if stream else None,
        **extra,
    )


def _finish(aws: dict[str, Any], inference_id: str, status: str = "Completed", **extra: str) -> None:
    """What the result store destination writes when the notification arrives."""
    values = {"status": status, "outputLocation": f"s3://{BUCKET}/out/{inference_id}.out", **extra}
    aws["dynamodb"].update_item(
        TableName=TABLE,
        Key={"pk": {"S": contract.result_key(inference_id)}},
        UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
        ExpressionAttributeNames={f"#{k}": k for k in values},
        ExpressionAttributeValues={f":{k}": {"S": v} for k, v in values.items()},
    )


def test_futures_complete_in_the_order_results_arrive_and_failures_raise(aws: dict[str, Any]) -> None:
    with _client(aws) as client:
        futures = [client.submit(f'{{"n": {i}}}'.encode(), inline=True) for i in range(3)]
        assert not any(f.done() for f in futures)
        _finish(aws, futures[2].inference_id)
        first = next(as_completed(futures, timeout=10))
        assert first is futures[2]
        assert first.result().status == InferenceStatus.COMPLETED
        _finish(aws, futures[0].inference_id, "Failed", failureReason="ClientError: boom")
        with pytest.raises(InferenceFailedError) as failed:
            futures[0].result(timeout=10)
        assert failed.value.record.failure_reason == "ClientError: boom"
        assert isinstance(futures[0].exception(), InferenceFailedError)
        with pytest.raises(concurrent.futures.TimeoutError):
            futures[1].result(timeout=0.3)
        assert futures[1].cancel()
        assert futures[1].cancelled()
        assert client.waiter.pending() == 0
        # Every read was a batch of pending records, never one GetItem per request.
        assert set(client.waiter.stats.calls) == {"BatchGetItem"}


def test_results_are_pushed_from_the_stream_without_reading_the_store(aws: dict[str, Any]) -> None:
    with _client(aws, stream=True) as client:
        assert client.waiter.push
        futures = [client.submit(b"{}", inline=True) for _ in range(20)]
        for future in futures:
            record = {"inferenceId": future.inference_id, "status": "Completed", "routedTo": ["resultStore"]}
            record["outputLocation"] = future.submission.output_location
            aws["kinesis"].put_record(
                StreamName=STREAM, Data=json.dumps(record).encode(), PartitionKey=future.inference_id
            )
        # Someone else's result on the same stream is read and ignored.
        other = {"inferenceId": "someone-elses", "status": "Completed"}
        aws["kinesis"].put_record(StreamName=STREAM, Data=json.dumps(other).encode(), PartitionKey="x")
        records = [f.result(timeout=10) for f in futures]
        assert all(r.status == InferenceStatus.COMPLETED for r in records)
        assert records[0].output_location == futures[0].submission.output_location
        assert client.waiter.stats.resolved == {"stream": 20}
        assert "BatchGetItem" not in client.waiter.stats.calls


def test_map_keeps_input_order_with_bounded_concurrency_and_reports_progress(aws: dict[str, Any]) -> None:
    client = _client(aws)
    submitted: list[str] = []

    def inputs() -> Iterator[bytes]:
        for i in range(6):
            submitted.append(str(i))
            yield f'{{"n": {i}}}'.encode()

    finisher = concurrent.futures.ThreadPoolExecutor(1)

    def finish_all() -> None:
        # Answer requests as they appear, the last first, one failing.
        seen: set[str] = set()
        while len(seen) < 6:
            for request in list(client._runtime.requests):
                inference_id = request["InferenceId"]
                if inference_id not in seen:
                    seen.add(inference_id)
                    body = json.loads(request["Body"])
                    _finish(aws, inference_id, "Failed" if body["n"] == 4 else "Completed")

    finisher.submit(finish_all)
    progress: list[tuple[int, int | None]] = []
    results = list(
        client.map(
            inputs(),
            concurrency=2,
            timeout=20,
            return_exceptions=True,
            progress=lambda d, t: progress.append((d, t)),
            inline=True,
        )
    )
    finisher.shutdown()
    client.close()
    bodies = [json.loads(r["Body"])["n"] for r in client._runtime.requests]
    assert sorted(bodies) == list(range(6))
    assert [isinstance(r, InferenceFailedError) for r in results] == [False] * 4 + [True, False]
    assert progress[-1] == (6, None)


def test_asyncio_predict_completions_and_cancellation(aws: dict[str, Any]) -> None:
    client = _client(aws)

    async def scenario() -> None:
        task = asyncio.create_task(client.predict(b"{}", inline=True, inference_id="async-1"))
        while not client._runtime.requests:
            await asyncio.sleep(0.01)
        _finish(aws, "async-1")
        record = await asyncio.wait_for(task, 10)
        assert record.inference_id == "async-1"

        with pytest.raises(asyncio.TimeoutError):
            await client.predict(b"{}", inline=True, inference_id="never", timeout=0.3)
        assert client.waiter.pending() == 0  # the timed-out wait was cancelled and forgotten

        requests = client._runtime.requests
        names = ["a", "b", "c"]

        def request_of(name: str) -> dict[str, Any] | None:
            return next((r for r in requests if json.loads(r["Body"]).get("name") == name), None)

        # Each result is written while the iteration waits: completions come in the order results arrive.
        completions = client.completions(
            [json.dumps({"name": name}).encode() for name in names], concurrency=3, inline=True
        )
        for name in reversed(names):
            next_done = asyncio.ensure_future(anext(completions))
            while (request := request_of(name)) is None:
                await asyncio.sleep(0.01)
            _finish(aws, request["InferenceId"])
            future = await asyncio.wait_for(next_done, 10)
            assert future.inference_id == request["InferenceId"]
            assert future.result().status == InferenceStatus.COMPLETED
        with pytest.raises(StopAsyncIteration):
            await anext(completions)

    asyncio.run(scenario())
    client.close()


def test_submit_options_inline_body_and_sagemaker_request_fields(aws: dict[str, Any]) -> None:
    client = _client(aws)
    submission = client.invoke(
        b'{"inputs": "small"}',
        inline=True,
        filename="answer.json",
        s3_output_path_extension="batch-7",
        ttl_seconds=120,
        invocation_timeout_seconds=30,
        custom_attributes="tenant=acme",
        inference_id="opt-1",
    )
    (request,) = client._runtime.requests
    assert request["Body"] == b'{"inputs": "small"}'
    assert "InputLocation" not in request
    assert request["Filename"] == "answer.json"
    assert request["S3OutputPathExtension"] == "batch-7"
    assert request["RequestTTLSeconds"] == 120
    assert request["InvocationTimeoutSeconds"] == 30
    assert submission.input_location is None
    assert submission.output_location == f"s3://{BUCKET}/out/batch-7/answer.json"
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET)  # nothing uploaded
    item = aws["dynamodb"].get_item(TableName=TABLE, Key={"pk": {"S": contract.result_key("opt-1")}})["Item"]
    assert item["submittedFailureLocation"]["S"] == f"s3://{BUCKET}/fail/batch-7/opt-1-error.out"
    with pytest.raises(ValueError, match="at most 128000 bytes"):
        client.invoke(b"x" * 128_001, inline=True)


def test_resubmitting_an_inference_id_makes_no_second_request(aws: dict[str, Any]) -> None:
    client = _client(aws)
    first = client.invoke(b"{}", inline=True, inference_id="same")
    again = client.invoke(b"{}", inline=True, inference_id="same")
    assert len(client._runtime.requests) == 1
    assert again.resubmitted
    assert not first.resubmitted
    assert (again.output_location, again.failure_location) == (first.output_location, first.failure_location)


def test_long_task_token_is_kept_in_the_submitted_record(aws: dict[str, Any]) -> None:
    client = _client(aws)
    token = "T" * 2048
    client.invoke(b"{}", inline=True, inference_id="sf-long", task_token=token, custom_attributes="tenant=a")
    (request,) = client._runtime.requests
    assert request["CustomAttributes"] == f"tenant=a;{contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE}=1"
    item = aws["dynamodb"].get_item(TableName=TABLE, Key={"pk": {"S": contract.result_key("sf-long")}})[
        "Item"
    ]
    assert item[contract.SUBMITTED_TASK_TOKEN_ATTRIBUTE]["S"] == token


def test_past_its_expiry_a_request_is_checked_once_in_s3_before_it_is_expired(aws: dict[str, Any]) -> None:
    later = datetime.now(UTC) + timedelta(hours=7)
    client = _client(aws)
    found = client.invoke(b"{}", inline=True, inference_id="found")
    failed = client.invoke(b"{}", inline=True, inference_id="failed-found")
    lost = client.invoke(b"{}", inline=True, inference_id="lost")
    aws["s3"].put_object(Bucket=BUCKET, Key="out/found.out", Body=b"{}")
    aws["s3"].put_object(Bucket=BUCKET, Key="fail/failed-found-error.out", Body=b"{}")
    clocked = _client(aws, clock=lambda: later)
    heads: list[str] = []
    aws["s3"].meta.events.register(
        "provide-client-params.s3.HeadObject", lambda params, **_: heads.append(params["Key"])
    )
    record = clocked.status(found.inference_id)
    assert record.status == InferenceStatus.COMPLETED
    assert record.found_in_s3
    assert record.output_location == found.output_location
    assert clocked.status(failed.inference_id).status == InferenceStatus.FAILED
    assert clocked.status(lost.inference_id).status == InferenceStatus.EXPIRED
    assert clocked.status(lost.inference_id).status == InferenceStatus.EXPIRED
    assert heads.count("out/lost.out") == 1  # checked once, not on every read
    future = clocked.future(lost)
    with pytest.raises(InferenceExpiredError):
        future.result(timeout=10)
    clocked.close()


def test_many_waits_share_the_waiter_instead_of_polling_each_record(aws: dict[str, Any]) -> None:
    """30 threads in ``wait``: one GetItem each to start, then batched reads for all of them."""
    with _client(aws) as client:
        submissions = [client.invoke(b"{}", inline=True) for _ in range(30)]
        calls: list[str] = []
        batch_sizes: list[int] = []
        aws["dynamodb"].meta.events.register(
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
        aws["dynamodb"].meta.events.register(
            "provide-client-params.dynamodb.BatchGetItem",
            lambda params, **_: batch_sizes.append(
                sum(len(t["Keys"]) for t in params["RequestItems"].values())
            ),
        )
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            waits = [pool.submit(client.wait, s.inference_id, 20) for s in submissions]
            time.sleep(1.0)
            for submission in submissions:
                _finish(aws, submission.inference_id)
            records = [w.result(timeout=30) for w in waits]
        elapsed = time.monotonic() - started
        assert {r.status for r in records} == {InferenceStatus.COMPLETED}
        reads = [c for c in calls if c != "UpdateItem"]  # _finish's writes share the client
        assert reads.count("GetItem") == 30
        # Waiting costs one batch per 100 ms sweep for all pending records together, not a read per
        # record per 100 ms (30 times as many): bounded by the time waited, however slow the machine.
        assert reads.count("BatchGetItem") == len(batch_sizes)
        assert len(batch_sizes) <= elapsed / 0.1 + 2, (len(batch_sizes), elapsed)
        assert max(batch_sizes) == 30, "one batch read every pending record at once"
        assert client.waiter.pending() == 0


def test_wait_keeps_its_timeout_unknown_and_routed_behaviour(aws: dict[str, Any]) -> None:
    with _client(aws, stream=True) as client:
        with pytest.raises(InferenceTimeoutError, match="Unknown"):
            client.wait("never-submitted", timeout=0.5)
        submission = client.invoke(b"{}", inline=True)
        _finish(aws, submission.inference_id, routing=contract.ROUTING_IN_PROGRESS)
        # The stream announces the result while the handlers are still at work.
        announced = {"inferenceId": submission.inference_id, "status": "Completed"}
        aws["kinesis"].put_record(
            StreamName=STREAM, Data=json.dumps(announced).encode(), PartitionKey=submission.inference_id
        )
        with pytest.raises(InferenceTimeoutError, match="Completed"):
            client.wait(submission.inference_id, timeout=1.0, routed=True)
        assert client.wait(submission.inference_id, timeout=5).status == InferenceStatus.COMPLETED

        def finish_routing() -> None:
            time.sleep(0.5)
            _finish(aws, submission.inference_id, routing="Routed")

        finisher = threading.Thread(target=finish_routing)
        finisher.start()
        started = time.monotonic()
        record = client.wait(submission.inference_id, timeout=20, routed=True)
        finisher.join()
        assert record.routing == "Routed"
        # Confirmed from the store soon after the handlers finished, not at the 30 s safety sweep.
        assert time.monotonic() - started < 5
        assert client.waiter.pending() == 0


def test_a_request_expiring_during_a_wait_is_reported_expired_then(aws: dict[str, Any]) -> None:
    """The wait reads the store at the expiry moment (then the one S3 check), even with a stream."""
    offset = [0.0]
    client = _client(aws, stream=True, clock=lambda: datetime.now(UTC) + timedelta(seconds=offset[0]))
    client.invoke(b"{}", inline=True, inference_id="expiring")
    offset[0] = 21600 + 900 - 1.0  # the default TTL + invocation timeout runs out in a second
    started = time.monotonic()
    record = client.wait("expiring", timeout=20)
    assert record.status == InferenceStatus.EXPIRED
    assert time.monotonic() - started < 10  # at its expiry, not at the 30 s safety sweep
    client.close()


def test_reads_pick_up_pace_as_soon_as_results_start_arriving() -> None:
    """A slowly rising rate estimate would hold the next read for the longest pause while results pile up."""
    from sagemaker_async_results.client.sources.stream import MIN_STREAM_POLL_SECONDS
    from sagemaker_async_results.client.waiter import RESULTS_PER_READ, Pacer

    pacer = Pacer(MIN_STREAM_POLL_SECONDS, 2.0)
    # A read finds 10 results 0.2 s after the last one: 50 results/s from now on, not a tenth of it.
    pacer.last_update = time.monotonic() - 0.2
    pacer.note(10)
    assert pacer.rate == pytest.approx(50, rel=0.05)
    assert pacer.pause(1000) == MIN_STREAM_POLL_SECONDS
    # A read that finds nothing lets the estimate decay, not drop: no long pause after one empty read.
    pacer.last_update = time.monotonic() - 0.2
    pacer.note(0)
    assert 40 < pacer.rate < 50
    # Few results: the pause lets RESULTS_PER_READ of them accumulate (the calls budget), at most 2 s.
    pacer.rate = 10.0
    assert pacer.pause(1000) == pytest.approx(RESULTS_PER_READ / 10.0)
    pacer.rate = 0.5
    assert pacer.pause(1000) == 2.0
    # One request pending, or nothing seen yet: read at the shortest pause (a lone request's latency).
    assert pacer.pause(1) == MIN_STREAM_POLL_SECONDS
    pacer.rate = 0.0
    assert pacer.pause(1000) == MIN_STREAM_POLL_SECONDS
