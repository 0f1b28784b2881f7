"""`async-results config`, `attach` and `detach` against moto, as a user runs them from the shell.

A results pipeline is a stack with the pipeline's outputs; the user's endpoint was deployed by another
tool through the SageMaker API, with its own output path and no notifications.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from sagemaker_async_results.adopt.attach import PREVIOUS_CONFIG_TAG
from sagemaker_async_results.adopt.grants import allows
from sagemaker_async_results.adopt.pipeline import PipelineOutputs
from sagemaker_async_results.adopt.snippets import async_inference_config, iam_policy, output_config
from sagemaker_async_results.cli.commands import cli
from sagemaker_async_results.cli.exit_codes import ExitCode
from sagemaker_async_results.local.sagemaker_api import support_update_endpoint

ACCOUNT = "123456789012"
STACK = "results-pipeline"
USER_CONFIG = "user-cfg"
VARIANT = {
    "VariantName": "AllTraffic",
    "ModelName": "user-model",
    "InitialInstanceCount": 2,
    "InstanceType": "ml.g4dn.xlarge",
}


@dataclass
class World:
    sagemaker: Any
    iam: Any
    pipeline: PipelineOutputs

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["--region", "us-east-1", *args], catch_exceptions=False)

    def serving(self, endpoint: str = "user-ep") -> str:
        return str(self.sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"])


def _pipeline_stack() -> None:
    template = {
        "Resources": {
            "Success": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "results-success"}},
            "Error": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "results-error"}},
        },
        "Outputs": {
            "SuccessTopicArn": {"Value": {"Ref": "Success"}},
            "ErrorTopicArn": {"Value": {"Ref": "Error"}},
            "BucketName": {"Value": "results-bucket"},
            "InputPrefix": {"Value": "async-inference/inputs/"},
            "OutputPrefix": {"Value": "async-inference/outputs/"},
            "FailurePrefix": {"Value": "async-inference/failures/"},
            "EncryptionKeyArn": {"Value": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/results"},
            "PublisherPolicyArn": {"Value": f"arn:aws:iam::{ACCOUNT}:policy/results-publisher"},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def _role(iam: Any, name: str, document: dict[str, Any] | None) -> str:
    arn = str(iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"])
    if document is not None:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(document))
    return arn


def _endpoint(sagemaker: Any, name: str, config: str, role: str, *, asynchronous: bool = True) -> None:
    model = f"{name}-model"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=role,
        PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/user:1"},
    )
    extra: dict[str, Any] = {}
    if asynchronous:
        extra["AsyncInferenceConfig"] = {
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 3},
            "OutputConfig": {"S3OutputPath": "s3://user-bucket/outputs/"},
        }
    sagemaker.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[{**VARIANT, "ModelName": model}],
        Tags=[{"Key": "team", "Value": "vision"}],
        **extra,
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)


@pytest.fixture
def world() -> Iterator[World]:
    support_update_endpoint()
    with mock_aws():
        _pipeline_stack()
        sagemaker, iam = boto3.client("sagemaker"), boto3.client("iam")
        pipeline = PipelineOutputs.from_stack(boto3.client("cloudformation"), STACK)
        _endpoint(sagemaker, "user-ep", USER_CONFIG, _role(iam, "granted", iam_policy(pipeline)))
        yield World(sagemaker, iam, pipeline)


def test_config_prints_the_snippets_of_the_only_pipeline(world: World) -> None:
    result = world.cli("config", "--format", "boto3")
    assert result.exit_code == 0, result.output
    namespace: dict[str, Any] = {}
    exec(result.output, namespace)
    assert namespace["async_inference_config"] == async_inference_config(world.pipeline)
    as_json = world.cli("--output", "json", "config")
    assert set(json.loads(as_json.output)) == {"sdk-v2", "sdk-v3", "boto3", "terraform", "iam"}
    missing = world.cli("config", "--stack", "nope")
    assert missing.exit_code == ExitCode.NOT_FOUND
    assert "no stack 'nope'" in missing.output


def test_attach_shows_the_difference_and_changes_nothing_without_apply(world: World) -> None:
    configs = world.sagemaker.list_endpoint_configs()["EndpointConfigs"]
    result = world.cli("attach", "user-ep")
    assert result.exit_code == 0, result.output
    assert '-      "S3OutputPath": "s3://user-bucket/outputs/"' in result.output
    assert '+      "S3OutputPath": "s3://results-bucket/async-inference/outputs/"' in result.output
    assert f'+        "SuccessTopic": "{world.pipeline.success_topic_arn}"' in result.output
    assert "MaxConcurrentInvocationsPerInstance" not in result.output.replace(' "Max', "")  # unchanged
    assert "run again with --apply" in result.output
    assert world.serving() == USER_CONFIG
    assert world.sagemaker.list_endpoint_configs()["EndpointConfigs"] == configs


def test_attach_apply_swaps_in_a_copy_that_differs_only_in_results_and_detach_restores(world: World) -> None:
    attached = world.cli("attach", "user-ep", "--apply")
    assert attached.exit_code == 0, attached.output
    new_name = world.serving()
    assert new_name.startswith(f"{USER_CONFIG}-results-")
    old = world.sagemaker.describe_endpoint_config(EndpointConfigName=USER_CONFIG)
    new = world.sagemaker.describe_endpoint_config(EndpointConfigName=new_name)
    assert new["ProductionVariants"] == old["ProductionVariants"]
    assert new["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 3}
    assert new["AsyncInferenceConfig"]["OutputConfig"] == output_config(world.pipeline)
    tags = {
        t["Key"]: t["Value"] for t in world.sagemaker.list_tags(ResourceArn=new["EndpointConfigArn"])["Tags"]
    }
    assert tags == {"team": "vision", PREVIOUS_CONFIG_TAG: USER_CONFIG}

    again = world.cli("attach", "user-ep", "--apply")  # idempotent: nothing new created
    assert again.exit_code == 0
    assert "already attached" in again.output
    assert world.serving() == new_name

    detached = world.cli("detach", "user-ep", "--apply")
    assert detached.exit_code == 0, detached.output
    assert f"--- {new_name}" in detached.output
    assert f"+++ {USER_CONFIG}" in detached.output
    assert world.serving() == USER_CONFIG
    not_attached = world.cli("detach", "user-ep")
    assert not_attached.exit_code == ExitCode.NOT_ATTACHED
    assert "nothing to restore" in not_attached.output


def test_attach_refuses_a_real_time_endpoint(world: World) -> None:
    _endpoint(world.sagemaker, "rt-ep", "rt-cfg", _role(world.iam, "rt", None), asynchronous=False)
    result = world.cli("attach", "rt-ep", "--apply")
    assert result.exit_code == ExitCode.NOT_ASYNC
    assert "rt-cfg, which has no AsyncInferenceConfig" in result.output
    assert world.serving("rt-ep") == "rt-cfg"


def test_attach_refuses_an_endpoint_that_is_not_in_service(world: World) -> None:
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[ACCOUNT]["us-east-1"].endpoints["user-ep"].endpoint_status = "Updating"
    result = world.cli("attach", "user-ep", "--apply")
    assert result.exit_code == ExitCode.ENDPOINT_BUSY
    assert "endpoint user-ep is Updating" in result.output
    assert world.serving() == USER_CONFIG


def test_attach_refuses_a_role_without_the_grants_and_names_the_statements(world: World) -> None:
    partial = iam_policy(world.pipeline)
    partial["Statement"] = [
        s for s in partial["Statement"] if s["Sid"] != "PublishAsyncInferenceNotifications"
    ]
    role = _role(world.iam, "partial", partial)
    _endpoint(world.sagemaker, "other-ep", "other-cfg", role)
    result = world.cli("attach", "other-ep", "--apply")
    assert result.exit_code == ExitCode.MISSING_GRANTS
    assert f"execution role {role} lacks: PublishAsyncInferenceNotifications: not allowed sns:Publish" in (
        result.output
    )
    assert f"attach {world.pipeline.publisher_policy_arn} to it" in result.output
    assert '"Sid": "PublishAsyncInferenceNotifications"' in result.output
    assert world.serving("other-ep") == "other-cfg"
    skipped = world.cli("attach", "other-ep", "--skip-grant-check")
    assert skipped.exit_code == 0, skipped.output


def test_grant_check_honours_wildcards_not_actions_and_explicit_denies() -> None:
    write = ("s3:PutObject", "arn:aws:s3:::results-bucket/async-inference/outputs/x.out")
    wildcard = {
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::results-bucket/*"}]
    }
    assert allows([wildcard], *write)
    other_bucket = {"Statement": {"Effect": "Allow", "Action": "s3:Put*", "Resource": "arn:aws:s3:::other/*"}}
    assert not allows([other_bucket], *write)
    deny = {"Statement": [{"Effect": "Deny", "NotAction": "sns:*", "Resource": "*"}]}
    assert not allows([wildcard, deny], *write)
    assert not allows([], *write)


def test_attach_refuses_a_role_the_topic_policy_denies_even_with_identity_grants(world: World) -> None:
    sns = boto3.client("sns")
    topic = world.pipeline.error_topic_arn
    policy: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyPublishByAnyoneElse",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "sns:Publish",
                "Resource": topic,
                "Condition": {
                    "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/stack-role"}
                },
            }
        ],
    }
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    result = world.cli("attach", "user-ep", "--apply")
    assert result.exit_code == ExitCode.MISSING_GRANTS
    role = f"arn:aws:iam::{ACCOUNT}:role/granted"
    assert f"topic {topic}: its policy statement DenyPublishByAnyoneElse denies sns:Publish to {role}" in (
        result.output
    )
    assert "give it" not in result.output
    assert f"give {role} to the pipeline as an execution role" in result.output
    assert world.serving() == USER_CONFIG
    policy["Statement"][0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = [role, "other"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy))
    assert world.cli("attach", "user-ep").exit_code == 0  # the role is exempt now
