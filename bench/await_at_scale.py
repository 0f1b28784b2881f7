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
"""

from __future__ import annotations

import json
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

    def project(self) -> Run:
        run = Run("project", f"this client: {self.requests} futures, one waiter (stream push)")
        held: dict[str, float] = {}
        with self._client() as client:
            started = time.perf_counter()
            with ThreadPoolExecutor(8) as submitters:
                futures = list(
                    submitters.map(
                        lambda i: client.submit(_payload(i, self.model_seconds), inline=True),
                        range(self.requests),
                    )
                )
            for future in futures:
                future.add_done_callback(lambda f: held.setdefault(f.inference_id, time.perf_counter()))
            for future in futures:
                future.result(timeout=600)
            run.wall = time.perf_counter() - started
            run.calls = Counter(client.waiter.stats.calls)
            run.results = len(futures)
            run.label += f" ({'push' if client.waiter.push else 'batched reads only'})"
        run.seconds = [held[f.inference_id] - self.env.simulator.written_at[f.inference_id] for f in futures]
        return run

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
    for name in ("project", "sdk", "poll"):
        if name not in runs:
            continue
        run = runs[name]
        row = Row.of(CASE, f"time to result: {run.label}", "s", run.seconds, key=name)
        row.note = (
            f"wall time to the last result {run.wall:.1f} s; p95 {run.percentile(0.95):.2f} s; "
            f"lone request p50 {lone_p50:.3f} s"
        )
        if name == "project":
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
        if name == "project":
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
) -> tuple[list[Row], dict[str, Any]]:
    """Synthesize (direct delivery, Kinesis results stream), start the local run, run the case.

    Direct delivery: the local Lambda runtime runs one invocation at a time per function, so the
    result-handler's writes never run concurrently against the emulator (moto's DynamoDB fails
    concurrent ``TransactWriteItems`` with an internal error, which buffered batches of 10 trigger).
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
    with LocalEnvironment(outdir, log_dir=workdir / "bench-logs") as env:
        case = AwaitAtScale(env, requests, model_seconds, sdk_threads, log)
        runs["lone"] = case.lone(lone_samples)
        log(f"  lone request p50 {statistics.median(runs['lone'].seconds):.3f} s")
        runs["project"] = case.project()
        log(
            f"  this client: wall {runs['project'].wall:.1f} s, {runs['project'].calls_per_result:.3f} calls/result"
        )
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
    return rows, {
        "requests": requests,
        "modelSeconds": model_seconds,
        "sdkThreads": sdk_threads,
        "plot": str(figure) if figure else None,
        "runs": {
            name: {
                "label": r.label,
                "wallSeconds": r.wall,
                "p50": r.percentile(0.5),
                "p95": r.percentile(0.95),
                "callsPerResult": r.calls_per_result,
                "calls": dict(r.calls),
                "results": r.results,
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
