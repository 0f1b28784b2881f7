"""The ``async-results`` command line: exit codes, one-line errors, output formats, resource discovery.

AWS is moto in-process (``mock_aws``) where a service must answer; the failure cases point boto3 at
nothing (no region, no credentials, a closed port) and assert the documented exit code and a single line
on stderr, never a traceback.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from sagemaker_async_results import contract
from sagemaker_async_results.cli.commands import cli
from sagemaker_async_results.cli.exit_codes import ExitCode
from sagemaker_async_results.local.emulator import free_port

TABLE = "results"
NAMES = ["--endpoint-name", "ep", "--bucket", "bkt", "--input-prefix", "in/", "--results-table", TABLE]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_line_error(result: Result) -> str:
    """The single stderr line the CLI prints for a failure (and that there is no traceback)."""
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("async-results: ")
    return lines[0]


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No region, no credentials, no profile, no instance metadata: a fresh machine."""
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_exit_codes_are_distinct_and_documented_in_help() -> None:
    values = [code.value for code in ExitCode]
    assert len(values) == len(set(values))
    outcome = {ExitCode.OK, ExitCode.FAILED, ExitCode.PENDING, ExitCode.EXPIRED, ExitCode.UNKNOWN}
    outcome |= {ExitCode.WAIT_TIMEOUT, ExitCode.REDRIVE_FAILING}
    setup = {ExitCode.NO_REGION, ExitCode.NO_CREDENTIALS, ExitCode.UNREACHABLE, ExitCode.AWS_ERROR}
    assert not {c.value for c in outcome} & {c.value for c in setup | {ExitCode.USAGE}}
    for args in (["--help"], ["status", "--help"], ["invoke", "--help"]):
        text = run(*args).stdout
        assert "Exit codes:" in text
        for code in ExitCode:
            assert f"{code.value:>2}  " in text


def test_missing_region(no_aws_config: None) -> None:
    result = run("status", "abc")
    assert result.exit_code == ExitCode.NO_REGION
    assert "--region" in one_line_error(result)


def test_missing_credentials(no_aws_config: None) -> None:
    result = run("--region", "eu-west-1", "status", "abc")
    assert result.exit_code == ExitCode.NO_CREDENTIALS
    assert "aws configure" in one_line_error(result)


def test_unknown_profile(no_aws_config: None) -> None:
    result = run("--region", "eu-west-1", "--profile", "nope", "status", "abc")
    assert result.exit_code == ExitCode.NO_CREDENTIALS
    assert "nope" in one_line_error(result)


def test_unreachable_endpoint() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run("--endpoint-url", closed, "status", "abc")
    assert result.exit_code == ExitCode.UNREACHABLE
    assert closed in one_line_error(result)


def test_usage_errors_use_the_usage_code() -> None:
    assert run("--bucket", "b", "status", "abc").exit_code == ExitCode.USAGE
    assert run("status").exit_code == ExitCode.USAGE
    assert run("--output", "yaml", "status", "x").exit_code == ExitCode.USAGE
    assert run("invoke", "/no/such/file.json").exit_code == ExitCode.USAGE


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


def _put(dynamodb: Any, inference_id: str, **attributes: Any) -> None:
    item = {"pk": {"S": contract.result_key(inference_id)}, "inferenceId": {"S": inference_id}}
    item.update(attributes)
    dynamodb.put_item(TableName=TABLE, Item=item)


def test_aws_service_error(aws: Any) -> None:
    names = [*NAMES[:-1], "no-such-table"]
    result = run(*names, "status", "abc")
    assert result.exit_code == ExitCode.AWS_ERROR
    assert "ResourceNotFoundException" in one_line_error(result)


def test_status_in_each_output_format(aws: Any) -> None:
    _put(
        aws,
        "r1",
        status={"S": "Completed"},
        outputLocation={"S": "s3://bkt/out/r1.out"},
        routedTo={"L": [{"S": "resultStore"}]},
    )
    as_json = run(*NAMES, "--output", "json", "status", "r1")
    assert as_json.exit_code == ExitCode.OK
    document = json.loads(as_json.stdout)
    assert document["status"] == "Completed"
    assert document["routedTo"] == ["resultStore"]
    as_text = run(*NAMES, "--output", "text", "status", "r1")
    assert "status\tCompleted" in as_text.stdout.splitlines()
    assert "outputLocation\ts3://bkt/out/r1.out" in as_text.stdout.splitlines()
    as_table = run(*NAMES, "--output", "table", "status", "r1")
    assert "Completed" in as_table.stdout
    assert "s3://bkt/out/r1.out" in as_table.stdout


def test_result_exit_code_follows_the_status(aws: Any) -> None:
    _put(aws, "done", status={"S": "Completed"}, inlineBody={"B": b'{"label": "POSITIVE"}'})
    _put(aws, "bad", status={"S": "Failed"}, failureReason={"S": "ClientError: model said no"})
    _put(aws, "waiting", status={"S": "Submitted"})
    completed = run(*NAMES, "result", "done")
    assert completed.exit_code == ExitCode.OK
    assert json.loads(completed.stdout) == {"label": "POSITIVE"}
    failed = run(*NAMES, "result", "bad")
    assert failed.exit_code == ExitCode.FAILED
    assert "model said no" in failed.stderr
    assert run(*NAMES, "result", "waiting").exit_code == ExitCode.PENDING
    assert run(*NAMES, "result", "nobody").exit_code == ExitCode.UNKNOWN
    assert run(*NAMES, "status", "nobody").exit_code == ExitCode.UNKNOWN
    timed_out = run(*NAMES, "result", "waiting", "--wait", "--wait-timeout", "0.2")
    assert timed_out.exit_code == ExitCode.WAIT_TIMEOUT


def test_routing_failure_is_shown_by_status_and_result(aws: Any) -> None:
    routing_error = {
        "reason": {"S": "HandlerError"},
        "message": {"S": "handler handlers.billing.charge raised KeyError: 'customer'"},
        "handler": {"S": "handlers.billing.charge"},
    }
    _put(
        aws,
        "r2",
        status={"S": "Completed"},
        inlineBody={"B": b"{}"},
        routing={"S": contract.ROUTING_FAILED},
        routingError={"M": routing_error},
        routedTo={"L": [{"S": "resultStore"}]},
    )
    status = run(*NAMES, "status", "r2")
    assert status.exit_code == ExitCode.OK
    assert json.loads(status.stdout)["routingError"]["handler"] == "handlers.billing.charge"
    assert "routing of r2 failed in handlers.billing.charge: HandlerError" in status.stderr
    result = run(*NAMES, "result", "r2")
    assert result.exit_code == ExitCode.ROUTING_FAILED
    assert "KeyError" in result.stderr


def _stack(name: str, prefix: str = "") -> None:
    outputs = {
        prefix + contract.OUTPUT_ENDPOINT_NAME: f"{name}-endpoint",
        prefix + contract.OUTPUT_BUCKET_NAME: "bkt",
        prefix + contract.OUTPUT_INPUT_PREFIX: "in/",
        prefix + contract.OUTPUT_RESULTS_TABLE_NAME: TABLE,
    }
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_the_stack_is_found_by_its_outputs_whatever_its_name(aws: Any) -> None:
    _put(aws, "r3", status={"S": "Submitted"})
    assert run("status", "r3").exit_code == ExitCode.NOT_FOUND  # nothing deployed yet
    _stack("my-app-prod", prefix="Results")
    found = run("status", "r3")
    assert found.exit_code == ExitCode.OK, found.stderr
    _stack("my-app-staging")
    several = run("status", "r3")
    assert several.exit_code == ExitCode.NOT_FOUND
    message = one_line_error(several)
    assert "my-app-prod" in message
    assert "my-app-staging" in message
    assert "--stack-name" in message
    assert run("--stack-name", "my-app-staging", "status", "r3").exit_code == ExitCode.OK
    missing = run("--stack-name", "nope", "status", "r3")
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert "nope" in one_line_error(missing)


def test_deploy_check_without_credentials_is_fast_and_says_what_to_do(no_aws_config: None) -> None:
    started = time.monotonic()
    result = run("--region", "us-east-1", "deploy-check")
    assert time.monotonic() - started < 5, "no retries against AWS without credentials"
    assert result.exit_code == ExitCode.NO_CREDENTIALS
    assert "aws configure" in one_line_error(result)


def test_deploy_check_names_the_bootstrap_command(aws: Any, tmp_path: Path) -> None:
    missing = run("--region", "us-east-1", "deploy-check", "--app-dir", str(tmp_path))
    assert missing.exit_code == ExitCode.NOT_BOOTSTRAPPED
    assert "npx cdk bootstrap aws://123456789012/us-east-1" in one_line_error(missing)
    (tmp_path / "cdk.json").write_text(
        json.dumps({"context": {"@aws-cdk/core:bootstrapQualifier": "custom1"}})
    )
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name="/cdk-bootstrap/custom1/version", Value="30", Type="String"
    )
    ready = run("--region", "us-east-1", "deploy-check", "--app-dir", str(tmp_path))
    assert ready.exit_code == ExitCode.OK, ready.stderr
    assert "version 30 (qualifier custom1)" in ready.stdout


def test_local_commands_without_the_local_extra_print_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)
    result = run("demo")
    assert result.exit_code == ExitCode.MISSING_EXTRA
    assert "pip install 'sagemaker-async-results[local]'" in one_line_error(result)


def test_a_cdk_json_syntax_error_names_the_file_and_position(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text('{"app": "python app.py",\n "context": {,}}')
    result = run("serve", "--app-dir", str(tmp_path))
    assert result.exit_code == ExitCode.APP_ERROR
    message = one_line_error(result)
    assert f"{tmp_path / 'cdk.json'}:2:" in message
    assert "not valid JSON" in message


def test_a_failing_app_is_reported_without_its_traceback(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "def build():\n    raise ValueError('endpointName: expected at most 63 characters')\n\nbuild()\n"
    )
    (tmp_path / "cdk.json").write_text(json.dumps({"app": f"{sys.executable} app.py"}))
    result = run("demo", "--app-dir", str(tmp_path), "--no-bundle")
    assert result.exit_code == ExitCode.APP_ERROR
    assert "Traceback" not in result.stderr
    assert 'File "' not in result.stderr
    assert str(tmp_path / "cdk.json") in result.stderr
    assert "ValueError: endpointName: expected at most 63 characters" in result.stderr
    assert len(result.stderr.splitlines()) <= 3


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    import subprocess

    completed = subprocess.run(
        [sys.executable, "-m", "sagemaker_async_results.cli", "--bucket", "b", "status", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert completed.returncode == ExitCode.USAGE


def test_local_run_takes_the_delivery_mode_from_the_flag_else_the_apps_cdk_json(tmp_path: Path) -> None:
    """Without either, the app decides (an app built in code with ``DeliveryProps`` is not overridden)."""
    from sagemaker_async_results.local.serve import requested_mode
    from sagemaker_async_results.local.synth import CdkApp

    (tmp_path / "cdk.json").write_text(
        json.dumps({"app": "true", "context": {"delivery": {"mode": "buffered"}}})
    )
    app = CdkApp(tmp_path)
    assert requested_mode(app, None) == "buffered"
    assert requested_mode(app, "direct") == "direct"
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "true"}))
    assert requested_mode(CdkApp(tmp_path), None) is None


def test_demo_passes_lose_notifications_to_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run_demo(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    import sagemaker_async_results.local.demo as demo

    monkeypatch.setattr(demo, "run_demo", fake_run_demo)
    result = run("demo", "--lose-notifications", "3", "--no-summary")
    assert result.exit_code == 0, result.output
    assert seen["lose_notifications"] == 3
    assert run("demo", "--lose-notifications", "-1").exit_code == 2  # a count, never negative
