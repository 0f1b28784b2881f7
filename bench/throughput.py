"""Case 2: notifications per second through the real handler vs a naive per-record handler, and the
runtime's CPU cost per notification with all I/O stubbed out.

Both handlers run in one worker subprocess (:mod:`bench.handler_worker`), alternating batch by batch on
the same SQS events of 10 (``buffered`` mode: SNS envelopes in SQS bodies, as the stack's non-raw
subscription delivers them), against one moto server in its own process over HTTP, with the same
destination (one SQS results queue). The notifications carry the response inline and name the output
object, as SageMaker sends them with ``IncludeInferenceResponseIn`` (the project's default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import FUNCTIONS, ROOT
from bench.config import Counts
from bench.emulator import aws_environment, client, moto_process
from bench.stats import Row, higher_is_better, percentile

CASE = "throughput"
CPU_CASE = "cpu_cost"
BUCKET = "bench-results"
PREFIX = "async-inference/outputs/"
TABLE = "bench-results-table"
Log = Callable[[str], None]


def function_environment(queue_url: str | None = None, table: str | None = TABLE) -> dict[str, str]:
    """The environment the stack gives the success function (names from ``env_names``)."""
    from sagemaker_async_results import contract as names

    env = {
        names.RESULTS_BUCKET: BUCKET,
        names.READABLE_LOCATIONS: f"s3://{BUCKET}/{PREFIX}",
        names.RESULT_STORE_ENABLED: "true",
        names.RESULT_TTL_DAYS: "30",
        names.MAX_PAYLOAD_BYTES: str(10 * 1024 * 1024),
        names.HANDLER_MODULES: "handlers",
        names.DELIVERY_MODE: "buffered",
        "POWERTOOLS_SERVICE_NAME": "sagemaker-async-results",
        "POWERTOOLS_METRICS_NAMESPACE": "SageMakerAsyncResults",
    }
    if table:
        env[names.RESULTS_TABLE] = table
    if queue_url:
        env[names.RESULTS_QUEUE_URL] = queue_url
    return env


def _worker(mode: str, config: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        config_path, result_path = Path(folder) / "config.json", Path(folder) / "result.json"
        config_path.write_text(json.dumps(config))
        process_env = {
            **os.environ,
            **env,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(FUNCTIONS)]),
        }
        completed = subprocess.run(
            [sys.executable, "-m", "bench.handler_worker", mode, str(config_path), str(result_path)],
            cwd=ROOT,
            env=process_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"handler worker ({mode}) failed:\n{completed.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(result_path.read_text())
        return result


def _batches(counts: Counts, s3: Any) -> list[list[dict[str, Any]]]:
    from sagemaker_async_results.runtime.testing import notification

    batches = []
    for b in range(counts.throughput_batches + 1):  # + the untimed warm-up batch
        batch = []
        for r in range(counts.batch_size):
            inference_id = f"tp-{b:04d}-{r:02d}"
            output = {"label": "POSITIVE", "score": 0.9731, "chars": 42}
            key = f"{PREFIX}{inference_id}.out"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps([output]).encode())
            batch.append(
                notification(
                    inference_id=inference_id,
                    endpoint_name="async-results-demo",
                    output_location=f"s3://{BUCKET}/{key}",
                    body=[output],
                )
            )
        batches.append(batch)
    return batches


def _rate_row(name: str, batch_seconds: list[float], batch_size: int, note: str) -> Row:
    rates = [batch_size / s for s in batch_seconds]
    row = Row.of(CASE, name, "notifications/s", rates, note=note)
    row.median = batch_size / percentile(batch_seconds, 50)
    row.p95 = batch_size / percentile(batch_seconds, 95)  # the rate of the slowest 5 % of batches
    return row


def run_throughput(counts: Counts, log: Log, latency_ms: float = 0.0) -> tuple[list[Row], dict[str, Any]]:
    """Batches through the three handlers; ``latency_ms`` delays every emulator answer (AWS-like)."""
    suffix = f", emulator + {latency_ms:g} ms per call" if latency_ms else ""
    with moto_process(latency_ms=latency_ms) as url:
        log(f"throughput: moto server process at {url}; creating bucket, table, queue and outputs")
        s3, sqs, dynamodb = client(url, "s3"), client(url, "sqs"), client(url, "dynamodb")
        s3.create_bucket(Bucket=BUCKET)  # type: ignore[attr-defined]
        dynamodb.create_table(  # type: ignore[attr-defined]
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        queue_url = sqs.create_queue(QueueName="bench-results-queue")["QueueUrl"]  # type: ignore[attr-defined]
        batches = _batches(counts, s3)
        log(
            f"throughput: {counts.throughput_batches} batches of {counts.batch_size} per handler, alternating"
        )
        result = _worker(
            "throughput", {"batches": batches}, {**aws_environment(url), **function_environment(queue_url)}
        )
        delivered = int(
            sqs.get_queue_attributes(  # type: ignore[attr-defined]
                QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
    size = int(result["batchSize"])
    times: dict[str, list[float]] = result["batchSeconds"]
    project = _rate_row(
        f"this project as deployed (result store + exactly-once + SQS destination){suffix}",
        times["project"],
        size,
        "per batch of 10: 10 DynamoDB UpdateItem (claim + result record), 1 TransactWriteItems (completion), "
        "1 SQS SendMessageBatch; inline body, so no S3",
    )
    no_store = _rate_row(
        f"this project, result store and exactly-once off (SQS destination only){suffix}",
        times["project_no_store"],
        size,
        "per batch of 10: 1 SQS SendMessageBatch",
    )
    naive = _rate_row(
        f"naive per-record handler (json.loads, GetObject, SendMessage){suffix}",
        times["naive"],
        size,
        "per record: S3 GetObject + SQS SendMessage",
    )
    naive.key = f"naive{suffix}"
    project.comparisons = [higher_is_better(project, naive, 3)]
    informative = higher_is_better(no_store, naive, 3)
    informative.target, informative.met = "(informative)", None
    no_store.comparisons = [informative]
    failures = {k: int(v) for k, v in result["failures"].items()}
    extra = {"failures": failures, "resultsQueueMessages": delivered, "batchSize": size}
    return [project, no_store, naive], extra


def run_cpu(counts: Counts, log: Log) -> tuple[list[Row], dict[str, Any]]:
    log(f"cpu cost: {counts.cpu_rounds} rounds of {counts.cpu_notifications} notifications, no I/O")
    result = _worker(
        "cpu",
        {
            "notifications": counts.cpu_notifications,
            "batchSize": counts.batch_size,
            "rounds": counts.cpu_rounds,
        },
        {"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_SERVICE_NAME": "sagemaker-async-results"},
    )
    per = result["secondsPerNotification"]
    core = Row.of(
        CPU_CASE,
        "envelope parse + model + route (I/O stubbed)",
        "us/notification",
        [s * 1e6 for s in per["core"]],
        target="<= 50 us",
        note="unwrap_sqs_body + parse_message (pydantic) + build_result + router.resolve + handler + to_record",
    )
    core.met = core.median <= 50
    whole = Row.of(
        CPU_CASE,
        "whole record path of ResultsApp (I/O stubbed)",
        "us/notification",
        [s * 1e6 for s in per["whole"]],
        note="adds Powertools BatchProcessor, logger context, 2 JSON log lines and 1 EMF metric blob per record",
    )
    return [core, whole], {"notifications": result["notifications"]}
