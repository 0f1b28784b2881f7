"""Case 2b: handler throughput on a fake AWS that costs 10 ms per call and almost no CPU.

The emulator runs (moto, in :mod:`bench.throughput`) are bound by the emulator's own CPU on a 2-core
machine, so they count emulator work more than handler work. Here a botocore ``before-send`` hook
answers every call from memory and sleeps a fixed latency first (:data:`LATENCY_S`, standing in for an
in-region AWS API call), so what is measured is the handler: its calls, how many of them wait at once,
and its own CPU.

Answers (canned, shaped as the services answer; enough state for what the handlers read):

* DynamoDB ``UpdateItem`` / ``PutItem`` / ``DeleteItem`` / ``TransactWriteItems``: success (every
  inference is new, so every conditional write passes), the routing claim's ``UpdateItem`` answering
  the record with the Submitted record's ``replyTo`` naming one caller's reply queue
  (:data:`REPLY_QUEUE_URL`), as ``ReturnValues=ALL_NEW`` does; ``GetItem``: no item;
* SQS ``SendMessage`` / ``SendMessageBatch``: success with the MD5 of each body (botocore checks it);
* EventBridge ``PutEvents``, Kinesis ``PutRecord`` / ``PutRecords``: success;
* S3 ``GetObject`` / ``HeadObject``: the object from an in-memory bucket (``NoSuchKey`` otherwise).

Both handlers run in this process, alternating batch by batch on the same SQS events of 10 (SNS
envelopes in the bodies, the response inline and the object in S3, as SageMaker sends them with
``IncludeInferenceResponseIn``): this project as deployed (result store + exactly-once + SQS
destination + the reply queues, on by default, every request submitted by one caller process + the
shipped ``handlers`` package), the same with the result store and exactly-once
off (informative), and :mod:`bench.naive`. Every call is counted per handler: AWS calls per result.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.config import Counts
from bench.stats import Row, higher_is_better, percentile

CASE = "throughput"
LATENCY_S = 0.010
BUCKET = "bench-results"
PREFIX = "async-inference/outputs/"
TABLE = "bench-results-table"
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/bench-results-queue"
#: The reply queues' prefix, and the one caller process's queue every Submitted record names.
REPLY_QUEUE_PREFIX = "bench-rq-"
REPLY_QUEUE_URL = f"https://sqs.us-east-1.amazonaws.com/123456789012/{REPLY_QUEUE_PREFIX}caller-1"
Log = Callable[[str], None]


class FakeAws:
    """Answers the calls of the clients it is installed on; counts them under ``self.current``."""

    def __init__(self, latency_s: float = LATENCY_S) -> None:
        self.latency_s = latency_s
        self.objects: dict[str, bytes] = {}
        self.calls: dict[str, Counter[str]] = {}
        self.current = "setup"
        self._lock = threading.Lock()

    def install(self, client: Any) -> Any:
        client.meta.events.register_first("before-send", self._answer)
        return client

    def _answer(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse

        service = event_name.split(".")[1]
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        if service == "s3":
            operation = {"GET": "GetObject", "HEAD": "HeadObject"}.get(request.method, request.method)
        with self._lock:
            self.calls.setdefault(self.current, Counter())[operation] += 1
        time.sleep(self.latency_s)
        status, headers, body = 200, {}, b"{}"
        if service == "s3":
            key = request.url.split("://", 1)[1].split("/", 1)[1].split("?")[0]
            key = key[len(BUCKET) + 1 :] if key.startswith(BUCKET + "/") else key
            data = self.objects.get(key)
            if data is None:
                status, body = 404, b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>"
            else:
                headers = {
                    "Content-Length": str(len(data)),
                    "Content-Type": "application/json",
                    "ETag": '"e"',
                }
                body = data if operation == "GetObject" else b""
        else:
            params = json.loads(request.body or b"{}")
            body = json.dumps(self._json_answer(operation, params)).encode()
            headers = {"Content-Type": "application/x-amz-json-1.0"}
        return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]

    @staticmethod
    def _json_answer(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation == "SendMessage":
            return {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": _md5(params["MessageBody"])}
        if operation == "SendMessageBatch":
            return {
                "Successful": [
                    {
                        "Id": e["Id"],
                        "MessageId": str(uuid.uuid4()),
                        "MD5OfMessageBody": _md5(e["MessageBody"]),
                    }
                    for e in params["Entries"]
                ],
                "Failed": [],
            }
        if operation == "PutEvents":
            return {
                "FailedEntryCount": 0,
                "Entries": [{"EventId": str(uuid.uuid4())} for _ in params["Entries"]],
            }
        if operation == "PutRecord":
            return {"ShardId": "shardId-000000000000", "SequenceNumber": "1"}
        if operation == "PutRecords":
            return {
                "FailedRecordCount": 0,
                "Records": [
                    {"ShardId": "shardId-000000000000", "SequenceNumber": "1"} for _ in params["Records"]
                ],
            }
        if operation == "UpdateItem":
            if params.get("ReturnValues") != "ALL_NEW":
                return {"Attributes": {}}
            # The routing claim: the record as written, with the Submitted record's replyTo (ALL_NEW).
            return {"Attributes": {**params["Key"], "replyTo": {"S": REPLY_QUEUE_URL}}}
        return {}


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _notifications(counts: Counts, fake: FakeAws) -> list[list[dict[str, Any]]]:
    from sagemaker_async_results.runtime.testing import notification

    batches = []
    for b in range(counts.throughput_batches + 1):  # + the untimed warm-up batch
        batch = []
        for r in range(counts.batch_size):
            inference_id = f"fake-{b:04d}-{r:02d}-{uuid.uuid4().hex[:6]}"
            output = {"label": "POSITIVE", "score": 0.9731, "chars": 42}
            key = f"{PREFIX}{inference_id}.out"
            fake.objects[key] = json.dumps([output]).encode()
            batch.append(
                notification(inference_id=inference_id, output_location=f"s3://{BUCKET}/{key}", body=[output])
            )
        batches.append(batch)
    return batches


def _handlers(fake: FakeAws) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    import boto3

    import bench  # noqa: F401 - puts functions/ on sys.path
    from bench import naive
    from bench.throughput import function_environment
    from sagemaker_async_results.runtime.app import ResultsApp
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.settings import Settings

    def clients() -> Clients:
        from botocore.config import Config

        from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS

        config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, max_pool_connections=20)
        made = {
            s: fake.install(boto3.client(s, region_name="us-east-1", config=config))
            for s in ("s3", "dynamodb", "sqs")
        }
        return Clients(**made)

    from sagemaker_async_results.runtime.destinations.reply_queue_sweeper import PREFIX_ENV

    settings = Settings.from_env(function_environment(QUEUE_URL))
    deployed = Settings.from_env({**function_environment(QUEUE_URL), PREFIX_ENV: REPLY_QUEUE_PREFIX})
    project = ResultsApp(settings=deployed, clients=clients())
    no_store = ResultsApp(settings=dataclasses.replace(settings, results_table=None), clients=clients())
    naive._s3 = fake.install(boto3.client("s3", region_name="us-east-1"))
    naive._sqs = fake.install(boto3.client("sqs", region_name="us-east-1"))
    return {"project": project, "project_no_store": no_store, "naive": naive.handler}


def measure(config: dict[str, Any]) -> dict[str, Any]:
    """In the worker process (stdout discarded): batches through the three handlers on the fake AWS."""
    import os

    from bench.config import FULL, with_overrides
    from sagemaker_async_results.runtime.testing import lambda_context, sqs_event

    counts = with_overrides(FULL, throughput_batches=config["batches"], batch_size=config["batchSize"])
    os.environ["RESULTS_QUEUE_URL"] = QUEUE_URL
    fake = FakeAws()
    batches = _notifications(counts, fake)
    handlers = _handlers(fake)
    names = list(handlers)
    times: dict[str, list[float]] = {name: [] for name in names}
    failures: dict[str, int] = dict.fromkeys(names, 0)
    for index, batch in enumerate(batches):
        # Rotate the order each batch; batch 0 warms every handler up (clients, imports) untimed.
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            event = sqs_event(batch, raw=False)
            fake.current = name if index > 0 else "warm-up"
            started = time.perf_counter()
            response = handlers[name](event, lambda_context())
            elapsed = time.perf_counter() - started
            if isinstance(response, dict):
                failures[name] += len(response.get("batchItemFailures", []))
            if index > 0:
                times[name].append(elapsed)
    return {"batchSeconds": times, "failures": failures, "calls": {k: dict(v) for k, v in fake.calls.items()}}


def run(counts: Counts, log: Log) -> tuple[list[Row], dict[str, Any]]:
    """Rates and AWS calls per result of the three handlers on the fake AWS (in a worker process)."""
    from bench.throughput import _worker, function_environment

    log(
        f"throughput (fake AWS, {LATENCY_S * 1000:g} ms per call): {counts.throughput_batches} batches per handler"
    )
    env = {
        **function_environment(QUEUE_URL),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    measured = _worker("fake", {"batches": counts.throughput_batches, "batchSize": counts.batch_size}, env)
    times: dict[str, list[float]] = measured["batchSeconds"]
    failures: dict[str, int] = measured["failures"]
    names = list(times)
    calls_seen: dict[str, Counter[str]] = {k: Counter(v) for k, v in measured["calls"].items()}
    results = counts.throughput_batches * counts.batch_size
    per_result = {name: round(sum(calls_seen.get(name, Counter()).values()) / results, 3) for name in names}
    by_operation = {
        name: {op: n / results for op, n in sorted(calls_seen.get(name, Counter()).items())} for name in names
    }
    suffix = f", fake AWS {LATENCY_S * 1000:g} ms per call"
    size = counts.batch_size

    def rate(name: str, label: str, note: str) -> Row:
        rates = [size / s for s in times[name]]
        row = Row.of(CASE, label + suffix, "notifications/s", rates, note=note)
        row.median = size / percentile(times[name], 50)
        row.p95 = size / percentile(times[name], 95)
        return row

    def calls(name: str) -> str:
        return ", ".join(f"{op} {n:g}" for op, n in by_operation[name].items())

    project = rate(
        "project",
        "this project as deployed (result store + exactly-once + SQS destination + reply queues)",
        f"{per_result['project']:g} AWS calls per result ({calls('project')})",
    )
    no_store = rate(
        "project_no_store",
        "this project, result store and exactly-once off (SQS destination only)",
        f"{per_result['project_no_store']:g} AWS calls per result ({calls('project_no_store')})",
    )
    naive = rate(
        "naive",
        "naive per-record handler (json.loads, GetObject, SendMessage)",
        f"{per_result['naive']:g} AWS calls per result ({calls('naive')})",
    )
    naive.key = f"naive{suffix}"
    project.comparisons = [higher_is_better(project, naive, 3)]
    informative = higher_is_better(no_store, naive, 3)
    informative.target, informative.met = "(informative)", None
    no_store.comparisons = [informative]
    calls_row = Row.of(
        CASE, "AWS calls per result, this project (SQS batch of 10)", "calls", [per_result["project"]]
    )
    calls_row.target = "<= 1.5"
    calls_row.met = per_result["project"] <= 1.5
    calls_row.note = (
        "counted at the botocore boundary, retries included; naive: " + f"{per_result['naive']:g}"
    )
    extra = {
        "latencyMs": LATENCY_S * 1000,
        "callsPerResult": per_result,
        "callsPerResultByOperation": by_operation,
        "batchSeconds": times,
        "failures": failures,
        "batchSize": size,
    }
    return [project, no_store, naive, calls_row], extra
