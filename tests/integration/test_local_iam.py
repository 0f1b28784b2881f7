"""Enforced permissions in the local run, on a small hand-written cloud assembly (no synth: fast).

A function runs with its execution role's credentials; a call its role was never granted fails with
AWS's AccessDenied (code, action, resource, the role's session); a resource policy without a service's
Allow refuses that service's delivery; ``iam=False`` (``--no-iam``) evaluates nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_async_results.local import iam
from sagemaker_async_results.local.deploy import LocalDeployer
from sagemaker_async_results.local.emulator import AwsTarget
from sagemaker_async_results.local.environment import LocalEnvironment

ACCOUNT = "123456789012"
REGION = "us-east-1"
ASSET = "0" * 64
HANDLER = """
import boto3

def handler(event, context):
    boto3.client("dynamodb").put_item(TableName=event["table"], Item={"pk": {"S": "written"}})
    return "ok"
"""


def _arn(service: str, resource: str) -> dict[str, Any]:
    return {
        "Fn::Join": [
            "",
            [f"arn:aws:{service}:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, resource],
        ]
    }


def _template(
    *, tables_granted: list[str], queue_allows_topic: bool, key_granted: bool = False
) -> dict[str, Any]:
    """Two tables, a function whose role may write ``tables_granted``, a topic with a queue subscribed."""
    grants = [{"Fn::GetAtt": [table, "Arn"]} for table in tables_granted]
    queue_policy: list[dict[str, Any]] = [
        {
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if queue_allows_topic:
        queue_policy.append(
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": ["Queue", "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}},
            }
        )
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    resources: dict[str, Any] = {
        "Granted": table,
        "Ungranted": table,
        "Role": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
        "RolePolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "RolePolicy",
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["dynamodb:PutItem", "dynamodb:GetItem"],
                            "Resource": grants,
                        },
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:PutObject"],
                            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/*"]]},
                        },
                        *(
                            [
                                {
                                    "Effect": "Allow",
                                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                    "Resource": {"Fn::GetAtt": ["Key", "Arn"]},
                                }
                            ]
                            if key_granted
                            else []
                        ),
                    ],
                },
            },
        },
        "Function": {
            "Type": "AWS::Lambda::Function",
            "DependsOn": ["RolePolicy"],
            "Properties": {
                "Code": {
                    "S3Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
                    "S3Key": f"{ASSET}.zip",
                },
                "Handler": "app.handler",
                "Runtime": "python3.11",
                "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                "Timeout": 30,
            },
        },
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                }
            },
        },
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "iam-test-bucket"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "iam-test-topic"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "iam-test-queue"}},
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "Queue"}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": queue_policy},
            },
        },
        "Subscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "Protocol": "sqs",
                "TopicArn": {"Ref": "Topic"},
                "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                "RawMessageDelivery": True,
            },
        },
    }
    return {"Resources": resources}


def _cloud_assembly(directory: Path, template: dict[str, Any]) -> Path:
    """A ``cdk.out`` as ``cdk synth`` writes it: manifest, template, asset manifest, the code asset."""
    directory.mkdir(parents=True)
    (directory / f"asset.{ASSET}").mkdir()
    (directory / f"asset.{ASSET}" / "app.py").write_text(HANDLER)
    (directory / "Stack.template.json").write_text(json.dumps(template))
    assets = {
        "version": "36.0.0",
        "files": {
            ASSET: {
                "source": {"path": f"asset.{ASSET}", "packaging": "zip"},
                "destinations": {
                    "current": {
                        "bucketName": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}",
                        "objectKey": f"{ASSET}.zip",
                    }
                },
            }
        },
    }
    (directory / "Stack.assets.json").write_text(json.dumps(assets))
    manifest = {
        "version": "36.0.0",
        "artifacts": {
            "Stack.assets": {"type": "cdk:asset-manifest", "properties": {"file": "Stack.assets.json"}},
            "Stack": {
                "type": "aws:cloudformation:stack",
                "properties": {"templateFile": "Stack.template.json"},
                "dependencies": ["Stack.assets"],
            },
        },
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def _environment(directory: Path, *, iam_on: bool = True, **template: Any) -> LocalEnvironment:
    cdk_out = _cloud_assembly(directory / "cdk.out", _template(**template))
    return LocalEnvironment(cdk_out, log_dir=directory / "logs", iam=iam_on)


def test_without_iam_nothing_is_evaluated_and_the_function_runs_with_the_emulators_credentials(
    tmp_path: Path,
) -> None:
    # First in the module: one emulator at a time (moto's state is process-wide), before ``env``'s.
    with _environment(tmp_path, iam_on=False, tables_granted=["Granted"], queue_allows_topic=False) as env:
        assert env.deployed.function_credentials == {}
        assert _function(env).invoke({"table": env.deployed.physical_ids["Ungranted"]}).payload == "ok"
        assert iam.DENIALS.all() == []


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    """The function's role may write only ``Granted``; the queue's policy has no Allow for the topic."""
    directory = tmp_path_factory.mktemp("narrow")
    with _environment(directory, tables_granted=["Granted"], queue_allows_topic=False) as environment:
        yield environment


def _grant_everything(env: LocalEnvironment, directory: Path) -> None:
    """Redeploy the stack (a CloudFormation update) with both grants, as a changed app would be."""
    assert env.target is not None
    cdk_out = _cloud_assembly(
        directory,
        _template(tables_granted=["Granted", "Ungranted"], queue_allows_topic=True, key_granted=True),
    )
    LocalDeployer(AwsTarget(env.target.endpoint_url, env.target.region), iam=True).deploy(cdk_out)


def _function(env: LocalEnvironment) -> Any:
    (function,) = env.functions.values()
    return function


def _written(env: LocalEnvironment, table: str) -> bool:
    admin = env.target.client("dynamodb")  # type: ignore[union-attr]
    return "Item" in admin.get_item(TableName=env.deployed.physical_ids[table], Key={"pk": {"S": "written"}})


def _received(env: LocalEnvironment, wait: float) -> list[str]:
    sqs = env.target.client("sqs")  # type: ignore[union-attr]
    deadline = time.monotonic() + wait
    while True:
        messages = sqs.receive_message(QueueUrl=env.deployed.physical_ids["Queue"], MaxNumberOfMessages=10)
        bodies = [m["Body"] for m in messages.get("Messages", [])]
        if bodies or time.monotonic() > deadline:
            return bodies
        time.sleep(0.1)


def test_a_handler_writing_a_table_its_role_was_never_granted_gets_aws_access_denied(
    env: LocalEnvironment,
) -> None:
    granted_table = env.deployed.physical_ids["Granted"]
    ungranted = env.deployed.physical_ids["Ungranted"]
    function = _function(env)
    role = env.deployed.function_roles[function.spec.name].rsplit("/", 1)[-1]

    assert function.invoke({"table": granted_table}).payload == "ok"
    refused = function.invoke({"table": ungranted})

    assert refused.error_type == "ClientError"
    assert refused.error_message == (
        "An error occurred (AccessDeniedException) when calling the PutItem operation: User: "
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{function.spec.name} is not authorized to perform: "
        f"dynamodb:PutItem on resource: arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ungranted} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    (denial,) = [d for d in iam.DENIALS.all() if d.action == "dynamodb:PutItem"]
    assert denial.explain() == f"role {role} lacks the statement " + json.dumps(
        {
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ungranted}",
        }
    )
    assert _written(env, "Granted")
    assert not _written(env, "Ungranted")


def test_sns_does_not_deliver_to_a_queue_whose_policy_lacks_the_topics_allow(env: LocalEnvironment) -> None:
    topic = env.deployed.physical_ids["Topic"]
    env.target.client("sns").publish(TopicArn=topic, Message="refused")  # type: ignore[union-attr]

    assert _received(env, wait=1.0) == []
    (denial,) = [d for d in iam.DENIALS.all() if d.action == "sqs:SendMessage"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:iam-test-queue"
    assert denial.message == (
        f"User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: {queue_arn} "
        f"because no resource-based policy allows the sqs:SendMessage action (delivery from {topic})"
    )
    assert denial.missing_statement() == {
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Principal": {"Service": "sns.amazonaws.com"},
        "Condition": {"ArnLike": {"aws:SourceArn": topic}},
    }


def _role_s3(env: LocalEnvironment) -> Any:
    """An S3 client signed with the function's execution role (what its handler's boto3 gets)."""
    assert env.target is not None
    return env.target.as_role(env.deployed.function_credentials[_function(env).spec.name]).client("s3")


def _key_arn(env: LocalEnvironment) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{env.deployed.physical_ids['Key']}"


def test_objects_encrypted_with_a_key_the_role_may_not_use_are_refused(env: LocalEnvironment) -> None:
    assert env.target is not None
    key = _key_arn(env)
    env.target.client("s3").put_object(
        Bucket="iam-test-bucket", Key="encrypted", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    s3 = _role_s3(env)
    s3.put_object(Bucket="iam-test-bucket", Key="plain", Body=b"x")  # no key involved: the S3 grant suffices

    with pytest.raises(ClientError) as read:
        s3.get_object(Bucket="iam-test-bucket", Key="encrypted")
    with pytest.raises(ClientError) as written:
        s3.put_object(
            Bucket="iam-test-bucket", Key="new", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )

    assert read.value.response["Error"]["Code"] == "AccessDenied"
    assert read.value.response["Error"]["Message"].endswith(
        f"kms:Decrypt on resource: {key} because no identity-based policy allows the kms:Decrypt action"
    )
    assert written.value.response["Error"]["Message"].endswith(
        f"kms:GenerateDataKey on resource: {key} because no identity-based policy allows the "
        "kms:GenerateDataKey action"
    )


def test_once_granted_the_handler_writes_the_table_and_sns_delivers_to_the_queue(
    env: LocalEnvironment, tmp_path: Path
) -> None:
    _grant_everything(env, tmp_path / "granted.cdk.out")
    iam.DENIALS.clear()

    assert _function(env).invoke({"table": env.deployed.physical_ids["Ungranted"]}).payload == "ok"
    assert _written(env, "Ungranted")
    env.target.client("sns").publish(TopicArn=env.deployed.physical_ids["Topic"], Message="hello")  # type: ignore[union-attr]
    assert _received(env, wait=5.0) == ["hello"]
    s3 = _role_s3(env)
    assert s3.get_object(Bucket="iam-test-bucket", Key="encrypted")["Body"].read() == b"x"
    s3.put_object(
        Bucket="iam-test-bucket",
        Key="new",
        Body=b"x",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=_key_arn(env),
    )
    assert iam.DENIALS.all() == []
