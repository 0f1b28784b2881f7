"""``make demo``: the whole system on the embedded AWS, end to end, with no AWS account.

Synthesizes the CDK app, deploys it into moto's CloudFormation, starts the endpoint simulator and the
real handler functions, submits a realistic mix of inferences through the client, waits for every result
through the result store (never polling S3), re-delivers one notification to show exactly-once routing,
and prints a table and a summary. Exits non-zero unless every submitted inference is accounted for.
"""

from __future__ import annotations

import contextlib
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

from sagemaker_async_results import contract
from sagemaker_async_results.client.client import (
    AsyncInferenceClient,
    InferenceRecord,
    InferenceStatus,
    InferenceTimeoutError,
)
from sagemaker_async_results.local.emulator import AwsTarget
from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.model import load_model
from sagemaker_async_results.local.serve import synthesize
from sagemaker_async_results.local.synth import CdkApp, lint_errors

#: Exit codes, as in :class:`sagemaker_async_results.cli.exit_codes.ExitCode` (this module is importable
#: without click).
EXIT_OK, EXIT_ROUTING_FAILED, EXIT_CHECK_FAILED = 0, 8, 9

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
    """Submit one inference and wait for its routed result; one not done in time is reported as it stands
    (the summary then fails the check) rather than ending the demo with a traceback."""
    started = time.monotonic()
    submission = client.invoke(json.dumps(scenario.payload).encode(), content_type="application/json")
    try:
        record = client.wait(submission.inference_id, timeout=timeout, routed=True)
    except InferenceTimeoutError:
        record = client.status(submission.inference_id)
    return Outcome(scenario, record, time.monotonic() - started)


def handler_load_failure(env: LocalEnvironment) -> str | None:
    """One line naming the function whose handler cannot load, why, and its log file (``None``: all load)."""
    if not env.handler_errors:
        return None
    name, error = next(iter(env.handler_errors.items()))
    more = len(env.handler_errors) - 1
    others = f" (and {more} more function{'s' if more > 1 else ''})" if more else ""
    return (
        f"async-results demo: the handler of {name} cannot load{others}: {error} "
        f"(log: {env.functions[name].log_path})"
    )


def _delivered(env: LocalEnvironment) -> int:
    """Notifications delivered to the result-handler functions so far (recovery's S3 events not counted)."""
    recovery = env.resources.outputs.get(contract.OUTPUT_RECOVERY_FUNCTION_NAME)
    total = 0
    for source in env.sources:
        function = getattr(source, "function", None)
        if function is None or function.spec.name != recovery:
            total += source.stats.delivered
    return total


def publish_again(
    env: LocalEnvironment, topic_arn: str, message: str, inference_id: str, timeout: float
) -> str:
    """Publish a notification of an already routed result; the result record must not change."""
    assert env.target is not None
    before = env.client().status(inference_id).item
    delivered = _delivered(env)
    env.target.client("sns").publish(TopicArn=topic_arn, Message=message)
    deadline = time.monotonic() + timeout
    while _delivered(env) <= delivered:
        if time.monotonic() > deadline:
            return f"notification of {inference_id} sent again but not delivered in time"
        time.sleep(0.05)
    after = env.client().status(inference_id).item
    if after == before:
        return f"of {inference_id} delivered and ignored (record unchanged)"
    return f"DUPLICATE ROUTED TWICE: {inference_id} record changed"


def redeliver_duplicate(env: LocalEnvironment, recorder_url: str, outcome: Outcome, timeout: float) -> str:
    """Publish a notification SageMaker already sent a second time; the record must not change."""
    assert env.target is not None
    sqs = env.target.client("sqs")
    original = None
    deadline = time.monotonic() + timeout
    while original is None and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=recorder_url, MaxNumberOfMessages=10).get("Messages", []):
            if json.loads(message["Body"]).get("inferenceId") == outcome.record.inference_id:
                original = message["Body"]
    if original is None:
        return "duplicate not sent: the original notification was not recorded"
    topic = env.resources.outputs[contract.OUTPUT_SUCCESS_TOPIC_ARN]
    return publish_again(env, topic, original, outcome.record.inference_id, timeout)


def deliver_late(env: LocalEnvironment, outcomes: list[Outcome], timeout: float) -> str:
    """Publish a lost notification after recovery routed its result: it must be a duplicate."""
    recovered = [o.record.inference_id for o in outcomes if o.record.recovered]
    lost = env.simulator.lost_notifications
    late = next((inference_id for inference_id in recovered if inference_id in lost), None)
    if late is None:
        return "no recovered result to notify late"
    topic, message = lost[late]
    return publish_again(env, topic, message, late, timeout)


def wait_recovered(client: AsyncInferenceClient, inference_ids: list[str], timeout: float) -> None:
    """Wait until recovery has marked each result recovered (it does so right after routing it)."""
    deadline = time.monotonic() + timeout
    pending = list(inference_ids)
    while pending and time.monotonic() < deadline:
        pending = [i for i in pending if not client.status(i).recovered]
        if pending:
            time.sleep(0.2)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _inference_ids(event: Any) -> list[str]:
    """Inference IDs in a dead-lettered event (SNS event, SQS-delivered envelope or bare notification)."""
    if isinstance(event, dict) and "Records" in event:
        return [i for r in event["Records"] for i in _inference_ids(r.get("Sns", r).get("Message"))]
    if isinstance(event, str):
        try:
            return _inference_ids(json.loads(event))
        except ValueError:
            return []
    if isinstance(event, dict) and "Message" in event:
        return _inference_ids(event["Message"])
    if isinstance(event, dict) and "inferenceId" in event:
        return [str(event["inferenceId"])]
    return []


def dead_lettered(env: LocalEnvironment) -> dict[str, dict[str, str]]:
    """Inference ID -> routing error, from the dead-letter queues' messages (left in place).

    The result record says when routing failed once the runtime writes ``routing``/``routingError``;
    until then, a result whose notification ended in a dead-letter queue was not routed, and a Lambda
    on-failure record says why.
    """
    assert env.target is not None
    sqs = env.target.client("sqs")
    found: dict[str, dict[str, str]] = {}
    for kind, url in env.resources.dead_letter_queues.items():
        seen: set[str] = set()
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
                "Messages", []
            )
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                body = json.loads(message["Body"])
                response = body.get("responsePayload") if isinstance(body, dict) else None
                event = body.get("requestPayload", body) if isinstance(body, dict) else body
                error = {
                    "reason": str((response or {}).get("errorType") or "DeadLettered"),
                    "message": str(
                        (response or {}).get("errorMessage")
                        or f"the notification is in the {kind} function's dead-letter queue"
                    ),
                    "handler": "",
                }
                for inference_id in _inference_ids(event):
                    found[inference_id] = error
    return found


def with_routing(record: InferenceRecord, dead_letters: dict[str, dict[str, str]]) -> InferenceRecord:
    """``record``, marked as a routing failure when the runtime did not say and it was dead-lettered."""
    if record.routing is None and record.inference_id in dead_letters:
        error = dead_letters[record.inference_id]
        return InferenceRecord(
            **{**record.__dict__, "routing": contract.ROUTING_FAILED, "routing_error": error}
        )
    return record


def routing_cell(record: InferenceRecord) -> str:
    """The table's routed column: where the result went, or which handler failed and why."""
    if record.routing_failed:
        error = record.routing_error or {}
        where = f" in {error['handler']}" if error.get("handler") else ""
        return f"[red]FAILED{where}: {error.get('reason', '?')}[/red]"
    routed = ", ".join(name.removeprefix("handlers.") for name in record.routed_to) or "-"
    return f"{routed} [yellow](recovered)[/yellow]" if record.recovered else routed


def render(
    console: Console,
    outcomes: list[Outcome],
    failures: list[tuple[Outcome, str]],
    duplicate_note: str,
    dead_letters: int,
    lost: int = 0,
    late_note: str = "",
) -> int:
    """Print the table and the summary; returns the demo's exit code."""
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
            routing_cell(record),
        )
    console.print(table)
    latencies = [o.seconds * 1000 for o in outcomes]
    counts = Counter(str(o.record.status) for o in outcomes)
    mismatched = [o for o in outcomes if o.record.status != o.scenario.expected]
    routing_failures = [o for o in outcomes if o.record.routing_failed]
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
    console.print(f"[bold]Routing failures[/bold] {len(routing_failures)}")
    for outcome in routing_failures:
        error = outcome.record.routing_error or {}
        handler = f" in handler {error['handler']}" if error.get("handler") else ""
        console.print(
            f"  [red]{outcome.record.inference_id}{handler}: {error.get('reason', '?')}: "
            f"{error.get('message', '')}[/red]",
            markup=True,
            highlight=False,
        )
    recovered = [o for o in outcomes if o.record.recovered]
    if lost or recovered:
        console.print(
            f"[bold]Lost notifications[/bold] {lost} dropped at the endpoint (output written, nothing "
            f"published); [bold]recovered[/bold] from S3 and routed once: {len(recovered)}"
        )
        for outcome in recovered:
            console.print(
                f"  recovered {outcome.record.inference_id} ({outcome.scenario.kind}, "
                f"{outcome.record.status}) -> {routing_cell(outcome.record)}",
                highlight=False,
            )
        console.print(f"[bold]Late notification[/bold] {late_note}")
    console.print(f"[bold]Duplicate delivery[/bold] {duplicate_note}")
    console.print(f"[bold]Dead-letter queues[/bold] {dead_letters} message(s)")
    if routing_failures:
        console.print(
            "[bold red]A result handler failed: its results were not routed (see above, and the handler "
            "logs).[/bold red]"
        )
        return EXIT_ROUTING_FAILED
    ok = (
        not mismatched
        and dead_letters == 0
        and "ignored" in duplicate_note
        and len(recovered) == lost
        and (not lost or "ignored" in late_note)
    )
    console.print(
        "[bold green]Every inference accounted for.[/bold green]"
        if ok
        else "[bold red]Check failed.[/bold red]"
    )
    return EXIT_OK if ok else EXIT_CHECK_FAILED


def _summary(template: Path) -> str:
    """What the stack deploys, when the [cdk] extra is installed here (the app may use another venv)."""
    try:
        from sagemaker_async_results.cdk.summary import summarize_file
    except ImportError:
        return f"{template.name} (install the [cdk] extra for a summary of what it deploys)"
    return str(summarize_file(template))


def run_demo(
    *,
    app_dir: Path | None = None,
    delivery: str | None = None,
    model: str | None = None,
    bundle: bool = True,
    stack_name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    count: int = 24,
    concurrency: int = 8,
    timeout: float = 60.0,
    summary: bool = True,
    lose_notifications: int = 0,
    recovery_delay_seconds: int = 5,
    iam: bool = True,
) -> int:
    """The demo (see the module docstring); returns its exit code.

    ``lose_notifications`` drops that many result notifications at the endpoint (output written, nothing
    published, as SageMaker's ``NotificationFailures``); recovery finds them in S3 after
    ``recovery_delay_seconds`` (the app's ``recovery.delaySeconds``, shortened so the demo need not wait
    the deployed default of 15 minutes).
    """
    # Wide enough for the table when the output is not a terminal (CI logs, pipes).
    console = Console(width=max(120, shutil.get_terminal_size().columns))

    app = CdkApp(app_dir)
    build_dir = app.directory / ".build"
    with console.status("Synthesizing the CDK app…"):
        outdir, mode, seconds = synthesize(
            app, "demo", delivery, bundle, recovery={"delaySeconds": recovery_delay_seconds}
        )
        lint = lint_errors(outdir)
    console.print(
        f"Synthesized {app.directory.name} into {outdir} in {seconds:.1f}s ({mode} delivery): "
        f"cfn-lint {'clean' if not lint else f'{len(lint)} error(s)'}"
    )
    for error in lint:
        console.print(f"  [red]{error}[/red]")
    if lint:
        return EXIT_CHECK_FAILED
    if summary:
        for template in sorted(outdir.glob("*.template.json")):
            console.print(_summary(template), markup=False, highlight=False)

    with console.status("Deploying into the embedded AWS (moto)…"):
        env = LocalEnvironment(
            outdir,
            stack_name=stack_name,
            model=load_model(model),
            log_dir=build_dir / "local-logs",
            target=AwsTarget(endpoint_url, region or "us-east-1") if endpoint_url else None,
            progress=lambda line: console.print(f"· {line}", highlight=False),
            check_handlers=True,
            iam=iam,
            emulator_process=True,
        )
        env.__enter__()
    try:
        failure = handler_load_failure(env)
        if failure is not None:
            # Nothing is submitted: every delivery would fail the same way (the log file has the traceback).
            print(" ".join(failure.split()), file=sys.stderr, flush=True)
            return EXIT_CHECK_FAILED
        resources = env.resources
        console.print(
            f"Deployed {len(env.deployed.physical_ids)} resources; endpoint {resources.endpoint_name}"
        )
        assert env.target is not None
        if lose_notifications and contract.OUTPUT_RECOVERY_FUNCTION_NAME not in resources.outputs:
            console.print(
                "[red]--lose-notifications needs recovery, and this app deploys none "
                "(context recovery.enabled is false?)[/red]"
            )
            return EXIT_CHECK_FAILED
        env.simulator.lose_notifications(lose_notifications)
        sqs, sns = env.target.client("sqs"), env.target.client("sns")
        recorder_url = sqs.create_queue(QueueName="demo-notification-recorder")["QueueUrl"]
        with contextlib.suppress(sqs.exceptions.PurgeQueueInProgress):
            sqs.purge_queue(QueueUrl=recorder_url)  # an earlier run against the same endpoint left its own
        recorder_arn = sqs.get_queue_attributes(QueueUrl=recorder_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]
        # As in AWS, SNS delivers to the queue only if the queue's policy allows the topic to send.
        sqs.set_queue_attributes(
            QueueUrl=recorder_url,
            Attributes={
                "Policy": topic_may_send(
                    recorder_arn["QueueArn"], resources.outputs[contract.OUTPUT_SUCCESS_TOPIC_ARN]
                )
            },
        )
        sns.subscribe(
            TopicArn=resources.outputs[contract.OUTPUT_SUCCESS_TOPIC_ARN],
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
            ThreadPoolExecutor(max_workers=concurrency) as pool,
        ):
            task = progress.add_task("run", total=count)
            futures = [pool.submit(run_one, client, s, timeout) for s in build_mix(count)]
            for future in as_completed(futures):
                outcomes.append(future.result())
                progress.advance(task)
        lost = list(env.simulator.lost_notifications)
        wait_recovered(client, lost, timeout)
        outcomes = [Outcome(o.scenario, client.status(o.record.inference_id), o.seconds) for o in outcomes]
        target = next((o for o in outcomes if o.scenario.kind == "success" and not o.record.recovered), None)
        note = (
            redeliver_duplicate(env, recorder_url, target, timeout) if target else "no success to duplicate"
        )
        late_note = deliver_late(env, outcomes, timeout) if lost else ""
        # Routing (handlers, retries, dead letters) may still run after the record says Completed.
        env.wait_idle(timeout=timeout)
        letters = dead_lettered(env)
        outcomes = sorted(
            (
                Outcome(o.scenario, with_routing(client.status(o.record.inference_id), letters), o.seconds)
                for o in outcomes
            ),
            key=lambda o: o.record.inference_id,
        )
        dead_letters = sum(
            int(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                    "Attributes"
                ]["ApproximateNumberOfMessages"]
            )
            for url in [
                *resources.dead_letter_queues.values(),
                *filter(None, [resources.outputs.get(contract.OUTPUT_RECOVERY_DEAD_LETTER_QUEUE_URL)]),
            ]
        )
        failures = [
            (o, f"model said: {(client.fetch_body(o.record) or b'').decode(errors='replace')}")
            for o in outcomes
            if o.record.status == InferenceStatus.FAILED
        ]
        code = render(console, outcomes, failures, note, dead_letters, len(lost), late_note)
        if iam:
            code = report_denials(console, code)
        console.print(f"Handler logs: {env.log_dir}/")
        return code
    finally:
        env.__exit__(None, None, None)


def topic_may_send(queue_arn: str, topic_arn: str) -> str:
    """A queue policy that lets ``topic_arn`` deliver to the queue (what a subscription needs in AWS)."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def report_denials(console: Console, code: int) -> int:
    """Print each request the enforced permissions refused (which role lacks which statement); a demo
    with any fails: the deployed roles do not suffice for what the app does."""
    from sagemaker_async_results.local.iam import DENIALS

    denials = DENIALS.all()
    if not denials:
        console.print("Permissions enforced: no request was refused (the deployed roles suffice).")
        return code
    console.print(f"[red]Permissions enforced: {len(denials)} request(s) refused (AccessDenied):[/red]")
    seen: set[str] = set()
    for denial in denials:
        line = denial.explain()
        if line not in seen:
            seen.add(line)
            console.print(f"  {line}", markup=False, highlight=False)
    return code or EXIT_CHECK_FAILED


def main(argv: list[str] | None = None) -> None:
    """``python -m sagemaker_async_results.local.demo [options]`` is ``async-results demo [options]``."""
    from sagemaker_async_results.cli import main as cli_main

    cli_main(["demo", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
