"""``make demo``: the whole system on the embedded AWS, end to end, with no AWS account.

Synthesizes the CDK app, deploys it into moto's CloudFormation, starts the endpoint simulator and the
real handler functions, submits a realistic mix of inferences through the client, waits for every result
through the result store (never polling S3), re-delivers one notification to show exactly-once routing,
and prints a table and a summary. Exits non-zero unless every submitted inference is accounted for.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sagemaker_async_results.cdk.summary import summarize_file
from sagemaker_async_results.client.client import AsyncInferenceClient, InferenceRecord, InferenceStatus
from sagemaker_async_results.local.emulator import AwsTarget
from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.model import load_model
from sagemaker_async_results.local.synth import CdkApp, lint_errors

SAMPLE_TEXTS = [
    "The results arrived the moment they were ready.",
    "Polling S3 every fifteen seconds was slow and costly.",
    "A dead-letter queue keeps every failed message.",
    "This model is deterministic, so the demo is repeatable.",
    "Notifications beat polling by a wide margin.",
]


@dataclass(frozen=True)
class Scenario:
    kind: str
    payload: dict[str, Any]
    expected: InferenceStatus


@dataclass(frozen=True)
class Outcome:
    scenario: Scenario
    record: InferenceRecord
    seconds: float


def build_mix(count: int) -> list[Scenario]:
    """Successes, model errors (every fourth), one output above the 128 KB inline limit."""
    mix = []
    for index in range(count):
        text = SAMPLE_TEXTS[index % len(SAMPLE_TEXTS)] + f" #{index}"
        if index == 0:
            mix.append(
                Scenario("large-output", {"inputs": text, "pad_bytes": 300_000}, InferenceStatus.COMPLETED)
            )
        elif index % 4 == 3:
            mix.append(Scenario("model-error", {"fail": f"bad input #{index}"}, InferenceStatus.FAILED))
        else:
            mix.append(Scenario("success", {"inputs": text}, InferenceStatus.COMPLETED))
    return mix


def run_one(client: AsyncInferenceClient, scenario: Scenario, timeout: float) -> Outcome:
    started = time.monotonic()
    submission = client.invoke(json.dumps(scenario.payload).encode(), content_type="application/json")
    record = client.wait(submission.inference_id, timeout=timeout)
    return Outcome(scenario, record, time.monotonic() - started)


def redeliver_duplicate(env: LocalEnvironment, recorder_url: str, outcome: Outcome, timeout: float) -> str:
    """Publish a notification SageMaker already sent a second time; the record must not change."""
    assert env.target is not None
    sqs, sns = env.target.client("sqs"), env.target.client("sns")
    original = None
    deadline = time.monotonic() + timeout
    while original is None and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=recorder_url, MaxNumberOfMessages=10).get("Messages", []):
            if json.loads(message["Body"]).get("inferenceId") == outcome.record.inference_id:
                original = message["Body"]
    if original is None:
        return "duplicate not sent: the original notification was not recorded"
    before = env.client().status(outcome.record.inference_id).item
    delivered = sum(source.stats.delivered for source in env.sources)
    sns.publish(TopicArn=env.deployed.outputs["SuccessTopicArn"], Message=original)
    while sum(source.stats.delivered for source in env.sources) <= delivered:
        if time.monotonic() > deadline:
            return "duplicate sent but not delivered in time"
        time.sleep(0.05)
    after = env.client().status(outcome.record.inference_id).item
    if after == before:
        return f"duplicate of {outcome.record.inference_id} delivered and ignored (record unchanged)"
    return f"DUPLICATE ROUTED TWICE: {outcome.record.inference_id} record changed"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def render(
    console: Console,
    outcomes: list[Outcome],
    failures: list[tuple[Outcome, str]],
    duplicate_note: str,
    dead_letters: int,
) -> bool:
    table = Table(title="Inferences")
    for column in ("inference ID", "scenario", "status", "latency ms", "routed to"):
        table.add_column(column)
    for outcome in outcomes:
        record = outcome.record
        style = "green" if record.status == outcome.scenario.expected else "red"
        table.add_row(
            record.inference_id[:13] + "…",
            outcome.scenario.kind,
            f"[{style}]{record.status}[/{style}]",
            f"{outcome.seconds * 1000:.0f}",
            ", ".join(name.removeprefix("handlers.") for name in record.routed_to) or "-",
        )
    console.print(table)
    latencies = [o.seconds * 1000 for o in outcomes]
    counts = Counter(str(o.record.status) for o in outcomes)
    mismatched = [o for o in outcomes if o.record.status != o.scenario.expected]
    console.print(
        f"[bold]Submitted[/bold] {len(outcomes)}  " + "  ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    console.print(
        f"[bold]Latency[/bold] submit → result held by the caller: p50 {percentile(latencies, 0.5):.0f} ms, "
        f"p95 {percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms"
    )
    for outcome, detail in failures:
        console.print(
            f"  failed {outcome.record.inference_id[:13]}…: {outcome.record.failure_reason} {detail}"
        )
    console.print(f"[bold]Duplicate delivery[/bold] {duplicate_note}")
    console.print(f"[bold]Dead-letter queues[/bold] {dead_letters} message(s)")
    ok = not mismatched and dead_letters == 0 and "ignored" in duplicate_note
    console.print(
        "[bold green]Every inference accounted for.[/bold green]"
        if ok
        else "[bold red]Check failed.[/bold red]"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sagemaker_async_results.local.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--count", type=int, default=24, help="inferences to submit (default: %(default)s)")
    parser.add_argument(
        "--concurrency", type=int, default=8, help="requests in flight (default: %(default)s)"
    )
    parser.add_argument(
        "--delivery", choices=["direct", "buffered"], help="delivery mode (default: cdk.json's delivery.mode)"
    )
    parser.add_argument("--app-dir", type=Path, help="the CDK app's folder (default: the current one)")
    parser.add_argument("--model", help="package.module:function to run instead of the sample model")
    parser.add_argument("--no-bundle", action="store_true", help="skip bundling the Lambda dependencies")
    parser.add_argument(
        "--endpoint-url",
        help="an AWS-compatible endpoint already running (e.g. a standalone moto server) instead of the embedded one",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each result")
    parser.add_argument(
        "--no-summary", dest="summary", action="store_false", help="do not print what the stack deploys"
    )
    args = parser.parse_args(argv)
    # Wide enough for the table when the output is not a terminal (CI logs, pipes).
    console = Console(width=max(120, shutil.get_terminal_size().columns))

    app = CdkApp(args.app_dir)
    mode = args.delivery or app.context.get("delivery", {}).get("mode", "direct")
    build_dir = app.directory / ".build"
    outdir = build_dir / f"demo-{mode}.cdk.out"
    context = {"delivery": {"mode": mode}}
    with console.status("Synthesizing the CDK app (cdk-nag AwsSolutions checks included)…"):
        seconds = app.synthesize(outdir, context, bundle=not args.no_bundle)
        lint = lint_errors(outdir)
    console.print(
        f"Synthesized the stack into {outdir.relative_to(app.directory)} in {seconds:.1f}s ({mode} delivery): "
        f"cdk-nag clean, cfn-lint {'clean' if not lint else f'{len(lint)} error(s)'}"
    )
    for error in lint:
        console.print(f"  [red]{error}[/red]")
    if lint:
        return 1
    if args.summary:
        for template in sorted(outdir.glob("*.template.json")):
            console.print(summarize_file(template), markup=False, highlight=False)

    with console.status("Deploying into the embedded AWS (moto)…"):
        env = LocalEnvironment(
            outdir,
            model=load_model(args.model),
            log_dir=build_dir / "local-logs",
            target=AwsTarget(args.endpoint_url) if args.endpoint_url else None,
        )
        env.__enter__()
    try:
        outputs = env.deployed.outputs
        console.print(
            f"Deployed {len(env.deployed.physical_ids)} resources; endpoint {outputs['EndpointName']}"
        )
        assert env.target is not None
        sqs, sns = env.target.client("sqs"), env.target.client("sns")
        recorder_url = sqs.create_queue(QueueName="demo-notification-recorder")["QueueUrl"]
        recorder_arn = sqs.get_queue_attributes(QueueUrl=recorder_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]
        sns.subscribe(
            TopicArn=outputs["SuccessTopicArn"],
            Protocol="sqs",
            Endpoint=recorder_arn["QueueArn"],
            Attributes={"RawMessageDelivery": "true"},
        )
        client = env.client()
        outcomes: list[Outcome] = []
        with (
            Progress(
                TextColumn("Inferences"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
            ThreadPoolExecutor(max_workers=args.concurrency) as pool,
        ):
            task = progress.add_task("run", total=args.count)
            futures = [pool.submit(run_one, client, s, args.timeout) for s in build_mix(args.count)]
            for future in as_completed(futures):
                outcomes.append(future.result())
                progress.advance(task)
        outcomes.sort(key=lambda o: o.record.inference_id)
        target = next((o for o in outcomes if o.scenario.kind == "success"), None)
        note = (
            redeliver_duplicate(env, recorder_url, target, args.timeout)
            if target
            else "no success to duplicate"
        )
        dead_letters = sum(
            int(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                    "Attributes"
                ]["ApproximateNumberOfMessages"]
            )
            for url in env.resources.dead_letter_queues.values()
        )
        failures = [
            (o, f"model said: {(client.fetch_body(o.record) or b'').decode(errors='replace')}")
            for o in outcomes
            if o.record.status == InferenceStatus.FAILED
        ]
        ok = render(console, outcomes, failures, note, dead_letters)
        console.print(f"Handler logs: {env.log_dir.relative_to(app.directory)}/")
        return 0 if ok else 1
    finally:
        env.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
