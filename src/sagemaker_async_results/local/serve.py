"""``async-results serve``: deploy a CDK app locally and keep it running for other processes.

Prints each start-up step as it happens, then everything a client needs: the endpoint, bucket, input
prefix and results table, the ``export`` lines that point boto3 (and the AWS CLI) at the local run, and
example commands.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import shlex
import signal
import sys
import time
from pathlib import Path

from sagemaker_async_results import contract
from sagemaker_async_results.local.emulator import ISOLATED_CONFIG, AwsTarget
from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.model import load_model
from sagemaker_async_results.local.synth import CdkApp


def _say(line: str) -> None:
    print(f"· {line}", file=sys.stderr, flush=True)


def _stack_dump_on_sigusr1() -> None:
    """``kill -USR1`` prints every thread's stack to stderr (when stderr is a real file)."""
    if not hasattr(signal, "SIGUSR1") or sys.__stderr__ is None:
        return
    with contextlib.suppress(AttributeError, OSError, ValueError):
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)


def requested_mode(app: CdkApp, requested: str | None) -> str | None:
    """``--delivery``, else the app's ``cdk.json`` ``delivery.mode``; ``None`` when neither says (the app
    then synthesizes as written: an app built in code may choose its mode itself)."""
    if requested:
        return requested
    delivery = app.context.get("delivery")
    mode = delivery.get("mode") if isinstance(delivery, dict) else None
    return str(mode) if mode else None


def synthesized_mode(outdir: Path) -> str:
    """The delivery mode the synthesized app deploys: its result handlers' ``DELIVERY_MODE`` setting
    (recovery's function, buffered in either mode, left out)."""
    modes = set()
    for template in outdir.glob("*.template.json"):
        resources = json.loads(template.read_text()).get("Resources", {})
        for resource in resources.values():
            if resource.get("Type") == "AWS::Lambda::Function":
                variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
                if contract.RECOVERY_ENDPOINT_NAME in variables:
                    continue  # recovery reads S3 events from a queue in either mode
                if isinstance(variables.get(contract.DELIVERY_MODE), str):
                    modes.add(variables[contract.DELIVERY_MODE])
    if len(modes) == 1:
        return modes.pop()
    return "+".join(sorted(modes)) if modes else "direct"


def synthesize(
    app: CdkApp, kind: str, delivery: str | None, bundle: bool, **context: object
) -> tuple[Path, str, float]:
    """Synthesize ``app`` into ``.build/<kind>[-<mode>].cdk.out``; returns the folder, the mode it deploys
    and the seconds it took. Only a requested mode overrides the app's context."""
    mode = requested_mode(app, delivery)
    outdir = app.directory / ".build" / (f"{kind}-{mode}.cdk.out" if mode else f"{kind}.cdk.out")
    overrides: dict[str, object] = dict(context)
    if mode:
        overrides["delivery"] = {"mode": mode}
    seconds = app.synthesize(outdir, overrides, bundle=bundle)
    return outdir, synthesized_mode(outdir), seconds


def serve(
    *,
    app_dir: Path | None = None,
    delivery: str | None = None,
    model: str | None = None,
    bundle: bool = True,
    stack_name: str | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
    iam: bool = True,
) -> int:
    """Run until interrupted; returns the exit code (0 after Ctrl-C).

    ``kill -USR1 <pid>`` prints every thread's stack to stderr (to see what a slow shutdown waits on).
    """
    app = CdkApp(app_dir)
    requested = requested_mode(app, delivery)
    _say(
        f"synthesizing {app.directory} ({f'{requested} delivery' if requested else 'delivery as the app sets it'}"
        f"{'' if bundle else ', no bundling'})…"
    )
    outdir, mode, seconds = synthesize(app, "serve", delivery, bundle)
    _say(f"synthesized into {outdir} in {seconds:.1f}s ({mode} delivery); deploying…")
    target = AwsTarget(endpoint_url, region or "us-east-1") if endpoint_url else None
    with LocalEnvironment(
        outdir,
        stack_name=stack_name,
        model=load_model(model),
        log_dir=app.directory / ".build" / "local-logs",
        target=target,
        progress=_say,
        check_handlers=True,
        iam=iam,
        emulator_process=True,
    ) as env:
        assert env.target is not None
        resources = env.resources
        sample_key = f"{resources.input_prefix}example.json"
        # A pipeline-only app has no endpoint of its own: one deployed against this run names it.
        endpoint = resources.endpoint_name or "<your-endpoint>"
        own_endpoint = resources.endpoint_name or "none in this app (deploy one with `async-results config`)"
        lines = [
            f"Local deployment of {env.deployed.name} ready ({mode} delivery).",
            f"  endpoint       {own_endpoint}",
            f"  bucket         {resources.bucket}",
            f"  input prefix   {resources.input_prefix}",
            f"  results table  {resources.results_table}",
            "",
            "In another shell (fake credentials; the local run never uses your AWS configuration):",
            "  unset AWS_PROFILE AWS_DEFAULT_PROFILE",
        ]
        lines += [
            f"  export {key}={shlex.quote(value)}"
            for key, value in sorted(env.target.environment().items())
            if key not in ISOLATED_CONFIG  # the shell's own config files may stay; the profile may not
        ]
        lines += [
            "",
            '  echo \'{"inputs": "a fine day"}\' > example.json',
            f"  async-results --stack-name {env.deployed.name} invoke example.json --wait"
            if resources.endpoint_name
            else f"  async-results --endpoint-name {endpoint} --bucket {resources.bucket} --input-prefix "
            f"{resources.input_prefix} --results-table {resources.results_table} invoke example.json --wait",
            f"  aws s3 cp example.json s3://{resources.bucket}/{sample_key}",
            f"  aws sagemaker-runtime invoke-endpoint-async --endpoint-name {endpoint} "
            f"--input-location s3://{resources.bucket}/{sample_key} --content-type application/json",
            "",
            "Ctrl-C to stop.",
        ]
        # Ctrl-C (or SIGTERM) only sets a flag, and the shutdown then runs as ordinary code. Not an
        # Event: a handler calling Event.set() deadlocks when the signal arrives while this thread holds
        # the Event's own lock inside Event.wait() (as when Ctrl-C comes right after the banner), and
        # the process never exits. A plain flag polled with sleep() takes no lock.
        stopping: list[int] = []
        previous = {
            sig: signal.signal(sig, lambda number, _frame: stopping.append(number))
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        _stack_dump_on_sigusr1()
        try:
            print("\n".join(lines), flush=True)
            while not stopping:
                time.sleep(0.2)
            _say("stopping…")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0
