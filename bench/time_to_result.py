"""Case 1: time from "output object written" to "caller holds the result", and S3 reads per result.

All approaches run alternating, on one :class:`~sagemaker_async_results.local.environment.LocalEnvironment` (``direct``
delivery by default, the ``cdk.json`` default: SNS -> Lambda; ``--delivery buffered`` for SNS -> SQS ->
handler in batches. In AWS, buffered mode also waits up to ``maxBatchingWindowSeconds`` for a batch to
fill, which the local event source does not model for a lone message), and submit the same way
(``AsyncInferenceClient.invoke``); only the waiting differs:

- **this project**: the handler (in its worker process) writes the result store; the caller waits on it
  with ``client.wait`` (one ``GetItem``, then the client's shared waiter: a consistent ``BatchGetItem``
  of the pending records every 100 ms while nothing arrives) and ``fetch_body``;
- **(a) SDK waiter**: boto3's ``object_exists`` waiter (``HeadObject``) with the SageMaker SDK's default
  ``WaiterConfig`` (15 s delay, 60 attempts), then ``GetObject`` (what ``AsyncPredictor`` does);
- **(b) docs polling loop**: ``GetObject`` every 2 s until it stops answering ``NoSuchKey`` (AWS's
  "Check prediction results" page).

A poller's wait depends on where the write falls in its polling period. Real model run times are not
aligned with it, so each approach's model run times (``sleep_seconds`` of the sample model) are spread
evenly over one polling period (stratified, shuffled): the median then is what a random phase gives,
not the best or worst case. Time to result = ``perf_counter()`` when the caller holds the body minus the
simulator's ``written_at`` (both in this process).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from bench.config import SDK_WAITER_MAX_ATTEMPTS, Counts
from bench.s3log import HANDLER_ROLE, ClientRequestCounter, ServerRequestLog
from bench.stats import Row, lower_is_better

CASE = "time_to_result"
PROJECT, PROJECT_S3, POLL, WAITER = "project", "project_s3", "poll_2s", "waiter_15s"
Log = Callable[[str], None]


@dataclass
class Sample:
    approach: str
    inference_id: str
    seconds: float
    bucket: str
    key: str
    model_seconds: float


@dataclass
class Approach:
    name: str
    label: str
    samples: int
    #: Polling period; model run times are spread over it (this project: the docs loop's period).
    period: float
    pad_bytes: int = 0
    results: list[Sample] = field(default_factory=list)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def poll_docs_loop(s3: Any, bucket: str, key: str, delay: float, timeout: float) -> bytes:
    """AWS docs' loop: ``GetObject``; on ``NoSuchKey`` sleep ``delay`` and try again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(delay)


def sdk_waiter(s3: Any, bucket: str, key: str, delay: float) -> bytes:
    """The SDK's default wait: ``object_exists`` waiter (HeadObject every ``delay`` s), then GetObject."""
    s3.get_waiter("object_exists").wait(
        Bucket=bucket, Key=key, WaiterConfig={"Delay": delay, "MaxAttempts": SDK_WAITER_MAX_ATTEMPTS}
    )
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


class TimeToResult:
    """Runs the case on a started environment (see :func:`run`)."""

    def __init__(
        self, env: Any, counts: Counts, server_log: ServerRequestLog, log: Log, delivery: str = "direct"
    ) -> None:
        from sagemaker_async_results.client.client import AsyncInferenceClient

        self.env, self.counts, self.server_log, self.log = env, counts, server_log, log
        self.delivery = delivery
        self.client_counter = ClientRequestCounter()
        target = env.target
        self._s3 = {
            role: self.client_counter.attach(
                target.session().client(
                    "s3",
                    endpoint_url=target.endpoint_url,
                    config=Config(retries={"mode": "standard"}, user_agent_extra=f"bench/{role}"),
                )
            )
            for role in (PROJECT, POLL, WAITER)
        }
        self.client = AsyncInferenceClient(
            env.resources,
            s3=self._s3[PROJECT],
            sagemaker_runtime=target.client("sagemaker-runtime"),
            dynamodb=target.client("dynamodb"),
        )
        scaled = " (delay scaled for --quick)" if counts.delay_scale != 1 else ""
        self.approaches = [
            Approach(PROJECT, "this project (inline response)", counts.ttr_project, counts.poll_delay),
            Approach(
                PROJECT_S3,
                f"this project (S3-resident {counts.s3_output_bytes // 1000} kB output)",
                counts.ttr_project_s3,
                counts.poll_delay,
                pad_bytes=counts.s3_output_bytes,
            ),
            Approach(
                POLL,
                f"(b) docs loop, GetObject every {counts.poll_delay:g} s{scaled}",
                counts.ttr_poll,
                counts.poll_delay,
            ),
            Approach(
                WAITER,
                f"(a) SDK object_exists waiter, Delay={counts.waiter_delay:g} s{scaled}",
                counts.ttr_waiter,
                counts.waiter_delay,
            ),
        ]

    def _phases(self, approach: Approach, rng: random.Random) -> list[float]:
        phases = [(i + 0.5) / approach.samples for i in range(approach.samples)]
        rng.shuffle(phases)
        return [p * approach.period for p in phases]

    def run(self) -> list[Approach]:
        rng = random.Random(self.counts.seed)
        plans = {a.name: self._phases(a, rng) for a in self.approaches}
        self._warm_up()
        rounds = max(a.samples for a in self.approaches)
        for index in range(rounds):
            # Rotate the order every round so no approach always runs right after another.
            order = (
                self.approaches[index % len(self.approaches) :]
                + self.approaches[: index % len(self.approaches)]
            )
            for approach in order:
                if index < approach.samples:
                    sample = self._sample(approach, plans[approach.name][index], index)
                    approach.results.append(sample)
                    self.log(f"  {approach.name:<11} #{index + 1:>2}: {sample.seconds * 1000:9.1f} ms")
        return self.approaches

    def _warm_up(self) -> None:
        """One untimed request: starts the worker process and the clients' connections."""
        submission = self.client.invoke(json.dumps({"inputs": "warm-up"}).encode())
        record = self.client.wait(submission.inference_id, timeout=60)
        self.client.fetch_body(record)

    def _sample(self, approach: Approach, model_seconds: float, index: int) -> Sample:
        payload: dict[str, Any] = {"inputs": f"bench {approach.name} {index}", "sleep_seconds": model_seconds}
        if approach.pad_bytes:
            payload["pad_bytes"] = approach.pad_bytes
        submission = self.client.invoke(json.dumps(payload).encode())
        bucket, key = _split(submission.output_location)
        timeout = approach.period * 3 + 60
        if approach.name in (PROJECT, PROJECT_S3):
            record = self.client.wait(submission.inference_id, timeout=timeout)
            body = self.client.fetch_body(record)
        elif approach.name == POLL:
            body = poll_docs_loop(self._s3[POLL], bucket, key, approach.period, timeout)
        else:
            body = sdk_waiter(self._s3[WAITER], bucket, key, approach.period)
        held_at = time.perf_counter()
        if not body:
            raise RuntimeError(f"{approach.name}: empty result for {submission.inference_id}")
        written_at = self.env.simulator.written_at[submission.inference_id]
        if approach.name not in (PROJECT, PROJECT_S3):
            # Untimed: let the handler finish this result too, so the next sample starts on a quiet system.
            self.client.wait(submission.inference_id, timeout=60)
        return Sample(
            approach.name, submission.inference_id, held_at - written_at, bucket, key, model_seconds
        )

    # -- rows ----------------------------------------------------------------------------------------
    def rows(self) -> list[Row]:
        by_name = {a.name: a for a in self.approaches}
        keys = {PROJECT: "this project", PROJECT_S3: "this project (S3)", POLL: "(b)", WAITER: "(a)"}
        timing = {
            a.name: Row.of(
                CASE, a.label, "s", [s.seconds for s in a.results], note=self._note(a), key=keys[a.name]
            )
            for a in self.approaches
        }
        for name in (PROJECT, PROJECT_S3):
            timing[name].comparisons = [
                lower_is_better(timing[name], timing[WAITER], 30),
                lower_is_better(timing[name], timing[POLL], 5),
            ]
            if self.counts.delay_scale != 1:
                for comparison in timing[name].comparisons:
                    comparison.met = None  # scaled delays: not a real comparison
        rows = [timing[a.name] for a in self.approaches]
        for approach in self.approaches:
            rows.append(self._request_row(by_name[approach.name]))
        return rows

    def _note(self, approach: Approach) -> str:
        spread = f"model run times spread over 0-{approach.period:g} s"
        if approach.name == PROJECT:
            return f"{spread}; {self.delivery} delivery; client.wait: the shared waiter reads the pending record every 100 ms"
        return spread

    def _request_row(self, approach: Approach) -> Row:
        """S3 requests per result: the caller's own plus, for this project, the handler's."""
        per_result: list[float] = []
        caller_total = handler_total = hook_total = 0
        for sample in approach.results:
            server = self.server_log.reads_of(sample.bucket, sample.key)
            role = PROJECT if approach.name == PROJECT_S3 else approach.name
            caller = server.get(role, 0)
            handler = server.get(HANDLER_ROLE, 0)
            caller_total += caller
            handler_total += handler
            hook_total += self.client_counter.reads_of(sample.bucket, sample.key)
            per_result.append(caller + handler if approach.name in (PROJECT, PROJECT_S3) else caller)
        n = max(1, len(approach.results))
        note = (
            f"per result: caller {caller_total / n:.2f} (botocore hook saw {hook_total / n:.2f}), "
            f"handler worker {handler_total / n:.2f}"
        )
        row = Row.of(CASE, f"S3 requests/result: {approach.label}", "requests", per_result, note=note)
        if approach.name == PROJECT:
            row.target, row.met = "0 (inline response)", row.median == 0 and max(per_result, default=0) == 0
        elif approach.name == PROJECT_S3:
            row.target, row.met = "<= 1", max(per_result, default=0) <= 1
        return row


def run(
    counts: Counts, workdir: Path, log: Log, delivery: str = "direct"
) -> tuple[list[Row], dict[str, Any]]:
    """Synthesize (``delivery`` mode, no bundle), start the local run with the request log, run the case."""
    from bench import ROOT
    from sagemaker_async_results.local.environment import LocalEnvironment
    from sagemaker_async_results.local.synth import CdkApp

    outdir = workdir / f"bench-{delivery}.cdk.out"
    log(f"time to result: synthesizing the stack ({delivery} delivery)")
    CdkApp(ROOT).synthesize(outdir, {"delivery": {"mode": delivery}}, bundle=False)
    server_log = ServerRequestLog()
    with server_log.installed(), LocalEnvironment(outdir, log_dir=workdir / "bench-logs") as env:
        log("time to result: local run deployed; sampling (approaches alternate)")
        case = TimeToResult(env, counts, server_log, log, delivery)
        approaches = case.run()
        rows = case.rows()
    samples = {
        a.name: [
            {"inferenceId": s.inference_id, "seconds": s.seconds, "modelSeconds": s.model_seconds}
            for s in a.results
        ]
        for a in approaches
    }
    return rows, {
        "delivery": delivery,
        "clientWaitIntervalSeconds": 0.1,
        "labels": {a.name: a.label for a in approaches},
        "samples": samples,
    }
