"""The ``async-results`` command group and its client commands: invoke, status, result, redrive, deploy-check.

Resources are found the way a user deployed them: ``--stack-name`` (the stack's outputs), or, without it,
the one stack in the account and region whose outputs are the construct's
(:data:`~sagemaker_async_results.contract.CLIENT_OUTPUTS`), or explicit names (``--endpoint-name``,
``--bucket``, ``--input-prefix``, ``--results-table``) without CloudFormation. Every option also reads an
``ASYNC_RESULTS_<OPTION>`` environment variable (e.g. ``ASYNC_RESULTS_STACK_NAME``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from sagemaker_async_results.cli.adopt import attach, config, detach
from sagemaker_async_results.cli.aws import AwsOptions, CliError, as_cli_error
from sagemaker_async_results.cli.deploy_check import deploy_check
from sagemaker_async_results.cli.exit_codes import ExitCode, epilog
from sagemaker_async_results.cli.local_commands import demo, serve
from sagemaker_async_results.cli.output import FORMATS, emit
from sagemaker_async_results.client.client import (
    AsyncInferenceClient,
    InferenceRecord,
    InferenceStatus,
    InferenceTimeoutError,
    ResourcesNotFoundError,
    StackResources,
    find_constructs,
)

_STATUS_CODES = {
    InferenceStatus.COMPLETED: ExitCode.OK,
    InferenceStatus.FAILED: ExitCode.FAILED,
    InferenceStatus.SUBMITTED: ExitCode.PENDING,
    InferenceStatus.EXPIRED: ExitCode.EXPIRED,
    InferenceStatus.UNKNOWN: ExitCode.UNKNOWN,
}


class _Group(click.Group):
    """Turns every known failure into one line on stderr and its :class:`ExitCode` (never a traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CliError as error:
            _fail(ctx, error)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as error:
            try:
                converted = as_cli_error(error)
            except Exception:
                raise error from None
            _fail(ctx, converted)


def _fail(ctx: click.Context, error: CliError) -> None:
    click.echo(f"async-results: {error.message}", err=True)
    ctx.exit(int(error.code))


@dataclass
class State:
    """Global options, shared by every command."""

    output: str
    aws: AwsOptions
    stack_name: str | None = None
    output_prefix: str | None = None
    endpoint_name: str | None = None
    bucket: str | None = None
    input_prefix: str | None = None
    results_table: str | None = None

    def client(self) -> AsyncInferenceClient:
        """The client for the construct the options name (see the module docstring)."""
        names = {
            "--endpoint-name": self.endpoint_name,
            "--bucket": self.bucket,
            "--input-prefix": self.input_prefix,
            "--results-table": self.results_table,
        }
        given = [option for option, value in names.items() if value]
        if given and len(given) < len(names):
            missing = sorted(set(names) - set(given))
            raise click.UsageError(f"{', '.join(given)} given without {', '.join(missing)}: pass all four")
        session = self.aws.session()
        self.aws.require_credentials(session)
        clients = {
            name: self.aws.client(session, name)
            for name in ("s3", "sagemaker-runtime", "dynamodb", "lambda", "sqs")
        }
        resources = self._resources(session) if not given else None
        if resources is None:
            resources = StackResources(
                endpoint_name=str(self.endpoint_name),
                bucket=str(self.bucket),
                input_prefix=str(self.input_prefix),
                results_table=str(self.results_table),
            )
        return AsyncInferenceClient(
            resources,
            s3=clients["s3"],
            sagemaker_runtime=clients["sagemaker-runtime"],
            dynamodb=clients["dynamodb"],
            lambda_client=clients["lambda"],
            sqs=clients["sqs"],
        )

    def _resources(self, session: Any) -> StackResources:
        from botocore.exceptions import ClientError

        cloudformation = self.aws.client(session, "cloudformation")
        region = session.region_name
        if self.stack_name:
            try:
                return StackResources.from_stack(cloudformation, self.stack_name, self.output_prefix)
            except ResourcesNotFoundError as error:
                raise CliError(ExitCode.NOT_FOUND, f"stack {self.stack_name}: {error}") from None
            except ClientError as error:
                if "does not exist" in str(error):
                    raise CliError(
                        ExitCode.NOT_FOUND, f"no stack {self.stack_name!r} in {region}: check --stack-name"
                    ) from None
                raise
        found = [c for c in find_constructs(cloudformation) if self.output_prefix in (None, c.prefix)]
        if len(found) == 1:
            return found[0].resources
        if not found:
            raise CliError(
                ExitCode.NOT_FOUND,
                f"no stack in {region} has the AsyncInferenceResults outputs: deploy one, pass --region, "
                "or pass --endpoint-name --bucket --input-prefix --results-table",
            )
        listed = ", ".join(f"{c.stack_name}" + (f" (prefix {c.prefix})" if c.prefix else "") for c in found)
        raise CliError(ExitCode.NOT_FOUND, f"several deployments in {region}: {listed}; pass --stack-name")


def _state(ctx: click.Context) -> State:
    state = ctx.find_object(State)
    assert state is not None
    return state


@click.group(cls=_Group, epilog=epilog(), context_settings={"auto_envvar_prefix": "ASYNC_RESULTS"})
@click.version_option(package_name="sagemaker-async-results", prog_name="async-results")
@click.option(
    "--output", type=click.Choice(FORMATS), default="json", show_default=True, help="Format of printed data."
)
@click.option("--region", help="AWS region (default: AWS_REGION, the profile's region).")
@click.option("--profile", help="Named AWS profile (default: AWS_PROFILE).")
@click.option("--endpoint-url", help="AWS-compatible endpoint for every service (e.g. a local emulator).")
@click.option(
    "--stack-name", help="Stack holding the construct (default: the one stack whose outputs match)."
)
@click.option("--output-prefix", help="Output prefix of the construct, when a stack holds several.")
@click.option("--endpoint-name", help="With --bucket, --input-prefix, --results-table: skip CloudFormation.")
@click.option("--bucket", help="Bucket holding inputs and outputs (with --endpoint-name).")
@click.option("--input-prefix", help="Key prefix for uploaded inputs (with --endpoint-name).")
@click.option("--results-table", help="DynamoDB results table (with --endpoint-name).")
@click.pass_context
def cli(
    ctx: click.Context,
    output: str,
    region: str | None,
    profile: str | None,
    endpoint_url: str | None,
    stack_name: str | None,
    output_prefix: str | None,
    endpoint_name: str | None,
    bucket: str | None,
    input_prefix: str | None,
    results_table: str | None,
) -> None:
    """Submit SageMaker asynchronous inferences and read their results; run the stack locally."""
    ctx.obj = State(
        output=output,
        aws=AwsOptions(region=region, profile=profile, endpoint_url=endpoint_url),
        stack_name=stack_name,
        output_prefix=output_prefix,
        endpoint_name=endpoint_name,
        bucket=bucket,
        input_prefix=input_prefix,
        results_table=results_table,
    )


def _record_view(record: InferenceRecord) -> dict[str, Any]:
    return {key: value for key, value in record.as_dict().items() if value not in (None, [], {})}


def _report_routing(record: InferenceRecord) -> None:
    if record.routing_failed:
        error = record.routing_error or {}
        click.echo(
            f"routing of {record.inference_id} failed"
            + (f" in {error['handler']}" if error.get("handler") else "")
            + f": {error.get('reason', 'unknown reason')}: {error.get('message', '')}".rstrip(": "),
            err=True,
        )


def _show_result(client: AsyncInferenceClient, record: InferenceRecord) -> ExitCode:
    if record.status == InferenceStatus.COMPLETED:
        body = client.fetch_body(record) or b""
        sys.stdout.buffer.write(body if body.endswith(b"\n") else body + b"\n")
        sys.stdout.flush()
    elif record.status == InferenceStatus.FAILED:
        click.echo(f"inference {record.inference_id} failed: {record.failure_reason}", err=True)
        error_body = client.fetch_body(record)
        if error_body:
            click.echo(error_body.decode(errors="replace"), err=True)
    elif record.status == InferenceStatus.EXPIRED:
        click.echo(
            f"inference {record.inference_id} expired: no notification by {record.expires_by} "
            "(RequestTTLSeconds + InvocationTimeoutSeconds)",
            err=True,
        )
    elif record.status == InferenceStatus.UNKNOWN:
        click.echo(f"no record of inference {record.inference_id}", err=True)
    else:
        click.echo(f"inference {record.inference_id} is still {record.status}", err=True)
    _report_routing(record)
    if record.status == InferenceStatus.COMPLETED and record.routing_failed:
        return ExitCode.ROUTING_FAILED
    return _STATUS_CODES[record.status]


def _wait(client: AsyncInferenceClient, inference_id: str, timeout: float) -> InferenceRecord:
    """The record once the result is in and its handlers are done (so a routing failure is seen)."""
    try:
        return client.wait(inference_id, timeout=timeout, routed=True)
    except InferenceTimeoutError as error:
        raise CliError(ExitCode.WAIT_TIMEOUT, str(error)) from None


@cli.command(epilog=epilog())
@click.argument("input_source", metavar="INPUT")
@click.option("--content-type", default="application/json", show_default=True)
@click.option("--accept")
@click.option("--inference-id")
@click.option("--custom-attributes")
@click.option("--ttl", type=click.IntRange(60, 21600), help="RequestTTLSeconds.")
@click.option("--timeout", type=click.IntRange(1, 3600), help="InvocationTimeoutSeconds.")
@click.option("--wait", is_flag=True, help="Wait for the result and print it (exit code = its status).")
@click.option("--wait-timeout", type=float, default=300.0, show_default=True, help="Seconds to wait.")
@click.pass_context
def invoke(
    ctx: click.Context,
    input_source: str,
    content_type: str,
    accept: str | None,
    inference_id: str | None,
    custom_attributes: str | None,
    ttl: int | None,
    timeout: int | None,
    wait: bool,
    wait_timeout: float,
) -> None:
    """Submit INPUT (a local file, uploaded under the input prefix, or an s3:// URI)."""
    if not input_source.startswith("s3://") and not Path(input_source).is_file():
        raise click.BadParameter(f"{input_source} is not a file or an s3:// URI", param_hint="INPUT")
    state = _state(ctx)
    client = state.client()
    source: Path | str = input_source if input_source.startswith("s3://") else Path(input_source)
    submission = client.invoke(
        source,
        content_type=content_type,
        accept=accept,
        inference_id=inference_id,
        custom_attributes=custom_attributes,
        ttl_seconds=ttl,
        invocation_timeout_seconds=timeout,
    )
    if not wait:
        emit(
            {
                "inferenceId": submission.inference_id,
                "inputLocation": submission.input_location,
                "outputLocation": submission.output_location,
                "failureLocation": submission.failure_location,
                "submittedAt": submission.submitted_at.isoformat(),
            },
            state.output,
        )
        return
    ctx.exit(int(_show_result(client, _wait(client, submission.inference_id, wait_timeout))))


@cli.command(epilog=epilog())
@click.argument("inference_id")
@click.pass_context
def status(ctx: click.Context, inference_id: str) -> None:
    """Print the result record of INFERENCE_ID (status, locations, routing)."""
    state = _state(ctx)
    record = state.client().status(inference_id)
    if record.status == InferenceStatus.UNKNOWN:
        click.echo(f"no record of inference {inference_id}", err=True)
        ctx.exit(int(ExitCode.UNKNOWN))
    emit(_record_view(record), state.output, title=f"Inference {inference_id}")
    _report_routing(record)


@cli.command(epilog=epilog())
@click.argument("inference_id")
@click.option("--wait", is_flag=True, help="Wait for the result first.")
@click.option("--wait-timeout", type=float, default=300.0, show_default=True)
@click.pass_context
def result(ctx: click.Context, inference_id: str, wait: bool, wait_timeout: float) -> None:
    """Print the output of INFERENCE_ID, or its failure and reason (exit code = its status)."""
    client = _state(ctx).client()
    record = _wait(client, inference_id, wait_timeout) if wait else client.status(inference_id)
    ctx.exit(int(_show_result(client, record)))


@cli.command(epilog=epilog())
@click.option("--function", "kind", type=click.Choice(["success", "error", "both"]), default="both")
@click.option("--max-messages", type=click.IntRange(1), default=100, show_default=True)
@click.pass_context
def redrive(ctx: click.Context, kind: str, max_messages: int) -> None:
    """Replay dead-lettered events through the result-handler function."""
    state = _state(ctx)
    client = state.client()
    kinds = ["success", "error"] if kind == "both" else [kind]
    missing = [k for k in kinds if k not in client.resources.dead_letter_queues]
    if missing:
        raise CliError(
            ExitCode.NOT_FOUND,
            f"no dead-letter queue of the {'/'.join(missing)} function: redrive needs the stack's outputs "
            "(--stack-name), not explicit names",
        )
    reports = []
    for name in kinds:
        report = client.redrive(name, max_messages=max_messages)
        reports.append(
            {
                "function": name,
                "replayed": report.replayed,
                "stillFailing": report.still_failing,
                "errors": list(report.errors),
            }
        )
    emit(reports if len(reports) > 1 else reports[0], state.output, title="Redrive")
    ctx.exit(int(ExitCode.REDRIVE_FAILING if any(r["stillFailing"] for r in reports) else ExitCode.OK))


cli.add_command(deploy_check)
cli.add_command(config)
cli.add_command(attach)
cli.add_command(detach)
cli.add_command(serve)
cli.add_command(demo)
