"""``async-results deploy-check``: what ``cdk deploy`` needs, checked in seconds before it runs.

``cdk deploy`` without credentials retries for a long time and then names none of the fixes. This check
asks STS who the caller is and whether the CDK bootstrap is in place (the bootstrap version parameter, or
the ``CDKToolkit`` stack), with short timeouts and no retries, and prints the command that fixes each gap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from sagemaker_async_results.cli.aws import CliError, as_cli_error
from sagemaker_async_results.cli.exit_codes import ExitCode, epilog

#: The default synthesizer's qualifier (``cdk bootstrap`` uses it unless cdk.json names another).
DEFAULT_QUALIFIER = "hnb659fds"
QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"
TOOLKIT_STACK = "CDKToolkit"


def bootstrap_qualifier(app_dir: Path) -> str:
    """The bootstrap qualifier the app's cdk.json sets, else the CDK's default."""
    cdk_json = app_dir / "cdk.json"
    try:
        context = json.loads(cdk_json.read_text()).get("context", {})
    except (OSError, ValueError, AttributeError):
        return DEFAULT_QUALIFIER
    value = context.get(QUALIFIER_CONTEXT_KEY) if isinstance(context, dict) else None
    return str(value) if value else DEFAULT_QUALIFIER


def bootstrap_version(ssm: Any, cloudformation: Any, qualifier: str) -> str | None:
    """The bootstrap version found (``None``: not bootstrapped); AccessDenied on SSM falls back to the stack."""
    from botocore.exceptions import ClientError

    try:
        return str(ssm.get_parameter(Name=f"/cdk-bootstrap/{qualifier}/version")["Parameter"]["Value"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("ParameterNotFound", "AccessDeniedException"):
            raise
    try:
        stack = cloudformation.describe_stacks(StackName=TOOLKIT_STACK)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    if stack.get("StackStatus", "").startswith(("DELETE_", "ROLLBACK_")):
        return None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return outputs.get("BootstrapVersion", "unknown")


@click.command("deploy-check", epilog=epilog())
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    help="The CDK app's folder (its cdk.json may set the bootstrap qualifier).",
)
@click.pass_context
def deploy_check(ctx: click.Context, app_dir: Path) -> None:
    """Check credentials and the CDK bootstrap before `cdk deploy` (used by `make deploy`)."""
    aws = ctx.obj.aws
    session = aws.session()
    region = session.region_name
    aws.require_credentials(session)
    fast = {"connect_timeout": 3, "read_timeout": 10, "attempts": 1}
    try:
        identity = aws.client(session, "sts", **fast).get_caller_identity()
    except Exception as error:
        converted = as_cli_error(error)
        if converted.code == ExitCode.NO_CREDENTIALS:
            converted.message += " (then run this check again)"
        raise converted from None
    account = identity["Account"]
    click.echo(f"credentials: {identity['Arn']} (account {account}, region {region})")
    qualifier = bootstrap_qualifier(app_dir)
    version = bootstrap_version(
        aws.client(session, "ssm", **fast), aws.client(session, "cloudformation", **fast), qualifier
    )
    if version is None:
        raise CliError(
            ExitCode.NOT_BOOTSTRAPPED,
            f"account {account} is not bootstrapped for the CDK in {region} (qualifier {qualifier}): "
            f"run `npx cdk bootstrap aws://{account}/{region}` once, then deploy",
        )
    click.echo(f"CDK bootstrap: version {version} (qualifier {qualifier}); ready for `cdk deploy`")
