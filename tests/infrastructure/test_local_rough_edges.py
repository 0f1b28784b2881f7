"""What a new user's own app met in the local run: the documented imports work, the demo's summary names
every destination the app routes to, and the demo reports the delivery mode the app really deploys."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

from sagemaker_async_results.cdk import AsyncInferenceResults, DeliveryProps, KinesisDestination
from sagemaker_async_results.cdk.summary import summarize
from sagemaker_async_results.local.serve import requested_mode, synthesized_mode
from sagemaker_async_results.local.synth import CdkApp
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING

HANDLERS = PROJECT_ROOT / "functions" / "handlers"


def _synth(outdir: Path, **props: object) -> dict:  # type: ignore[type-arg]
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(outdir))
    stack = cdk.Stack(app, "Consumer")
    AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, **props)  # type: ignore[arg-type]
    return app.synth().get_stack_by_name("Consumer").template  # type: ignore[no-any-return]


def test_the_readme_import_of_the_kinesis_destination_works() -> None:
    assert KinesisDestination.__module__.startswith("sagemaker_async_results.cdk")


def test_an_app_built_in_code_reports_its_buffered_mode_and_its_kinesis_destination(tmp_path: Path) -> None:
    template = _synth(tmp_path, delivery=DeliveryProps(mode="buffered"), destinations=[KinesisDestination()])
    summary = summarize(template)
    destinations = next(line for line in summary.splitlines() if line.startswith("Destinations:"))
    assert "Kinesis stream" in destinations, summary
    assert "result store (DynamoDB)" in destinations
    # The demo and serve name the mode from the synthesized template, not from cdk.json's context.
    assert synthesized_mode(tmp_path) == "buffered"


def test_a_direct_app_is_direct_and_recovery_does_not_count(tmp_path: Path) -> None:
    _synth(tmp_path)
    assert synthesized_mode(tmp_path) == "direct"


def test_only_a_requested_or_configured_mode_overrides_the_app(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text('{"app": "python app.py"}')
    assert requested_mode(CdkApp(tmp_path), None) is None
    assert requested_mode(CdkApp(tmp_path), "buffered") == "buffered"
    (tmp_path / "cdk.json").write_text(
        '{"app": "python app.py", "context": {"delivery": {"mode": "buffered"}}}'
    )
    assert requested_mode(CdkApp(tmp_path), None) == "buffered"


def test_deploy_check_reads_the_region_from_aws_region(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``AWS_REGION=eu-west-1 async-results deploy-check`` used to exit 10 "no AWS region" (boto3 reads
    only AWS_DEFAULT_REGION); it must get as far as the credentials check in eu-west-1."""
    from click.testing import CliRunner

    from sagemaker_async_results.cli.commands import cli
    from sagemaker_async_results.cli.exit_codes import ExitCode

    empty = tmp_path / "empty"
    empty.write_text("")
    for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = CliRunner().invoke(cli, ["deploy-check", "--app-dir", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == ExitCode.NO_CREDENTIALS, result.stderr
    assert "no AWS region" not in result.stderr
