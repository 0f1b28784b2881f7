"""Case 3: cold start, in fresh interpreters, of the handler module + its app vs boto3 + one S3 client.

Each run is a new ``python`` process (a Lambda cold start starts a new interpreter too) that times, with
``perf_counter`` inside the process, ``from sagemaker_async_results.runtime import entrypoint; entrypoint.get_app()`` (plugins loaded,
destinations built; no AWS client is created before the first call) or
``import boto3; boto3.client("s3")``, in the environment variables Lambda sets. Interpreter start-up is common to both and left out (its
wall time is recorded too). Runs alternate; the first of each is a discarded warm-up that also writes
bytecode caches, as a deployed asset would ship them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import FUNCTIONS, ROOT
from bench.config import Counts
from bench.stats import Row, at_most_times
from bench.throughput import function_environment

CASE = "cold_start"
Log = Callable[[str], None]

_TIMER = "import time\nstarted = time.perf_counter()\n{body}\nprint(time.perf_counter() - started)\n"
PROJECT = _TIMER.format(body="from sagemaker_async_results.runtime import entrypoint\nentrypoint.get_app()")
BASELINE = _TIMER.format(body='import boto3\nboto3.client("s3")')


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(
        {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": "bench-cold-start",
            # Lambda always sets it; the X-Ray SDK (Powertools' Tracer) then uses its Lambda mode instead
            # of creating the sampling clients it creates anywhere else.
            "LAMBDA_TASK_ROOT": str(FUNCTIONS),
            "PYTHONPATH": str(FUNCTIONS),
        }
    )
    env.update(function_environment(queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/results"))
    return env


def _one(script: str, env: dict[str, str]) -> tuple[float, float]:
    """``(in-process seconds, process wall seconds)`` of one fresh interpreter."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"cold start run failed:\n{completed.stderr[-3000:]}")
    return float(completed.stdout.strip().splitlines()[-1]), wall


def run(counts: Counts, log: Log) -> tuple[list[Row], dict[str, Any]]:
    env = _environment()
    log(f"cold start: {counts.cold_runs} fresh interpreters each, alternating (+1 warm-up each)")
    scripts = {"project": PROJECT, "baseline": BASELINE}
    inner: dict[str, list[float]] = {name: [] for name in scripts}
    wall: dict[str, list[float]] = {name: [] for name in scripts}
    for index in range(counts.cold_runs + 1):
        order = list(scripts) if index % 2 == 0 else list(reversed(scripts))
        for name in order:
            seconds, process_seconds = _one(scripts[name], env)
            if index > 0:
                inner[name].append(seconds * 1000)
                wall[name].append(process_seconds * 1000)
    project = Row.of(
        CASE,
        "this project: from sagemaker_async_results.runtime import entrypoint; entrypoint.get_app()",
        "ms",
        inner["project"],
        note="deployed-like environment (result store, exactly-once, SQS destination, handlers package)",
    )
    baseline = Row.of(
        CASE, 'baseline: import boto3; boto3.client("s3")', "ms", inner["baseline"], key="boto3 + S3 client"
    )
    project.comparisons = [at_most_times(project, baseline, 1.2)]
    return [project, baseline], {
        "processWallMs": wall,
        "environment": sorted(env),
        "slowestImports": _slowest_imports(env),
    }


def _slowest_imports(env: dict[str, str], top: int = 8) -> list[dict[str, Any]]:
    """One ``-X importtime`` run of the project's cold start: where its time goes (cumulative us)."""
    completed = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "from sagemaker_async_results.runtime import entrypoint; entrypoint.get_app()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    entries: list[dict[str, Any]] = []
    for line in completed.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit():
            entries.append(
                {"module": parts[2].strip(), "selfUs": int(parts[0]), "cumulativeUs": int(parts[1])}
            )
    return sorted(entries, key=lambda e: -int(e["cumulativeUs"]))[:top]


if __name__ == "__main__":  # pragma: no cover - handy for a one-off look
    print(json.dumps([r.to_json() for r in run(Counts(cold_runs=3), print)[0]], indent=2))
