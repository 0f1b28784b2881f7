"""``async-results serve`` and ``async-results demo``: the CDK app in the current folder, run locally.

Both synthesize the app with its own ``cdk.json`` (or ``--app-dir``), deploy it into an embedded AWS
(moto) or the AWS-compatible endpoint of ``--endpoint-url``, and run the app's own result handlers. They
import the ``[local]`` extra only when run, so the rest of the command line works without it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from sagemaker_async_results.cli.aws import CliError
from sagemaker_async_results.cli.exit_codes import ExitCode, epilog

_LOCAL_HINT = "pip install 'sagemaker-async-results[local]'"


@contextmanager
def _local_errors() -> Iterator[None]:
    """One line for each way the local run fails before it runs: a missing extra, the app, the deploy."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in ("moto", "cfnlint", "werkzeug", "flask", "rich"):
            raise CliError(
                ExitCode.MISSING_EXTRA,
                f"the local run needs the [local] extra ({error.name} is missing): {_LOCAL_HINT}",
            ) from None
        raise
    except Exception as error:
        from sagemaker_async_results.local.deploy import DeployError
        from sagemaker_async_results.local.synth import CdkAppError

        if isinstance(error, CdkAppError | DeployError):
            raise CliError(ExitCode.APP_ERROR, str(error)) from None
        raise


def _import_local() -> None:
    """Fail early, with the install hint, when the ``[local]`` extra is missing."""
    import moto
    import moto.server  # noqa: F401


def _local_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--app-dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="The CDK app's folder (default: the current one).",
        ),
        click.option(
            "--delivery",
            type=click.Choice(["direct", "buffered"]),
            help="Delivery mode (default: cdk.json's delivery.mode).",
        ),
        click.option("--model", help="package.module:function to run instead of the sample model."),
        click.option("--no-bundle", is_flag=True, help="Skip bundling the Lambda dependencies (faster)."),
        click.option("--stack", "stack", help="Stack of the app to deploy, when it has several."),
        click.option(
            "--no-iam",
            is_flag=True,
            help="Do not enforce permissions (by default each function runs with its execution role's "
            "credentials and every request is checked against its policies, as in AWS).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command(epilog=epilog())
@_local_options
@click.pass_context
def serve(
    ctx: click.Context,
    app_dir: Path | None,
    delivery: str | None,
    model: str | None,
    no_bundle: bool,
    stack: str | None,
    no_iam: bool,
) -> None:
    """Deploy the app locally and keep it running for the CLI, the AWS CLI and your own code."""
    with _local_errors():
        _import_local()
        from sagemaker_async_results.local.serve import serve as run_serve

        ctx.exit(
            int(
                run_serve(
                    app_dir=app_dir,
                    delivery=delivery,
                    model=model,
                    bundle=not no_bundle,
                    stack_name=stack,
                    endpoint_url=ctx.obj.aws.endpoint_url,
                    region=ctx.obj.aws.region,
                    iam=not no_iam,
                )
            )
        )


@click.command(epilog=epilog())
@_local_options
@click.option("--count", type=click.IntRange(1), default=24, show_default=True, help="Inferences to submit.")
@click.option(
    "--concurrency", type=click.IntRange(1), default=8, show_default=True, help="Requests in flight."
)
@click.option(
    "--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for each result."
)
@click.option("--no-summary", is_flag=True, help="Do not print what the stack deploys.")
@click.option(
    "--lose-notifications",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Drop this many result notifications at the endpoint (output written, nothing published) "
    "to show recovery routing them from S3, once.",
)
@click.pass_context
def demo(
    ctx: click.Context,
    app_dir: Path | None,
    delivery: str | None,
    model: str | None,
    no_bundle: bool,
    stack: str | None,
    no_iam: bool,
    count: int,
    concurrency: int,
    timeout: float,
    no_summary: bool,
    lose_notifications: int,
) -> None:
    """Run the app end to end locally: submit a mix of inferences, show where each result went."""
    with _local_errors():
        _import_local()
        from sagemaker_async_results.local.demo import run_demo

        ctx.exit(
            int(
                run_demo(
                    app_dir=app_dir,
                    delivery=delivery,
                    model=model,
                    bundle=not no_bundle,
                    stack_name=stack,
                    endpoint_url=ctx.obj.aws.endpoint_url,
                    region=ctx.obj.aws.region,
                    count=count,
                    concurrency=concurrency,
                    timeout=timeout,
                    summary=not no_summary,
                    lose_notifications=lose_notifications,
                    iam=not no_iam,
                )
            )
        )
