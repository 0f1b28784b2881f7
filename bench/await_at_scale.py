"""Case: awaiting 1,000 requests at once through the local run.

Three ways to wait for the same kind of load (``requests`` submitted at once, model run time
``model_seconds`` each, the endpoint's own concurrency), one after the other on one local run:

- **this client**: ``client.submit`` per request (inline ``Body``), one waiter for all of them, fed by the
  Kinesis results stream (``destinations.kinesis``) with batched ``BatchGetItem`` as its safety net;
- **(a) SDK waiter in a thread pool**: the SageMaker Python SDK v2 ``AsyncPredictor.predict`` (the real SDK
  from ``.venv-sdk`` when installed, ``make bench-sdk``; else the same calls made here) per
  request (upload the input, ``InvokeEndpointAsync``, then boto3's ``object_exists`` waiter with the SDK's
  default ``WaiterConfig``: ``HeadObject`` every 15 s, then ``GetObject``), run in a thread pool as a user
  would (``sdk_threads`` threads);
- **(b) the docs' polling loop**: ``GetObject`` every 2 s per request until the output exists, in a
  thread pool of the same size.

Time to result = ``perf_counter()`` when the caller holds the result minus the simulator's ``written_at``
(when the output object was written). AWS calls per result count only the calls made while waiting
(not the submit), counted by botocore's ``before-call`` events on the waiting clients. A lone request
(``lone_samples`` sequential requests, the same client) gives the baseline of the p50 target.

This client runs twice. **Burst**: every request submitted at once with a 0.05 s model, so the endpoint
completes them as fast as the emulator lets it. **Paced**: a model time of ``paced_model_seconds``, so
the endpoint (its ``MaxConcurrentInvocationsPerInstance`` x instances at a time) completes them at a rate a
real endpoint of that size would, below what the local pipeline can route on the machine. Each run
reports the endpoint's completion rate (outputs written per second) and where each result's time went:
output written -> result record on the stream (SNS, the local Lambda, the handler) and stream -> the
caller holds it (the waiter), from the stream records' arrival times, read after the run.

The emulator (moto) runs in a process of its own (``LocalEnvironment(emulator_process=True)``): in AWS
the services do not share the caller's CPU, and in one process moto's request handling and the
bench's client contend for one interpreter lock.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError

from bench.config import DOCS_POLL_DELAY_S, SDK_WAITER_DELAY_S, SDK_WAITER_MAX_ATTEMPTS
from bench.stats import Row

CASE = "await_at_scale"
Log = Any
#: Targets of the issue: AWS calls per result while waiting, and p50 relative to a lone request.
MAX_CALLS_PER_RESULT = 0.2
MAX_P50_RATIO = 1.5


@dataclass
class Run:
    name: str
    label: str
    seconds: list[float] = field(default_factory=list)
    wall: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    results: int = 0
    #: Inference ID -> perf_counter() when the caller held it (this client's runs).
    held: dict[str, float] = field(default_factory=dict)
    #: Outputs the endpoint wrote per second during the run (this client's runs).
    endpoint_rate: float = 0.0
    stages: dict[str, Any] = field(default_factory=dict)
    #: The SDK's failure-path waiters still polling when its last result came (see sdk_predictor).
    lingering_waiters: int = 0

    @property
    def calls_per_result(self) -> float:
        return sum(self.calls.values()) / max(1, self.results)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        return (
            ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")
        )


class CallCounter:
    """Counts each AWS call a boto3 client makes, by operation."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        def count(model: Any, **_: Any) -> None:
            with self._lock:
                self.calls[model.name] += 1

        client.meta.events.register("before-call.*.*", count)
        return client


def _payload(index: int, model_seconds: float) -> bytes:
    return json.dumps({"inputs": f"at scale #{index}", "sleep_seconds": model_seconds}).encode()


class AwaitAtScale:
    def __init__(self, env: Any, requests: int, model_seconds: float, sdk_threads: int, log: Log) -> None:
        self.env, self.requests, self.model_seconds, self.sdk_threads, self.log = (
            env,
            requests,
            model_seconds,
            sdk_threads,
            log,
        )
        self.target = env.target

    def _client(self, counter: CallCounter | None = None) -> Any:
        from sagemaker_async_results.client import AsyncInferenceClient

        config = Config(retries={"mode": "standard"}, max_pool_connections=64)
        session = self.target.session()

        def make(service: str) -> Any:
            client = session.client(service, endpoint_url=self.target.endpoint_url, config=config)
            return counter.attach(client) if counter else client

        runtime = self.target.client("sagemaker-runtime")
        return AsyncInferenceClient(
            self.env.resources,
            s3=make("s3"),
            sagemaker_runtime=runtime,
            dynamodb=make("dynamodb"),
            kinesis=make("kinesis"),
        )

    # -- this client ------------------------------------------------------------------------------------
    def lone(self, samples: int) -> Run:
        run = Run("lone", "this client, one request at a time")
        with self._client() as client:
            for index in range(samples):
                future = client.submit(_payload(index, self.model_seconds), inline=True)
                future.result(timeout=120)
                held = time.perf_counter()
                run.seconds.append(held - self.env.simulator.written_at[future.inference_id])
                run.results += 1
            run.calls = Counter(client.waiter.stats.calls)
        return run

    def project(self, name: str = "project", model_seconds: float | None = None) -> Run:
        model_seconds = self.model_seconds if model_seconds is None else model_seconds
        kind = "burst" if name == "project" else f"paced, {model_seconds:g} s model"
        run = Run(name, f"this client ({kind}): {self.requests} futures, one waiter")
        held: dict[str, float] = {}

        def hold(future: Any) -> None:
            held.setdefault(future.inference_id, time.perf_counter())

        with self._client() as client:

            def submit(index: int) -> Any:
                # The callback goes on at once: added after the whole batch was submitted, it would
                # stamp every result that came in meanwhile with the end of the submitting.
                future = client.submit(_payload(index, model_seconds), inline=True)
                future.add_done_callback(hold)
                return future

            started = time.perf_counter()
            with ThreadPoolExecutor(8) as submitters:
                futures = list(submitters.map(submit, range(self.requests)))
            for future in futures:
                future.result(timeout=600)
            run.wall = time.perf_counter() - started
            run.calls = Counter(client.waiter.stats.calls)
            run.results = len(futures)
            run.label += f" ({'stream push' if client.waiter.push else 'batched reads only'})"
        written = self.env.simulator.written_at
        run.seconds = [held[f.inference_id] - written[f.inference_id] for f in futures]
        run.held = {f.inference_id: held[f.inference_id] for f in futures}
        times = sorted(written[f.inference_id] for f in futures)
        run.endpoint_rate = (len(times) - 1) / (times[-1] - times[0]) if times[-1] > times[0] else 0.0
        return run

    def stages(self, run: Run) -> dict[str, Any]:
        """Where the time to result went: written -> on the results stream -> held by the caller.

        Reads the whole stream once after the run (not counted: no waiter made these calls); the
        stream's arrival times are wall clock, converted to this process's ``perf_counter``.
        """
        offset = time.time() - time.perf_counter()
        kinesis = self.target.client("kinesis")
        stream = self.env.resources.outputs["ResultsStreamArn"]
        arrived: dict[str, float] = {}
        for shard in kinesis.list_shards(StreamARN=stream)["Shards"]:
            iterator = kinesis.get_shard_iterator(
                StreamARN=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=10_000, StreamARN=stream)
                for record in response["Records"]:
                    inference_id = json.loads(record["Data"]).get("inferenceId")
                    if inference_id in run.held:
                        arrived[inference_id] = record["ApproximateArrivalTimestamp"].timestamp() - offset
                if not response["Records"] or not response.get("MillisBehindLatest", 1):
                    break
                iterator = response.get("NextShardIterator")
        written = self.env.simulator.written_at
        routed = [arrived[i] - written[i] for i in arrived]
        waited = [run.held[i] - arrived[i] for i in arrived]

        def summary(values: list[float]) -> dict[str, float]:
            ordered = sorted(values)
            if not ordered:
                return {}
            return {
                "p50": ordered[len(ordered) // 2],
                "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
            }

        return {
            "results": len(arrived),
            "writtenToStream": summary(routed),
            "streamToCaller": summary(waited),
        }

    # -- baselines --------------------------------------------------------------------------------------
    def sdk(self, python: Path) -> Run:
        """(a) with the real SageMaker Python SDK v2 (its own virtual environment, a subprocess)."""
        import os
        import subprocess
        import sys

        resources = self.env.resources
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.update(self.target.environment())
        environment["PYTHONPATH"] = ""
        completed = subprocess.run(
            [
                str(python),
                str(Path(__file__).with_name("sdk_predictor.py")),
                resources.endpoint_name,
                resources.bucket,
                resources.input_prefix,
                str(self.requests),
                str(self.sdk_threads),
                str(self.model_seconds),
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if completed.returncode != 0:
            print(completed.stdout[-2000:], completed.stderr[-3000:], file=sys.stderr)
            raise RuntimeError(f"the SDK run failed ({completed.returncode})")
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        # The subprocess reports wall-clock times; the simulator records perf_counter() here.
        offset = time.time() - time.perf_counter()
        run = Run(
            "sdk",
            f"(a) SageMaker Python SDK v2 AsyncPredictor.predict (default waiter, {SDK_WAITER_DELAY_S:g} s), "
            f"{self.sdk_threads} threads",
        )
        run.seconds = [
            held - offset - self.env.simulator.written_at[inference_id]
            for inference_id, held in report["held"].items()
        ]
        run.wall = max(report["held"].values()) - report["started"]
        run.calls = Counter(report["calls"])
        run.results = len(report["held"])
        run.lingering_waiters = int(report.get("lingeringWaiters", 0))
        return run

    def pooled(self, name: str) -> Run:
        """(a) the SDK's waiter or (b) the docs loop, one request per pool thread."""
        counter = CallCounter()
        client = self._client()
        s3 = counter.attach(
            self.target.session().client(
                "s3",
                endpoint_url=self.target.endpoint_url,
                config=Config(retries={"mode": "standard"}, max_pool_connections=self.sdk_threads),
            )
        )
        label = (
            f"(a) SDK AsyncPredictor.predict's wait (object_exists waiter, {SDK_WAITER_DELAY_S:g} s), "
            f"{self.sdk_threads} threads"
            if name == "sdk"
            else f"(b) docs loop, GetObject every {DOCS_POLL_DELAY_S:g} s, {self.sdk_threads} threads"
        )
        run = Run(name, label)
        held: dict[str, float] = {}
        lock = threading.Lock()

        def one(index: int) -> None:
            submission = client.invoke(_payload(index, self.model_seconds))
            bucket, key = submission.output_location.removeprefix("s3://").split("/", 1)
            if name == "sdk":
                s3.get_waiter("object_exists").wait(
                    Bucket=bucket,
                    Key=key,
                    WaiterConfig={"Delay": SDK_WAITER_DELAY_S, "MaxAttempts": SDK_WAITER_MAX_ATTEMPTS},
                )
                s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            else:
                while True:
                    try:
                        s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                        break
                    except ClientError as error:
                        if error.response.get("Error", {}).get("Code") != "NoSuchKey":
                            raise
                    time.sleep(DOCS_POLL_DELAY_S)
            with lock:
                held[submission.inference_id] = time.perf_counter()

        started = time.perf_counter()
        with ThreadPoolExecutor(self.sdk_threads) as pool:
            list(pool.map(one, range(self.requests)))
        run.wall = time.perf_counter() - started
        run.calls = counter.calls
        run.results = len(held)
        run.seconds = [at - self.env.simulator.written_at[i] for i, at in held.items()]
        return run


def _rows(runs: dict[str, Run]) -> list[Row]:
    rows: list[Row] = []
    lone_p50 = statistics.median(runs["lone"].seconds)
    for name in ("project", "paced", "sdk", "poll"):
        if name not in runs:
            continue
        run = runs[name]
        row = Row.of(CASE, f"time to result: {run.label}", "s", run.seconds, key=name)
        row.note = (
            f"wall time to the last result {run.wall:.1f} s; p95 {run.percentile(0.95):.2f} s; "
            f"lone request p50 {lone_p50:.3f} s"
        )
        if run.endpoint_rate:
            row.note += f"; endpoint completed {run.endpoint_rate:.1f} results/s"
        if run.lingering_waiters:
            row.note += (
                f"; {run.lingering_waiters} SDK failure-path waiters still polling after the last result"
            )
        if name in ("project", "paced"):
            ratio = row.median / lone_p50 if lone_p50 else float("inf")
            row.target, row.met = f"p50 <= {MAX_P50_RATIO}x lone ({ratio:.2f}x)", ratio <= MAX_P50_RATIO
        rows.append(row)
        calls = Row.of(
            CASE,
            f"AWS calls per result while waiting: {run.label}",
            "calls",
            [run.calls_per_result],
            note=", ".join(f"{op} {n}" for op, n in sorted(run.calls.items())),
        )
        if name in ("project", "paced"):
            calls.target, calls.met = (
                f"<= {MAX_CALLS_PER_RESULT}",
                run.calls_per_result <= MAX_CALLS_PER_RESULT,
            )
        rows.append(calls)
    return rows


def plot(runs: dict[str, Run], path: Path) -> Path | None:
    """Cumulative results over time to result, one line per approach (matplotlib, when installed)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for run in runs.values():
        if run.name == "lone" or not run.seconds:
            continue
        ordered = sorted(run.seconds)
        axis.plot(ordered, [i / len(ordered) for i in range(1, len(ordered) + 1)], label=run.label)
    axis.set_xscale("log")
    axis.set_xlabel("time to result (s, output written -> caller holds it)")
    axis.set_ylabel("fraction of results")
    axis.set_title(f"{max(r.results for r in runs.values())} requests awaited at once")
    axis.legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def run(
    workdir: Path,
    log: Log,
    *,
    requests: int = 1000,
    model_seconds: float = 0.05,
    sdk_threads: int = 100,
    lone_samples: int = 10,
    baselines: bool = True,
    plot_path: Path | None = None,
    paced_model_seconds: float = 0.25,
) -> tuple[list[Row], dict[str, Any]]:
    """Synthesize (direct delivery, Kinesis results stream), start the local run, run the case.

    The local Lambda runtime runs several executions per function at once (as Lambda does); the
    emulator runs in its own process.
    """
    from bench import ROOT
    from sagemaker_async_results.local.environment import LocalEnvironment
    from sagemaker_async_results.local.synth import CdkApp

    outdir = workdir / "bench-await-at-scale.cdk.out"
    log(
        f"await at scale: synthesizing the stack (direct delivery, Kinesis results stream), {requests} requests"
    )
    CdkApp(ROOT).synthesize(
        outdir,
        {"delivery": {"mode": "direct"}, "destinations": {"kinesis": {"enabled": True}}},
        bundle=False,
    )
    runs: dict[str, Run] = {}
    load_before = os.getloadavg()
    with LocalEnvironment(outdir, log_dir=workdir / "bench-logs", emulator_process=True) as env:
        case = AwaitAtScale(env, requests, model_seconds, sdk_threads, log)
        runs["lone"] = case.lone(lone_samples)
        log(f"  lone request p50 {statistics.median(runs['lone'].seconds):.3f} s")
        for name, seconds in (("project", None), ("paced", paced_model_seconds)):
            env.wait_idle(timeout=120)
            runs[name] = case.project(name, seconds)
            runs[name].stages = case.stages(runs[name])
            log(
                f"  {runs[name].label}: wall {runs[name].wall:.1f} s, p50 {runs[name].percentile(0.5):.3f} s, "
                f"{runs[name].calls_per_result:.3f} calls/result, endpoint {runs[name].endpoint_rate:.1f}/s, "
                f"stages {runs[name].stages}"
            )
        concurrency = {
            name.split("-")[1] if "-" in name else name: {
                "limit": f.max_concurrency,
                "peak": f.peak_concurrency,
                "invocations": f.invocations,
            }
            for name, f in env.functions.items()
        }
        endpoint_concurrency = {n: e.max_concurrency for n, e in env.simulator._endpoints.items()}
        if baselines:
            sdk_python = ROOT / ".venv-sdk" / "bin" / "python"
            for name in ("poll", "sdk"):
                env.wait_idle(timeout=120)
                if name == "sdk" and sdk_python.exists():
                    runs[name] = case.sdk(sdk_python)
                else:
                    runs[name] = case.pooled(name)
                log(f"  {name}: wall {runs[name].wall:.1f} s, {runs[name].calls_per_result:.3f} calls/result")
    rows = _rows(runs)
    figure = plot(runs, plot_path) if plot_path else None
    lone_p50 = statistics.median(runs["lone"].seconds)
    return rows, {
        "requests": requests,
        "modelSeconds": model_seconds,
        "pacedModelSeconds": paced_model_seconds,
        "sdkThreads": sdk_threads,
        "method": (
            "moto in its own process; local Lambda functions run up to their concurrency limit at once; "
            "burst = every request submitted at once with a 0.05 s model (the endpoint completes them as "
            "fast as the emulator lets it); paced = a longer model time, so the endpoint completes them at "
            "its concurrency / model time, as a real endpoint of that size would"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "loadAverageBefore": load_before,
            "loadAverageAfter": os.getloadavg(),
        },
        "lambdaConcurrency": concurrency,
        "endpointConcurrency": endpoint_concurrency,
        "plot": str(figure) if figure else None,
        "targets": {
            name: {
                "callsPerResult": {
                    "target": f"<= {MAX_CALLS_PER_RESULT}",
                    "value": runs[name].calls_per_result,
                    "met": runs[name].calls_per_result <= MAX_CALLS_PER_RESULT,
                },
                "p50VsLone": {
                    "target": f"<= {MAX_P50_RATIO}x lone p50 ({lone_p50:.3f} s)",
                    "value": runs[name].percentile(0.5) / lone_p50 if lone_p50 else None,
                    "met": runs[name].percentile(0.5) <= MAX_P50_RATIO * lone_p50,
                },
            }
            for name in ("project", "paced")
            if name in runs
        },
        "runs": {
            name: {
                "label": r.label,
                "wallSeconds": r.wall,
                "p50": r.percentile(0.5),
                "p95": r.percentile(0.95),
                "callsPerResult": r.calls_per_result,
                "calls": dict(r.calls),
                "results": r.results,
                **({"endpointResultsPerSecond": r.endpoint_rate} if r.endpoint_rate else {}),
                **({"stages": r.stages} if r.stages else {}),
                **({"sdkWaitersStillPolling": r.lingering_waiters} if r.name == "sdk" else {}),
            }
            for name, r in runs.items()
        },
    }


def main() -> None:
    """``python -m bench.await_at_scale [requests]``: the case alone, results printed as JSON."""
    import sys

    from bench import ROOT

    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    baselines = "--no-baselines" not in sys.argv
    out = ROOT / "bench" / "results"
    rows, extra = run(
        ROOT / ".build",
        lambda line: print(line, file=sys.stderr, flush=True),
        requests=requests,
        baselines=baselines,
        plot_path=out / "await_at_scale.png",
    )
    for row in rows:
        print(
            f"{row.name}: median {row.median:.3f} {row.unit}; target {row.target} met {row.met}; {row.note}"
        )
    (out / "await_at_scale.json").write_text(json.dumps(extra, indent=2))


if __name__ == "__main__":
    main()
