"""Case: awaiting results from 1, 10 and 100 caller processes, and after 10 idle minutes.

Two ways the client learns of a result, side by side on one in-memory AWS with AWS's quotas modeled:

- **reply queue** (the default stack's push): each caller process has its own SQS queue, named in its
  requests' Submitted records; the result function sends each result there; the caller long-polls it
  (``ReceiveMessage`` up to 10 messages, ``WaitTimeSeconds`` 20, returning as soon as a message is
  there), waits a bounded window before the next receive while results arrive fast enough to gather
  several, and deletes nothing (a received message expires invisible: 60 s retention);
- **stream** (today's option, ``destinations.kinesis``): every caller reads every shard of the results
  stream with ``GetRecords``; Kinesis allows **5 GetRecords per second per shard, shared by every
  reader** (one shard here, as an on-demand stream starts): a call beyond that is refused with
  ``ProvisionedThroughputExceededException`` (counted as throttled, retried by botocore, then backed
  off by the client); an iterator expires 5 minutes after it was returned.

Each simulated process has its own client, waiter, push source and boto3 clients, and its own calls
counted at the in-memory AWS (per caller, retries included). Every process submits
:data:`FUTURES_PER_CALLER` futures; then a producer (the result functions) makes the results available
at :data:`RATE` results/s in all, interleaved across callers, writing the result record to the store and
either sending it to its caller's queue or putting it on the stream.

**Time to result** = what a request takes when the endpoint runs it at once: :data:`PIPELINE_S` (the
model and the hops up to the reply, modelled below, the same for both designs) + the producer's write ->
the caller holds it (measured). A lone request (one process, one request at a time, its result made
available :data:`PIPELINE_S` after its submit, so that the caller's receive is in the state it would be)
is each design's baseline. Time a request spends queued at a busy endpoint is left out: it is the
endpoint's capacity, not the waiting. Why model the pipeline at all: a lone request's time measured
from the write alone is the fake's 10 ms hop plus the waiter's reaction (18 ms), so any few tens of
milliseconds of Python scheduling read as 1.7x; the caller of an async endpoint never sees that
number, it sees the model and the hops too. :data:`PIPELINE_S`, each value documented or measured:

- the model: :data:`MODEL_S` = 0.25 s, the main await bench's ``pacedModelSeconds`` (its stand-in for
  a real endpoint's run; async endpoints exist for runs of seconds to an hour, so this is short);
- SageMaker after the model: the output ``PutObject`` and the SNS ``Publish`` (2 calls);
- SNS delivering to the function (1 hop);
- the function for one result (a batch of 1): the claim/record ``UpdateItem`` (whose answer carries
  the request's ``replyTo``: no read of its own), the completion's ``TransactWriteItems`` and the
  results queue's ``SendMessageBatch`` (the call counts measured by the throughput bench,
  ``bench/fake_aws.py``), plus the reply destination's ``SendMessageBatch`` (4 calls; the stream
  design's ``PutRecords`` in its place is one call too, so both designs share one model);
- each call or hop: :data:`LATENCY_S` (10 ms), the in-region call latency every fake of the benches uses.

So 0.25 + 7 x 0.01 = 0.32 s. Left out, for want of a documented value: SageMaker's internal queue
and container overhead, SNS's delivery delay beyond one hop, Lambda cold starts. Each would lengthen a
lone request and so loosen the p50 target; leaving them out keeps it strict.

**Idle**: one caller awaits a request, idles :data:`IDLE_MINUTES` (time compressed by
:data:`IDLE_TIME_SCALE`: the long poll, the heartbeat and the iterator expiry run that much faster),
then awaits again: calls per idle minute, and the first result's time after the idle period.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import statistics
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

CASE = "await_at_scale"
#: Targets of the issue, per caller process.
MAX_CALLS_PER_RESULT = 0.2
MAX_P50_RATIO = 1.5
MAX_IDLE_CALLS_PER_MINUTE = 3.0
#: The load: caller processes x futures each, results made available at RATE per second in all.
CALLERS = (1, 10, 100)
FUTURES_PER_CALLER = 100
RATE = 200.0
LATENCY_S = 0.010
#: A lone request's time before its reply is sent (see the module docstring): the model, then 8 calls.
MODEL_S = 0.25
PIPELINE_CALLS = 7
PIPELINE_S = MODEL_S + PIPELINE_CALLS * LATENCY_S
#: The informative row's ``batch_wait`` (a caller's own choice): at 100 callers each gets 2 results/s, and
#: 0.2 calls per result needs 5 results per receive, i.e. a 2.5 s window (adding ~1.25 s to the median).
TRADE_OFF_BATCH_WAIT = 2.5
IDLE_MINUTES = 10
IDLE_TIME_SCALE = 0.01
#: Kinesis: GetRecords per second per shard (every reader together); iterator lifetime.
KINESIS_READS_PER_SECOND = 5
ITERATOR_SECONDS = 300
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/fake-results"
SHARD = "shardId-000000000000"
PREFIX = "bench-rq-"
TABLE = "fake-results"
#: The calls a caller makes to wait (its submits and its queue's creation are not waiting).
WAIT_OPERATIONS = {
    "ReceiveMessage",
    "DeleteMessageBatch",
    "TagQueue",
    "GetRecords",
    "GetShardIterator",
    "ListShards",
    "BatchGetItem",
    "GetItem",
    "HeadObject",
}


class Refused(Exception):
    """An AWS error answer: ``code`` and HTTP ``status``."""

    def __init__(self, code: str, status: int = 400) -> None:
        super().__init__(code)
        self.code, self.status = code, status


@dataclass
class _Queue:
    visible: deque[tuple[str, str]] = field(default_factory=deque)
    inflight: dict[str, str] = field(default_factory=dict)


class QuotaAws:
    """The calls of the client (submit and wait), answered from memory with AWS's quotas modeled.

    DynamoDB (``UpdateItem``, ``GetItem``, ``BatchGetItem``), SageMaker ``InvokeEndpointAsync``,
    Kinesis (``ListShards``, ``GetShardIterator``, ``GetRecords``: 5 per second per shard across every
    reader, iterators expiring after 300 s), SQS (``CreateQueue``, ``SetQueueAttributes``, ``TagQueue``,
    ``ReceiveMessage`` with long polling, ``DeleteMessageBatch``, ``DeleteQueue``). Calls, refusals and
    latency are counted per caller (the name given to :meth:`install`). ``time_scale`` < 1 compresses
    the clock: long polls and iterator lifetimes pass that much faster.
    """

    def __init__(self, latency_s: float = LATENCY_S, *, time_scale: float = 1.0) -> None:
        self.latency_s, self.time_scale = latency_s, time_scale
        self.items: dict[str, dict[str, Any]] = {}
        self.stream: list[tuple[float, bytes]] = []
        self.queues: dict[str, _Queue] = {}
        self.calls: dict[str, Counter[str]] = {}
        self.throttled: dict[str, Counter[str]] = {}
        self.reads: deque[float] = deque()
        self.replies_lost = 0
        self._lock = threading.Condition()
        self._t0, self._p0 = time.time(), time.perf_counter()

    def now(self) -> float:
        """Simulated epoch seconds (``time_scale`` compresses it)."""
        return self._t0 + (time.perf_counter() - self._p0) / self.time_scale

    def install(self, client: Any, caller: str) -> Any:
        client.meta.events.register_first("before-send", functools.partial(self._answer, caller=caller))
        return client

    # -- what the result functions do --------------------------------------------------------------------
    def make_available(self, inference_id: str, output_location: str, *, stream: bool) -> float:
        """The result record to the store, and to the caller's reply queue or the stream."""
        from sagemaker_async_results import contract

        record = {"inferenceId": inference_id, "status": "Completed", "outputLocation": output_location}
        with self._lock:
            pk = contract.result_key(inference_id)
            item = self.items.setdefault(pk, {contract.TABLE_PARTITION_KEY: {"S": pk}})
            item.update({k: {"S": v} for k, v in record.items()})
            item[contract.ROUTING_ATTRIBUTE] = {"S": contract.ROUTING_ROUTED}
            if stream:
                self.stream.append((time.time(), json.dumps(record).encode()))  # arrival: wall clock
            else:
                url = item.get("replyTo", {}).get("S")
                queue = self.queues.get(url or "")
                if queue is None:
                    self.replies_lost += 1
                else:
                    queue.visible.append((uuid.uuid4().hex, json.dumps({"results": [record]})))
                    self._lock.notify_all()
            return time.perf_counter()

    # -- the wire ------------------------------------------------------------------------------------------
    def _answer(self, request: Any, event_name: str, caller: str, **_: Any) -> Any:
        service = event_name.split(".")[1]
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2] or service
        with self._lock:
            self.calls.setdefault(caller, Counter())[operation] += 1
        time.sleep(self.latency_s / 2)  # the request's way there; the answer's way back below
        response = self._respond(request, service, operation, caller)
        time.sleep(self.latency_s / 2)
        return response

    def _respond(self, request: Any, service: str, operation: str, caller: str) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        if service == "sagemaker-runtime":
            raw_id = request.headers.get("X-Amzn-SageMaker-Inference-Id", b"")
            inference_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            headers = {
                "Content-Type": "application/json",
                "X-Amzn-SageMaker-OutputLocation": f"s3://fake-bucket/out/{inference_id}.out",
            }
            body = json.dumps({"InferenceId": inference_id}).encode()
            return AWSResponse(request.url, 202, headers, MockRawResponse(body))  # type: ignore[arg-type]
        params = json.loads(request.body or b"{}")
        headers = {"Content-Type": "application/x-amz-json-1.0"}
        try:
            answer = self._receive(params) if operation == "ReceiveMessage" else self._json(operation, params)
        except Refused as refused:
            with self._lock:
                self.throttled.setdefault(caller, Counter())[operation] += "Throughput" in refused.code
            if refused.code == "QueueDoesNotExist":
                headers["x-amzn-query-error"] = "AWS.SimpleQueueService.NonExistentQueue;Sender"
            body = json.dumps({"__type": refused.code, "message": refused.code}).encode()
            return AWSResponse(request.url, refused.status, headers, MockRawResponse(body))  # type: ignore[arg-type]
        return AWSResponse(request.url, 200, headers, MockRawResponse(json.dumps(answer).encode()))  # type: ignore[arg-type]

    def _receive(self, params: dict[str, Any]) -> dict[str, Any]:
        """A long poll: returns as soon as a message is visible, else after ``WaitTimeSeconds``."""
        deadline = time.perf_counter() + float(params.get("WaitTimeSeconds", 0)) * self.time_scale
        with self._lock:
            while True:
                queue = self.queues.get(params["QueueUrl"])
                if queue is None:
                    raise Refused("QueueDoesNotExist")
                if queue.visible:
                    break
                left = deadline - time.perf_counter()
                if left <= 0:
                    return {}
                self._lock.wait(left)
            messages: list[dict[str, Any]] = []
            while queue.visible and len(messages) < int(params.get("MaxNumberOfMessages", 1)):
                message_id, body = queue.visible.popleft()
                receipt = uuid.uuid4().hex
                queue.inflight[receipt] = body
                messages.append(
                    {
                        "MessageId": message_id,
                        "ReceiptHandle": receipt,
                        "Body": body,
                        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
                    }
                )
            return {"Messages": messages}

    def _json(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        from sagemaker_async_results import contract

        key = contract.TABLE_PARTITION_KEY
        with self._lock:
            if operation == "UpdateItem":
                pk = params["Key"][key]["S"]
                item = self.items.setdefault(pk, {key: {"S": pk}, "status": {"S": "Submitted"}})
                values = params.get("ExpressionAttributeValues", {})
                names = params.get("ExpressionAttributeNames", {})
                for alias, name in names.items():  # what the Submitted record names (replyTo)
                    value = values.get(alias.replace("#", ":"))
                    if name == "replyTo" and value:
                        item["replyTo"] = value
                item.setdefault("inferenceId", {"S": pk.removeprefix(contract.RESULT_KEY_PREFIX)})
                return {}
            if operation == "GetItem":
                found = self.items.get(params["Key"][key]["S"])
                return {"Item": found} if found else {}
            if operation == "BatchGetItem":
                return {
                    "Responses": {
                        table: [self.items[k[key]["S"]] for k in request["Keys"] if k[key]["S"] in self.items]
                        for table, request in params["RequestItems"].items()
                    },
                    "UnprocessedKeys": {},
                }
            if operation == "CreateQueue":
                url = f"https://sqs.us-east-1.amazonaws.com/123456789012/{params['QueueName']}"
                self.queues.setdefault(url, _Queue())
                return {"QueueUrl": url}
            if operation in ("SetQueueAttributes", "TagQueue", "DeleteMessageBatch", "DeleteQueue"):
                queue = self.queues.get(params["QueueUrl"])
                if queue is None:
                    raise Refused("QueueDoesNotExist")
                if operation == "DeleteQueue":
                    del self.queues[params["QueueUrl"]]
                    self._lock.notify_all()  # a long poll on it ends
                if operation == "DeleteMessageBatch":
                    for entry in params["Entries"]:
                        queue.inflight.pop(entry["ReceiptHandle"], None)
                    return {"Successful": [{"Id": e["Id"]} for e in params["Entries"]], "Failed": []}
                return {}
            if operation == "ListShards":
                shard = {
                    "ShardId": SHARD,
                    "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)},
                    "SequenceNumberRange": {"StartingSequenceNumber": "0"},
                }
                return {"Shards": [shard]}
            if operation == "GetShardIterator":
                kind = params["ShardIteratorType"]
                if kind == "AT_TIMESTAMP":
                    since = float(params["Timestamp"])
                    position = next(
                        (i for i, (at, _) in enumerate(self.stream) if at >= since), len(self.stream)
                    )
                elif kind == "AFTER_SEQUENCE_NUMBER":
                    position = int(params["StartingSequenceNumber"]) + 1
                elif kind == "LATEST":
                    position = len(self.stream)
                else:
                    position = 0
                return {"ShardIterator": f"{SHARD}:{position}:{self.now()}"}
            if operation == "GetRecords":
                _, position_text, issued = params["ShardIterator"].split(":")
                if self.now() - float(issued) > ITERATOR_SECONDS:
                    raise Refused("ExpiredIteratorException")
                window = self.time_scale  # one simulated second
                now = time.perf_counter()
                while self.reads and now - self.reads[0] > window:
                    self.reads.popleft()
                if len(self.reads) >= KINESIS_READS_PER_SECOND:
                    raise Refused("ProvisionedThroughputExceededException")
                self.reads.append(now)
                position = int(position_text)
                batch = self.stream[position : position + int(params.get("Limit", 10_000))]
                end = position + len(batch)
                return {
                    "Records": [
                        {
                            "SequenceNumber": str(position + i),
                            "ApproximateArrivalTimestamp": at,
                            "Data": base64.b64encode(data).decode(),
                            "PartitionKey": "p",
                        }
                        for i, (at, data) in enumerate(batch)
                    ],
                    "NextShardIterator": f"{SHARD}:{end}:{self.now()}",
                    "MillisBehindLatest": 0,
                }
        raise ValueError(f"the in-memory AWS does not answer {operation}")


# -- callers -------------------------------------------------------------------------------------------------
def _client(aws: QuotaAws, name: str, *, stream: bool, session: Any, **source: Any) -> Any:
    from sagemaker_async_results.client import AsyncInferenceClient, StackResources
    from sagemaker_async_results.client.sources.reply_queue import ReplyQueueSource
    from sagemaker_async_results.client.sources.stream import StreamSource

    config = Config(retries={"mode": "standard"}, max_pool_connections=16)

    def make(service: str) -> Any:
        return aws.install(session.client(service, config=config), name)

    resources = StackResources(
        endpoint_name="fake-endpoint", bucket="fake-bucket", input_prefix="in/", results_table=TABLE
    )
    sources: list[Any] = (
        [StreamSource(STREAM_ARN, make("kinesis"))]
        if stream
        else [ReplyQueueSource(PREFIX, make("sqs"), **source)]
    )
    return AsyncInferenceClient(
        resources,
        s3=None,
        sagemaker_runtime=make("sagemaker-runtime"),
        dynamodb=make("dynamodb"),
        sources=sources,
    )


def _session() -> Any:
    import boto3

    return boto3.Session(region_name="us-east-1", aws_access_key_id="fake", aws_secret_access_key="fake")


@dataclass
class CallersRun:
    """One run: every caller's futures; what each caller's waiting cost."""

    design: str
    callers: int
    futures: int
    seconds: list[float] = field(default_factory=list)
    #: Per caller: calls while waiting, by operation; throttled calls.
    calls: list[Counter[str]] = field(default_factory=list)
    throttled: list[int] = field(default_factory=list)
    wrong: int = 0
    resolved_by: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0

    @property
    def calls_per_result(self) -> list[float]:
        return [sum(c.values()) / self.futures for c in self.calls]

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds)


def lone(samples: int, *, stream: bool, latency_s: float = LATENCY_S) -> list[float]:
    """One caller, one request at a time, its result made available :data:`PIPELINE_S` (and a random
    0-0.3 s, so that the stream's reads meet it at any phase) after the submit; time to result as in
    the module docstring."""
    import random

    aws = QuotaAws(latency_s)
    seconds = []
    with _client(aws, "lone", stream=stream, session=_session()) as client:
        for _ in range(samples):
            future = client.submit(b"{}", inline=True)
            time.sleep(PIPELINE_S + random.uniform(0.0, 0.3))  # a random phase against the stream reads
            available = aws.make_available(
                future.inference_id, future.submission.output_location, stream=stream
            )
            future.result(timeout=60)
            seconds.append(PIPELINE_S + time.perf_counter() - available)
    return seconds


def callers_run(
    callers: int,
    *,
    stream: bool,
    futures: int = FUTURES_PER_CALLER,
    rate: float = RATE,
    latency_s: float = LATENCY_S,
    **source: Any,
) -> CallersRun:
    """``callers`` processes x ``futures`` each; results at ``rate``/s in all, interleaved across callers.

    ``source``: options of each caller's reply-queue source (e.g. ``batch_wait``).
    """
    aws = QuotaAws(latency_s)
    session = _session()
    names = [f"caller-{i:03d}" for i in range(callers)]
    clients = [_client(aws, name, stream=stream, session=session, **source) for name in names]
    run = CallersRun("stream" if stream else "reply queue", callers, futures)
    held: dict[str, float] = {}
    lock = threading.Lock()

    def hold(future: Any) -> None:
        with lock:
            held.setdefault(future.inference_id, time.perf_counter())

    def submit(client: Any) -> list[Any]:
        made = [client.submit(b"{}", inline=True) for _ in range(futures)]
        for future in made:
            future.add_done_callback(hold)
        return made

    with ThreadPoolExecutor(min(32, callers)) as pool:
        submitted = list(pool.map(submit, clients))
    before = {name: Counter(aws.calls.get(name, Counter())) for name in names}
    throttled_before = {name: sum(aws.throttled.get(name, Counter()).values()) for name in names}
    order = [f for i in range(futures) for f in (made[i] for made in submitted)]
    available: dict[str, float] = {}
    started = time.perf_counter()
    for index, future in enumerate(order):
        delay = started + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        available[future.inference_id] = aws.make_available(
            future.inference_id, future.submission.output_location, stream=stream
        )
    for future in order:
        record = future.result(timeout=300)
        run.wrong += record.inference_id != future.inference_id
    run.wall = max(held.values()) - started
    for name, client in zip(names, clients, strict=True):
        waited = Counter(aws.calls.get(name, Counter())) - before[name]
        run.calls.append(Counter({op: n for op, n in waited.items() if op in WAIT_OPERATIONS}))
        run.throttled.append(sum(aws.throttled.get(name, Counter()).values()) - throttled_before[name])
        run.resolved_by.update(client.waiter.stats.resolved)
    for client in clients:
        client.close()
    run.seconds = [PIPELINE_S + held[f.inference_id] - available[f.inference_id] for f in order]
    return run


@dataclass
class IdleRun:
    design: str
    idle_minutes: float
    idle_calls: Counter[str]
    first_after_idle: float
    reopened: int = 0


def idle_run(*, stream: bool, minutes: float = IDLE_MINUTES, scale: float = IDLE_TIME_SCALE) -> IdleRun:
    """Await, idle ``minutes`` (compressed by ``scale``), await again: calls while idle, time of the result."""
    from sagemaker_async_results.client.sources.reply_queue import HEARTBEAT_SECONDS

    aws = QuotaAws(LATENCY_S, time_scale=scale)
    source = {} if stream else {"heartbeat_seconds": HEARTBEAT_SECONDS, "clock": aws.now}
    with _client(aws, "idle", stream=stream, session=_session(), **source) as client:
        future = client.submit(b"{}", inline=True)
        aws.make_available(future.inference_id, future.submission.output_location, stream=stream)
        future.result(timeout=60)
        time.sleep(0.5)  # the read in flight returns
        before = Counter(aws.calls["idle"])
        time.sleep(minutes * 60 * scale)
        idle_calls = Counter(aws.calls["idle"]) - before
        again = client.submit(b"{}", inline=True)
        time.sleep(0.3)
        available = aws.make_available(again.inference_id, again.submission.output_location, stream=stream)
        again.result(timeout=60)
        first = PIPELINE_S + time.perf_counter() - available
        reopened = client.waiter.stats.recovered["IteratorReopened"]
    return IdleRun("stream" if stream else "reply queue", minutes, idle_calls, first, reopened)


def run_callers(
    *,
    callers: tuple[int, ...] = CALLERS,
    futures: int = FUTURES_PER_CALLER,
    rate: float = RATE,
    lone_samples: int = 30,
    idle_minutes: float = IDLE_MINUTES,
    trade_off_wait: float | None = TRADE_OFF_BATCH_WAIT,
    log: Any = lambda line: None,
) -> dict[str, Any]:
    """Both designs at every number of callers, their lone baselines and the idle caller: the summary.

    ``trade_off_wait``: also the reply queue at the most callers with that ``batch_wait`` (a caller's
    own choice of fewer calls over latency; ``None``: not run).
    """
    load_before = os.getloadavg()
    designs = {"replyQueue": False, "stream": True}
    summary: dict[str, Any] = {"runs": {}, "idle": {}, "lone": {}}
    seconds: dict[str, list[float]] = {}
    for design, stream in designs.items():
        lone_seconds = lone(lone_samples, stream=stream)
        lone_p50 = statistics.median(lone_seconds)
        summary["lone"][design] = {"p50": lone_p50, "samples": len(lone_seconds)}
        log(f"  {design}: lone p50 {lone_p50:.3f} s")
        cases: list[tuple[str, int, dict[str, Any]]] = [(f"{design}_{count}", count, {}) for count in callers]
        if not stream and trade_off_wait is not None:
            cases.append((f"{design}_{max(callers)}_batchWait", max(callers), {"batch_wait": trade_off_wait}))
        for name, count, source in cases:
            measured = callers_run(count, stream=stream, futures=futures, rate=rate, **source)
            seconds[name] = measured.seconds
            per_result = measured.calls_per_result
            worst = max(per_result)
            ratio = measured.p50 / lone_p50
            throttled = sum(measured.throttled)
            summary["runs"][name] = {
                "design": design,
                "callers": count,
                **({"batchWaitSeconds": source["batch_wait"]} if source else {}),
                "futuresPerCaller": futures,
                "ratePerSecond": rate,
                "wallSeconds": measured.wall,
                "p50": measured.p50,
                "p95": sorted(measured.seconds)[int(0.95 * (len(measured.seconds) - 1))],
                "callsPerResultPerCaller": {
                    "max": worst,
                    "median": statistics.median(per_result),
                },
                "callsByOperation": dict(sum(measured.calls, Counter())),
                "throttledCalls": throttled,
                "resolvedBy": dict(measured.resolved_by),
                "wrongResults": measured.wrong,
                "targets": {
                    "callsPerResult": {
                        "target": f"<= {MAX_CALLS_PER_RESULT} per caller (the worst caller)",
                        "value": worst,
                        "met": worst <= MAX_CALLS_PER_RESULT,
                    },
                    "p50VsLone": {
                        "target": f"<= {MAX_P50_RATIO}x lone p50 ({lone_p50:.3f} s, same design)",
                        "value": ratio,
                        "met": ratio <= MAX_P50_RATIO,
                    },
                    "throttled": {"target": "0", "value": throttled, "met": throttled == 0},
                },
            }
            log(
                f"  {name} ({count} callers): p50 {measured.p50:.3f} s ({ratio:.2f}x lone), calls/result "
                f"worst {worst:.3f}, throttled {throttled}, resolved by {dict(measured.resolved_by)}"
            )
        idle = idle_run(stream=stream, minutes=idle_minutes)
        per_minute = sum(idle.idle_calls.values()) / idle.idle_minutes
        ratio = idle.first_after_idle / lone_p50
        summary["idle"][design] = {
            "idleMinutes": idle.idle_minutes,
            "timeScale": IDLE_TIME_SCALE,
            "idleCalls": dict(idle.idle_calls),
            "iteratorsReopened": idle.reopened,
            "firstResultAfterIdleSeconds": idle.first_after_idle,
            "targets": {
                "idleCallsPerMinute": {
                    "target": f"<= {MAX_IDLE_CALLS_PER_MINUTE}",
                    "value": per_minute,
                    "met": per_minute <= MAX_IDLE_CALLS_PER_MINUTE,
                },
                "firstAfterIdleVsLone": {
                    "target": f"<= {MAX_P50_RATIO}x lone p50 ({lone_p50:.3f} s)",
                    "value": ratio,
                    "met": ratio <= MAX_P50_RATIO,
                },
            },
        }
        log(
            f"  {design} idle {idle.idle_minutes:g} min: {per_minute:.2f} calls/min {dict(idle.idle_calls)}, "
            f"first result after {idle.first_after_idle:.3f} s ({ratio:.2f}x lone)"
        )
    summary.update(
        {
            "method": (
                f"in-memory AWS ({LATENCY_S * 1000:g} ms per call) with Kinesis' 5 GetRecords/s per shard "
                "(all readers), iterator expiry and SQS long polling modeled; each simulated caller process "
                "has its own client, waiter and push source, its calls counted at the fake per caller; "
                f"results at {rate:g}/s in all, interleaved across callers; one message per result (no "
                "packing: each result routed by its own invocation, as direct delivery does); time to "
                f"result = {PIPELINE_S:g} s modelled before the reply (a {MODEL_S:g} s model run and "
                f"{PIPELINE_CALLS} calls of {LATENCY_S * 1000:g} ms: see bench/await_callers.py) + the "
                "reply's send -> the caller holds it (measured), for the lone baseline and every row"
            ),
            "pipelineSeconds": PIPELINE_S,
            "machine": {
                "cpus": os.cpu_count(),
                "loadAverageBefore": load_before,
                "loadAverageAfter": os.getloadavg(),
            },
            "_seconds": seconds,
        }
    )
    return summary


def rows(summary: dict[str, Any]) -> list[Any]:
    """One row per target: value and met/missed."""
    from bench.stats import Row

    made: list[Row] = []
    for name, entry in summary["runs"].items():
        label = f"{entry['design']}, {entry['callers']} callers x {entry['futuresPerCaller']}"
        if "batchWaitSeconds" in entry:
            label += f", batch_wait {entry['batchWaitSeconds']:g} s (the caller's choice, informative)"
        for target, value in entry["targets"].items():
            unit = {"callsPerResult": "calls", "p50VsLone": "x", "throttled": "calls"}[target]
            row = Row.of(CASE, f"{label}: {target}", unit, [float(value["value"])], key=f"{name}_{target}")
            row.target, row.met = value["target"], value["met"]
            row.note = (
                f"p50 {entry['p50']:.3f} s; throttled {entry['throttledCalls']}; by {entry['resolvedBy']}"
            )
            made.append(row)
    for design, entry in summary["idle"].items():
        for target, value in entry["targets"].items():
            row = Row.of(
                CASE,
                f"{design}, idle {entry['idleMinutes']:g} min: {target}",
                "calls/min" if target == "idleCallsPerMinute" else "x",
                [float(value["value"])],
            )
            row.target, row.met = value["target"], value["met"]
            row.note = f"idle calls {entry['idleCalls']}"
            made.append(row)
    return made
