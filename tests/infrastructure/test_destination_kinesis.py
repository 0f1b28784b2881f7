"""The Kinesis destination construct: encrypted stream or existing one, exact grants, environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from sagemaker_async_results.cdk import AsyncInferenceResults, PropsError
from sagemaker_async_results.cdk.config import ConfigError, parse_context
from sagemaker_async_results.cdk.destinations import KinesisDestination, destinations_from_config
from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from sagemaker_async_results.runtime.destinations.kinesis import STREAM_ARN_ENV
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING, synthesize

HANDLERS = PROJECT_ROOT / "functions" / "handlers"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/results"


def _template(destination: KinesisDestination, outdir: Path) -> dict[str, Any]:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(outdir))
    stack = cdk.Stack(app, "Consumer")
    AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, destinations=[destination])
    add_aws_solutions_checks(app)
    app.synth()  # cdk-nag: raises on any unacknowledged finding
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def _put_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if "kinesis" in str(statement["Action"])
    ]


def _handler_envs(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and str(r["Properties"].get("Handler", "")).startswith("sagemaker_async_results.")
    ]


def test_created_stream_is_encrypted_with_the_construct_key_and_only_put_record_is_granted(
    tmp_path: Path,
) -> None:
    template = _template(KinesisDestination(), tmp_path)
    streams = [r for r in template["Resources"].values() if r["Type"] == "AWS::Kinesis::Stream"]
    (stream,) = streams
    (stream_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Kinesis::Stream"]
    (key_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
    encryption = stream["Properties"]["StreamEncryption"]
    assert encryption["EncryptionType"] == "KMS"
    assert encryption["KeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert stream["Properties"]["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    statements = _put_statements(template)
    assert len(statements) == 3  # one per function: success, error, recovery
    for statement in statements:
        assert statement["Action"] == ["kinesis:PutRecord", "kinesis:PutRecords"]
        assert statement["Resource"] == {"Fn::GetAtt": [stream_id, "Arn"]}
    for env in _handler_envs(template):
        assert env[STREAM_ARN_ENV] == {"Fn::GetAtt": [stream_id, "Arn"]}
    assert template["Outputs"]["ResultsStreamArn"]["Value"] == {"Fn::GetAtt": [stream_id, "Arn"]}


def test_existing_stream_is_not_created_and_its_key_is_granted_exactly(tmp_path: Path) -> None:
    app = cdk.App(context=SKIP_BUNDLING)
    key = kms.Key.from_key_arn(
        cdk.Stack(app, "Keys"),
        "StreamKey",
        "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555",
    )
    template = _template(
        KinesisDestination(existing_stream_arn=STREAM_ARN, existing_stream_key=key), tmp_path
    )
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::Kinesis::Stream"]
    assert {s["Resource"] for s in _put_statements(template)} == {STREAM_ARN}
    for env in _handler_envs(template):
        assert env[STREAM_ARN_ENV] == STREAM_ARN
    key_grants = [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Resource") == key.key_arn
    ]
    assert [s["Action"] for s in key_grants] == ["kms:GenerateDataKey"] * 3  # one per function


def test_prop_errors_are_reported_at_once() -> None:
    stack = cdk.Stack(cdk.App(), "S")
    imported = kinesis.Stream.from_stream_arn(stack, "Stream", STREAM_ARN)
    with pytest.raises(PropsError) as caught:
        KinesisDestination(
            existing_stream=imported, existing_stream_arn=STREAM_ARN, retention=cdk.Duration.days(2)
        )
    assert len(caught.value.problems) == 2
    assert "either existing_stream or existing_stream_arn" in caught.value.problems[0]
    assert "retention" in caught.value.problems[1]
    with pytest.raises(PropsError, match="existing_stream_key: only with"):
        KinesisDestination(
            existing_stream_key=kms.Key.from_key_arn(stack, "K", "arn:aws:kms:us-east-1:123456789012:key/k")
        )


def test_context_switches_it_on_and_checks_the_stream_arn(tmp_path: Path) -> None:
    created = destinations_from_config(
        parse_context({"destinations": {"kinesis": {"enabled": True}}}).destinations
    )
    (kinesis,) = [d for d in created if isinstance(d, KinesisDestination)]
    assert kinesis.existing_stream_arn is None
    existing = parse_context(
        {"destinations": {"kinesis": '{"enabled": true, "streamArn": "' + STREAM_ARN + '"}'}}
    )
    (kinesis,) = [
        d for d in destinations_from_config(existing.destinations) if isinstance(d, KinesisDestination)
    ]
    assert kinesis.existing_stream_arn == STREAM_ARN
    assert not any(
        isinstance(d, KinesisDestination) for d in destinations_from_config(parse_context({}).destinations)
    )
    with pytest.raises(ConfigError, match=r"destinations\.kinesis\.streamArn: expected a Kinesis stream ARN"):
        parse_context({"destinations": {"kinesis": {"enabled": True, "streamArn": "results"}}})
    sample = synthesize(
        {"destinations": {"kinesis": {"enabled": True}}}, tmp_path
    )  # the sample app, with cdk-nag
    sample.template.resource_count_is("AWS::Kinesis::Stream", 1)
