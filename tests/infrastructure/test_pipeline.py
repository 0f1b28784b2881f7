"""``AsyncResultsPipeline`` on its own and with endpoints plugged in: an SDK-deployed endpoint's role given
by ARN, several endpoints on one pipeline, an existing bucket with prefixes, and the props' errors."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from sagemaker_async_results import contract
from sagemaker_async_results.cdk import (
    AsyncResultsEndpoint,
    AsyncResultsPipeline,
    PropsError,
)
from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING

HANDLERS = PROJECT_ROOT / "functions" / "handlers"
SDK_ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20260101"


def _of_type(template: Mapping[str, Any], type_name: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def _topic_statements(template: Mapping[str, Any]) -> list[list[dict[str, Any]]]:
    """Statements of the success and error topics' policies (not the alarm topic's)."""
    result_topics = {
        logical_id
        for logical_id, topic in _of_type(template, "AWS::SNS::Topic").items()
        if str(topic["Properties"].get("TopicName", "")).endswith(("-success", "-error"))
    }
    return [
        policy["Properties"]["PolicyDocument"]["Statement"]
        for policy in _of_type(template, "AWS::SNS::TopicPolicy").values()
        if {t["Ref"] for t in policy["Properties"]["Topics"]} <= result_topics
    ]


def _synth_with_nag(tmp_path: Path, build: Any) -> dict[str, Any]:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(tmp_path))
    stack = cdk.Stack(app, "Pipeline")
    build(stack)
    add_aws_solutions_checks(app)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def test_a_pipeline_alone_has_no_endpoint_and_passes_cdk_nag(tmp_path: Path) -> None:
    template = _synth_with_nag(
        tmp_path, lambda stack: AsyncResultsPipeline(stack, "Results", name="shared", handlers_dir=HANDLERS)
    )
    for sagemaker_type in (
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
    ):
        assert not _of_type(template, sagemaker_type)
    topics = {t["Properties"].get("TopicName") for t in _of_type(template, "AWS::SNS::Topic").values()}
    assert {"shared-success", "shared-error"} <= topics
    outputs = set(template["Outputs"])
    assert contract.OUTPUT_ENDPOINT_NAME not in outputs  # the caller names the endpoint
    assert set(contract.CLIENT_OUTPUTS) <= outputs
    assert {
        contract.OUTPUT_SUCCESS_TOPIC_ARN,
        contract.OUTPUT_ERROR_TOPIC_ARN,
        contract.OUTPUT_ENCRYPTION_KEY_ARN,
        contract.OUTPUT_PUBLISHER_POLICY_ARN,
        contract.OUTPUT_OUTPUT_PREFIX,
        contract.OUTPUT_FAILURE_PREFIX,
    } <= outputs
    # No publisher known: the topics carry only the TLS-only statement, so a role of the account that
    # holds the publisher policy can publish.
    assert len(_topic_statements(template)) == 2
    for statements in _topic_statements(template):
        assert [
            s.get("Sid") for s in statements if s["Effect"] == "Allow" or "aws:PrincipalArn" in str(s)
        ] == []


def test_an_sdk_deployed_endpoints_role_gets_the_publisher_policy_and_only_it_may_publish(
    tmp_path: Path,
) -> None:
    template = _synth_with_nag(
        tmp_path,
        lambda stack: AsyncResultsPipeline(
            stack,
            "Results",
            handlers_dir=HANDLERS,
            endpoint_names=["sdk-endpoint"],
            execution_roles=[SDK_ROLE],
        ),
    )
    (policy,) = [
        p for k, p in _of_type(template, "AWS::IAM::ManagedPolicy").items() if "PublisherPolicy" in k
    ]
    assert policy["Properties"]["Roles"] == ["AmazonSageMaker-ExecutionRole-20260101"]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert set(statements) == {"ReadInputs", "WriteOutputsAndFailures", "PublishNotifications", "UseKey"}
    assert statements["PublishNotifications"]["Action"] == "sns:Publish"
    assert statements["WriteOutputsAndFailures"]["Action"] == ["s3:PutObject", "s3:AbortMultipartUpload"]
    assert len(_topic_statements(template)) == 2
    for statements_of_topic in _topic_statements(template):
        by_sid = {s.get("Sid"): s for s in statements_of_topic}
        assert by_sid["AllowPublishBySageMakerExecutionRole"]["Principal"] == {"AWS": SDK_ROLE}
        deny = by_sid["DenyPublishByAnyoneElse"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": SDK_ROLE}}
    # Exactly one endpoint: it is the client's default, and it is watched.
    assert template["Outputs"][contract.OUTPUT_ENDPOINT_NAME]["Value"] == "sdk-endpoint"
    alarms = [
        a["Properties"].get("AlarmDescription", "")
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    assert any(d.startswith("sdk-endpoint: a queued request is older than") for d in alarms)


def test_several_endpoints_publish_into_one_pipeline(tmp_path: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        pipeline = AsyncResultsPipeline(stack, "Results", handlers_dir=HANDLERS, execution_roles=[SDK_ROLE])
        AsyncResultsEndpoint(stack, "Scorer", pipeline=pipeline, endpoint_name="scorer")
        AsyncResultsEndpoint(stack, "Ranker", pipeline=pipeline, endpoint_name="ranker", autoscaling=None)

    template = _synth_with_nag(tmp_path, build)
    configs = _of_type(template, "AWS::SageMaker::EndpointConfig")
    assert len(configs) == 2
    topic_refs = {
        str(c["Properties"]["AsyncInferenceConfig"]["OutputConfig"]["NotificationConfig"]["SuccessTopic"])
        for c in configs.values()
    }
    assert len(topic_refs) == 1  # both notify the same success topic
    for statements in _topic_statements(template):
        by_sid = {s.get("Sid"): s for s in statements}
        allowed = by_sid["AllowPublishBySageMakerExecutionRole"]["Principal"]["AWS"]
        denied_except = by_sid["DenyPublishByAnyoneElse"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        assert len(allowed) == 3  # the SDK endpoint's role and both created roles
        assert allowed == denied_except  # the Deny spares exactly the allowed publishers
    descriptions = {
        a["Properties"]["AlarmDescription"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    for endpoint in ("scorer", "ranker"):
        assert any(d.startswith(f"{endpoint}: a queued request is older than") for d in descriptions)
    # Two endpoints: no single default endpoint for clients.
    assert contract.OUTPUT_ENDPOINT_NAME not in template["Outputs"]
    assert len(_of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget")) == 1


def test_an_existing_bucket_with_its_own_prefixes(tmp_path: Path) -> None:
    def build(stack: cdk.Stack) -> None:
        bucket = s3.Bucket.from_bucket_name(stack, "Existing", "ml-team-bucket")
        AsyncResultsPipeline(
            stack,
            "Results",
            handlers_dir=HANDLERS,
            existing_bucket=bucket,
            input_key_prefix="scorer/in/",
            output_key_prefix="scorer/out/",
            failure_key_prefix="scorer/err/",
            execution_roles=[iam.Role.from_role_arn(stack, "Role", SDK_ROLE)],
        )

    template = _synth_with_nag(tmp_path, build)
    assert not _of_type(template, "AWS::S3::Bucket")
    assert template["Outputs"][contract.OUTPUT_BUCKET_NAME]["Value"] == "ml-team-bucket"
    (policy,) = [
        p for k, p in _of_type(template, "AWS::IAM::ManagedPolicy").items() if "PublisherPolicy" in k
    ]
    writes = next(
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "WriteOutputsAndFailures"
    )
    rendered = str(writes["Resource"])
    assert "ml-team-bucket/scorer/out/*" in rendered
    assert "ml-team-bucket/scorer/err/*" in rendered


def test_every_prop_problem_is_reported_at_once() -> None:
    stack = cdk.Stack(cdk.App(context=SKIP_BUNDLING), "Pipeline")
    with pytest.raises(PropsError) as raised:
        AsyncResultsPipeline(
            stack,
            "Results",
            name="bad_name",
            endpoint_names=["ok-endpoint", "no spaces"],
            handlers_dir=HANDLERS,
            output_key_prefix="async-inference/",
        )
    message = str(raised.value)
    assert "AsyncResultsPipeline" in message
    assert "name: expected 1-63 letters, digits or hyphens, received 'bad_name'" in message
    assert "endpoint_names: expected 1-63 letters, digits or hyphens, received 'no spaces'" in message
    assert "expected prefixes that do not overlap" in message


def test_an_endpoints_props_are_checked_together() -> None:
    stack = cdk.Stack(cdk.App(context=SKIP_BUNDLING), "Pipeline")
    pipeline = AsyncResultsPipeline(stack, "Results", handlers_dir=HANDLERS)
    with pytest.raises(PropsError) as raised:
        AsyncResultsEndpoint(
            stack,
            "Bad",
            pipeline=pipeline,
            endpoint_name="-bad",
            existing_model_name="m",
            log_retention_days=2,
        )
    message = str(raised.value)
    assert "endpoint_name: expected 1-63 letters" in message
    assert "existing_model_role: required with existing_model_name" in message
    assert "days, received 2" in message


@pytest.mark.parametrize(("mode", "log_groups"), [("create", 1), ("existing", 0), ("sagemaker", 0)])
def test_the_endpoint_log_group_from_context(mode: str, log_groups: int) -> None:
    """A redeploy after an endpoint of the same name ran can adopt its log group instead of failing."""
    from sagemaker_async_results.cdk import AsyncInferenceResults, parse_context

    stack = cdk.Stack(cdk.App(context=SKIP_BUNDLING), "FromContext")
    AsyncInferenceResults.from_config(
        stack, "Results", parse_context({"endpointLogGroup": mode}), handlers_dir=HANDLERS
    )
    template = Template.from_stack(stack).to_json()
    endpoint_groups = [
        g
        for g in _of_type(template, "AWS::Logs::LogGroup").values()
        if str(g["Properties"].get("LogGroupName", "")).startswith("/aws/sagemaker/Endpoints/")
    ]
    assert len(endpoint_groups) == log_groups
    with pytest.raises(Exception, match="endpointLogGroup"):
        parse_context({"endpointLogGroup": "maybe"})
