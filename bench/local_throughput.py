"""Local-run throughput: results routed per second through the local handler path, and a burst of
requests through the client, on the embedded AWS (what ``async-results serve`` and ``demo`` run).

Two measurements on one local deployment of the repository's app (direct delivery, no bundling):

- **Handler path.** ``notifications`` result notifications (inline response, as SageMaker sends them
  with ``IncludeInferenceResponseIn``) are published to the success topic at once; the rate is the
  number routed (delivered to the success function and acknowledged) over the time from the first
  publish to the last delivery. The CPU of this process (emulator, event sources) and of the Lambda
  workers is summed per routed result: on a machine with ``cores`` cores the path cannot route more
  than ``cores / CPU per result`` results per second, whatever the wall clock says on a loaded machine.
- **Where the CPU goes.** The emulator (moto) runs in a child process, as ``serve`` and ``demo`` start it
  (``--emulator-in-process`` runs it in a thread of this one), so its CPU per result is reported apart
  from the project's own: this process's event sources and the Lambda workers running the runtime. The
  publisher's CPU (this process's main thread publishing, SageMaker's part in AWS) is counted in neither.
- **The project's capacity.** The emulator is not what the project ships, and on this machine it takes
  about two thirds of the CPU: the wall-clock rate measures moto. The rate the project's own code allows
  on this machine's cores (``cores / the project's CPU per result``) is the row held against the target;
  the wall-clock row is reported beside it with the same target.
- **Burst.** ``burst`` requests submitted through the client at once (the endpoint simulator, the model,
  SNS, the handlers, the result store, the client's one waiter); the time from the burst's start to each
  result held by the caller, p50 and p95.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import Row, percentile

CASE = "local_throughput"
TARGET_RESULTS_PER_SECOND = 100.0
TARGET_BURST_P50_SECONDS = 10.0
Log = Callable[[str], None]


def _cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_cpu(env: Any) -> float:
    total = 0.0
    for function in env.functions.values():
        for environment in function._environments:
            process = environment._process
            if process is not None and process.poll() is None:
                total += _cpu_seconds(process.pid)
    return total


def _emulator_cpu(env: Any) -> float:
    """CPU seconds of the emulator's own process (0 when it runs in this one)."""
    from sagemaker_async_results.local.emulator import emulator_pid

    pid = emulator_pid(env.target.endpoint_url if env.target is not None else None)
    return _cpu_seconds(pid) if pid is not None else 0.0


def _notification(inference_id: str, endpoint: str, bucket: str) -> str:
    body = json.dumps([{"label": "POSITIVE", "score": 0.97}]).encode()
    return json.dumps(
        {
            "awsRegion": "us-east-1",
            "eventTime": "2026-12-03T10:00:00.000Z",
            "receivedTime": "2026-12-03T09:59:59.900Z",
            "invocationStatus": "Completed",
            "requestParameters": {
                "contentType": "application/json",
                "endpointName": endpoint,
                "inputLocation": f"s3://{bucket}/async-inference/inputs/{inference_id}",
            },
            "responseParameters": {
                "contentType": "application/json",
                "outputLocation": f"s3://{bucket}/async-inference/outputs/{inference_id}.out",
            },
            "responseBody": {"content": base64.b64encode(body).decode(), "encoding": "BASE64", "message": ""},
            "inferenceId": inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }
    )


def _delivered(env: Any, function_name: str) -> int:
    return sum(s.stats.delivered for s in env.sources if s.function.spec.name == function_name)


def handler_path(
    env: Any, notifications: int, log: Log, timeout: float = 600.0
) -> tuple[list[Row], dict[str, Any]]:
    from sagemaker_async_results import contract

    resources = env.resources
    sns = env.target.client("sns")
    topic = resources.outputs[contract.OUTPUT_SUCCESS_TOPIC_ARN]
    success = next(
        s.function.spec.name for s in env.sources if getattr(s, "subscription_arn", "").startswith(topic)
    )
    # Warm every execution environment first (Lambda's init is not part of the steady rate).
    warm = [str(uuid.uuid4()) for _ in range(env.functions[success].max_concurrency * 2)]
    already = _delivered(env, success)
    for inference_id in warm:
        sns.publish(
            TopicArn=topic, Message=_notification(inference_id, resources.endpoint_name, resources.bucket)
        )
    deadline = time.monotonic() + timeout
    while _delivered(env, success) - already < len(warm) and time.monotonic() < deadline:
        time.sleep(0.05)
    log(f"local throughput: {len(warm)} warm-up results routed; publishing {notifications}")
    before = _delivered(env, success)
    ids = [str(uuid.uuid4()) for _ in range(notifications)]
    own_before, workers_before, emulator_before = _cpu_seconds(), _worker_cpu(env), _emulator_cpu(env)
    started, publisher_before = time.monotonic(), time.thread_time()
    for inference_id in ids:
        sns.publish(
            TopicArn=topic, Message=_notification(inference_id, resources.endpoint_name, resources.bucket)
        )
    published, publisher = time.monotonic() - started, time.thread_time() - publisher_before
    while _delivered(env, success) - before < notifications and time.monotonic() < deadline:
        time.sleep(0.02)
    seconds = time.monotonic() - started
    own = _cpu_seconds() - own_before
    workers = _worker_cpu(env) - workers_before
    emulator = _emulator_cpu(env) - emulator_before
    cpu = own + workers + emulator
    # A warm-up notification still in flight can be delivered inside the window: count at most the published.
    routed = min(_delivered(env, success) - before, notifications)
    client = env.client()
    unrouted = [i for i in ids if client.status(i).routing != contract.ROUTING_ROUTED]
    rate = routed / seconds
    cpu_per_result = cpu / max(1, routed)
    cores = os.cpu_count() or 1
    row = Row.of(
        CASE,
        f"local run: results routed per second through the local handler path ({notifications} "
        "notifications at once, direct delivery, embedded AWS)",
        "results/s",
        [rate],
        target=f">= {TARGET_RESULTS_PER_SECOND:g}/s",
        met=rate >= TARGET_RESULTS_PER_SECOND,
        note=f"published in {published:.1f} s; {routed} routed in {seconds:.1f} s; "
        f"{len(unrouted)} without a Routed record",
    )
    ceiling = Row.of(
        CASE,
        "local run: CPU per routed result (emulator + event sources + Lambda workers)",
        "ms",
        [cpu_per_result * 1000],
        note=f"{cores} cores: at most {cores / cpu_per_result:.0f} results/s when nothing else runs",
    )
    rows = [row, ceiling]
    separate = emulator > 0
    if separate:
        project = (own - publisher + workers) / max(1, routed)
        capacity = cores / project
        rows += [
            Row.of(
                CASE,
                f"local run: results per second the project's own code allows on {cores} cores "
                "(event sources + Lambda workers; the emulator's CPU left out)",
                "results/s",
                [capacity],
                target=f">= {TARGET_RESULTS_PER_SECOND:g}/s",
                met=capacity >= TARGET_RESULTS_PER_SECOND,
                note=f"{project * 1000:.1f} ms CPU per routed result; the wall-clock rate above is moto's",
            ),
            Row.of(
                CASE,
                "local run: CPU per routed result in the emulator (moto, its own process)",
                "ms",
                [emulator / max(1, routed) * 1000],
                note=f"one process: at most {routed / emulator:.0f} results/s on one core",
            ),
            Row.of(
                CASE,
                "local run: CPU per routed result of the project (event sources + Lambda workers)",
                "ms",
                [project * 1000],
                note=f"the publisher's {publisher / max(1, routed) * 1000:.1f} ms per result left out",
            ),
        ]
    extra = {
        "notifications": notifications,
        "routed": routed,
        "seconds": seconds,
        "publishSeconds": published,
        "cpuSeconds": cpu,
        "cpuSecondsByProcess": {
            "emulator": emulator if separate else None,
            "eventSources": own - publisher if separate else None,
            "publisher": publisher,
            "thisProcess": own,
            "lambdaWorkers": workers,
        },
        "emulatorProcess": separate,
        "cores": cores,
        "unrouted": len(unrouted),
    }
    return rows, extra


def burst(env: Any, requests: int, log: Log, timeout: float = 900.0) -> tuple[list[Row], dict[str, Any]]:
    client = env.client()
    finished: list[float] = []
    failures: list[str] = []
    log(f"local throughput: burst of {requests} requests through the client")
    started = time.monotonic()

    def done(future: Any) -> None:
        finished.append(time.monotonic() - started)
        if future.exception() is not None:
            failures.append(repr(future.exception()))

    futures = []
    for index in range(requests):
        future = client.submit(json.dumps({"inputs": f"burst request {index}"}).encode())
        future.add_done_callback(done)
        futures.append(future)
    submitted = time.monotonic() - started
    deadline = started + timeout
    while len(finished) < requests and time.monotonic() < deadline:
        time.sleep(0.1)
    waited = sorted(finished)
    p50 = percentile(waited, 50) if waited else float("inf")
    row = Row.of(
        CASE,
        f"local run: {requests}-request burst through the client (submit -> result held), embedded AWS",
        "s",
        waited or [float("inf")],
        target=f"p50 <= {TARGET_BURST_P50_SECONDS:g} s",
        met=len(waited) == requests and p50 <= TARGET_BURST_P50_SECONDS,
        note=f"submitted in {submitted:.1f} s; {len(waited)} of {requests} results in time; "
        f"{len(failures)} failed",
    )
    return [row], {
        "requests": requests,
        "results": len(waited),
        "submitSeconds": submitted,
        "failures": failures[:5],
    }


def sdk_v2(
    workdir: Path, log: Log, requests: int = 1000, threads: int = 100
) -> tuple[list[Row], dict[str, Any]]:
    """The SageMaker Python SDK v2 row: ``requests`` ``AsyncPredictor.predict`` calls in ``threads`` threads
    against the local run (``.venv-sdk``; the stack, model time and predictor of ``bench.await_at_scale``'s
    baseline (a), run on its own). Met when every request's result arrives."""
    from bench import ROOT
    from bench.await_at_scale import AwaitAtScale
    from sagemaker_async_results.local.environment import LocalEnvironment
    from sagemaker_async_results.local.synth import CdkApp

    python = ROOT / ".venv-sdk" / "bin" / "python"
    if not python.exists():
        raise RuntimeError(f"{python} is missing: make bench-sdk installs the SageMaker Python SDK v2")
    outdir = workdir / "bench-await-at-scale.cdk.out"
    log(f"local throughput: SageMaker SDK v2, {requests} requests in {threads} threads")
    CdkApp(ROOT).synthesize(
        outdir,
        {"delivery": {"mode": "direct"}, "destinations": {"kinesis": {"enabled": True}}},
        bundle=False,
    )
    with LocalEnvironment(outdir, log_dir=workdir / "bench-logs", emulator_process=True) as env:
        measured = AwaitAtScale(env, requests, 0.05, threads, log).sdk(python)
    calls = sum(measured.calls.values()) / max(1, measured.results)
    row = Row.of(
        CASE,
        f"SageMaker SDK v2 AsyncPredictor.predict, {requests} requests in {threads} threads "
        "(output written -> result held), local run",
        "s",
        measured.seconds or [float("inf")],
        target=f"all {requests} finish",
        met=measured.results == requests,
        note=f"{measured.results} results; wall to the last result {measured.wall:.1f} s; "
        f"{calls:.2f} AWS calls per result; {measured.lingering_waiters} failure-path waiters still polling",
    )
    return [row], {
        "requests": requests,
        "threads": threads,
        "results": measured.results,
        "wallSeconds": measured.wall,
        "calls": dict(measured.calls),
        "lingeringWaiters": measured.lingering_waiters,
    }


def run(
    workdir: Path,
    log: Log,
    notifications: int = 1000,
    requests: int = 1000,
    emulator_process: bool = True,
) -> tuple[list[Row], dict[str, Any]]:
    """Synthesize (direct delivery, no bundling), deploy locally, measure both (see the module docstring).

    ``emulator_process`` (the default, as ``serve`` and ``demo`` start it) runs moto in a child process,
    its CPU reported apart; ``False`` runs it in a thread of this process.
    """
    from bench import ROOT
    from sagemaker_async_results.local.environment import LocalEnvironment
    from sagemaker_async_results.local.synth import CdkApp

    outdir = workdir / "bench-local-throughput.cdk.out"
    log("local throughput: synthesizing the stack (direct delivery)")
    CdkApp(ROOT).synthesize(outdir, {"delivery": {"mode": "direct"}}, bundle=False)
    with LocalEnvironment(
        outdir, log_dir=workdir / "bench-local-throughput-logs", emulator_process=emulator_process
    ) as env:
        rows, extra = handler_path(env, notifications, log) if notifications else ([], {})
        burst_rows, burst_extra = burst(env, requests, log) if requests else ([], {})
    return rows + burst_rows, {"handlerPath": extra, "burst": burst_extra}


def main(argv: list[str] | None = None) -> None:
    import argparse
    import sys
    from datetime import UTC, datetime

    from bench import ROOT
    from bench.report import machine, table

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notifications", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--emulator-in-process",
        action="store_true",
        help="moto in a thread of this process (not as serve runs it)",
    )
    parser.add_argument("--sdk-v2", type=int, default=0, help="also N SageMaker SDK v2 requests (.venv-sdk)")
    parser.add_argument(
        "--json", type=Path, help="write rows and details here (e.g. bench/results/local_throughput.json)"
    )
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    found: list[Row] = []
    details: dict[str, Any] = {}
    if args.notifications or args.requests:
        found, details = run(
            ROOT / ".build",
            log,
            args.notifications,
            args.requests,
            emulator_process=not args.emulator_in_process,
        )
    if args.sdk_v2:
        sdk_rows, details["sdkV2"] = sdk_v2(ROOT / ".build", log, args.sdk_v2)
        found += sdk_rows
    print(table(found))
    print(json.dumps(details))
    if args.json:
        meta = {
            "started": started.isoformat(timespec="seconds"),
            "command": "python -m bench.local_throughput " + " ".join(sys.argv[1:] if argv is None else argv),
            "machine": machine(),
            "loadAverage": {"before": load_before, "after": os.getloadavg()},
            "emulatorProcess": not args.emulator_in_process,
        }
        document = {"meta": meta, "rows": [row.to_json() for row in found], "cases": {CASE: details}}
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
