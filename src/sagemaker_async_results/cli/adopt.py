"""``config``, ``attach``, ``detach``: use the results pipeline from endpoints deployed by any tool.

``config`` prints what to give the SageMaker Python SDK (v2 and v3), boto3 or Terraform so that a new
endpoint delivers its results to the pipeline, and the grants its execution role needs. ``attach``
points an endpoint that already runs at the pipeline (a copy of its config with the pipeline's paths
and topics, swapped in with ``UpdateEndpoint`` under ``--apply``); ``detach`` swaps the previous config
back. The pipeline is found from its stack's outputs (``--stack-name``, else the one pipeline in the
account and region).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import click

from sagemaker_async_results.adopt.attach import (
    AttachRefused,
    Plan,
    Refusal,
    apply,
    plan_attach,
    plan_detach,
)
from sagemaker_async_results.adopt.pipeline import PipelineNotFoundError, PipelineOutputs
from sagemaker_async_results.adopt.snippets import FORMATS, RENDERERS, render
from sagemaker_async_results.cli.aws import CliError
from sagemaker_async_results.cli.exit_codes import ExitCode, epilog
from sagemaker_async_results.cli.output import emit

if TYPE_CHECKING:
    from sagemaker_async_results.cli.commands import State

_REFUSAL_CODES = {
    Refusal.NOT_ASYNC: ExitCode.NOT_ASYNC,
    Refusal.BUSY: ExitCode.ENDPOINT_BUSY,
    Refusal.MISSING_GRANTS: ExitCode.MISSING_GRANTS,
    Refusal.NOT_ATTACHED: ExitCode.NOT_ATTACHED,
}


def _state(ctx: click.Context) -> State:
    """The global options (``commands`` imports this module, so its ``State`` is not imported here)."""
    return cast("State", ctx.find_root().obj)


def _pipeline(ctx: click.Context, stack: str | None) -> PipelineOutputs:
    from botocore.exceptions import ClientError

    state = _state(ctx)
    session = state.aws.session()
    state.aws.require_credentials(session)
    cloudformation = state.aws.client(session, "cloudformation")
    name = stack or state.stack_name
    try:
        return PipelineOutputs.from_stack(cloudformation, name, state.output_prefix)
    except PipelineNotFoundError as error:
        raise CliError(ExitCode.NOT_FOUND, f"{error}: pass --stack-name") from None
    except ClientError as error:
        if "does not exist" in str(error):
            raise CliError(
                ExitCode.NOT_FOUND, f"no stack {name!r} in {session.region_name}: check --stack-name"
            ) from None
        raise


def _clients(ctx: click.Context, *services: str) -> list[Any]:
    state = _state(ctx)
    session = state.aws.session()
    return [state.aws.client(session, service) for service in services]


_STACK_OPTION = click.option(
    "--stack", help="Stack holding the results pipeline (default: --stack-name, else the only one)."
)


@click.command(epilog=epilog())
@_STACK_OPTION
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default="all",
    show_default=True,
    help="Which tool's configuration to print.",
)
@click.pass_context
def config(ctx: click.Context, stack: str | None, format_: str) -> None:
    """Print the async inference config (and IAM grants) that delivers an endpoint's results here.

    The SageMaker Python SDK v2 (sagemaker.async_inference.AsyncInferenceConfig), v3
    (sagemaker.core.inference_config.AsyncInferenceConfig), boto3 (create_endpoint_config's
    AsyncInferenceConfig), Terraform (aws_sagemaker_endpoint_configuration's async_inference_config),
    and the statements the endpoint's execution role needs. With --output json: one object by format.
    """
    pipeline = _pipeline(ctx, stack)
    # Code is printed as is; JSON only when asked for (--output is json by default, for data).
    asked = ctx.find_root().get_parameter_source("output") != click.core.ParameterSource.DEFAULT
    if asked and _state(ctx).output == "json":
        names = list(RENDERERS) if format_ == "all" else [format_]
        emit({name: render(pipeline, name) for name in names}, "json")
        return
    click.echo(render(pipeline, format_))


def _show(plan: Plan, applied: bool) -> None:
    for note in plan.notes:
        click.echo(f"{plan.endpoint_name}: {note}", err=True)
    if plan.diff:
        click.echo(plan.diff)
    if plan.new_config == plan.current_config:
        return
    if applied:
        click.echo(
            f"endpoint {plan.endpoint_name}: updating from {plan.current_config} to {plan.new_config} "
            "(SageMaker swaps the config without downtime; `aws sagemaker wait endpoint-in-service` "
            "waits for it)",
            err=True,
        )
    else:
        click.echo(
            f"endpoint {plan.endpoint_name}: would swap {plan.current_config} for {plan.new_config}; "
            "nothing changed: run again with --apply",
            err=True,
        )


def _refused(error: AttachRefused) -> CliError:
    return CliError(_REFUSAL_CODES[error.reason], str(error))


@click.command(epilog=epilog())
@click.argument("endpoint")
@_STACK_OPTION
@click.option("--apply", "apply_", is_flag=True, help="Create the new config and call UpdateEndpoint.")
@click.option(
    "--skip-grant-check",
    is_flag=True,
    help="Do not read the execution role's and the topics' policies (when you may not read them).",
)
@click.pass_context
def attach(
    ctx: click.Context, endpoint: str, stack: str | None, apply_: bool, skip_grant_check: bool
) -> None:
    """Deliver the results of ENDPOINT (already running) to this pipeline.

    Prints the difference between its current endpoint config and the new one (only the output and
    failure paths, their key, the notification topics and IncludeInferenceResponseIn change); with
    --apply creates the new config, tagged with the one it replaces, and swaps it in (UpdateEndpoint).
    Refuses a real-time endpoint, one that is not InService, and one whose execution role lacks the
    pipeline's grants (the statements to add are printed).
    """
    pipeline = _pipeline(ctx, stack)
    sagemaker, iam, sns = _clients(ctx, "sagemaker", "iam", "sns")
    try:
        plan = plan_attach(sagemaker, iam, endpoint, pipeline, check_grants=not skip_grant_check, sns=sns)
    except AttachRefused as error:
        raise _refused(error) from None
    if apply_:
        apply(sagemaker, plan)
    _show(plan, apply_)


@click.command(epilog=epilog())
@click.argument("endpoint")
@click.option("--apply", "apply_", is_flag=True, help="Call UpdateEndpoint with the previous config.")
@click.pass_context
def detach(ctx: click.Context, endpoint: str, apply_: bool) -> None:
    """Swap ENDPOINT back to the endpoint config it served before `attach`.

    Prints the difference; with --apply calls UpdateEndpoint. The attached config is left in place
    (delete it with `aws sagemaker delete-endpoint-config` once the update is done).
    """
    (sagemaker,) = _clients(ctx, "sagemaker")
    try:
        plan = plan_detach(sagemaker, endpoint)
    except AttachRefused as error:
        raise _refused(error) from None
    if apply_:
        apply(sagemaker, plan)
    _show(plan, apply_)
