"""The constructs used from another CDK app: props errors (all at once), minimal composition, summary."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from sagemaker_async_results.cdk.constructs import (
    AsyncInferenceEndpoint,
    EncryptionKey,
    EncryptionKeyProps,
    EndpointAutoscaling,
    ModelProps,
    OutputBucket,
    OutputBucketProps,
    PropsError,
    ResultTopics,
    deliver,
)
from sagemaker_async_results.cdk.summary import main as summary_main
from sagemaker_async_results.cdk.summary import summarize
from tests.infrastructure.conftest import SKIP_BUNDLING, Synthesized


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(context=SKIP_BUNDLING), "Other")


def test_constructs_compose_in_another_app() -> None:
    stack = _stack()
    key = EncryptionKey(stack, "Key", key_props=EncryptionKeyProps(alias="results"))
    bucket = OutputBucket(stack, "Bucket", encryption_key=key.key, output_prefix="out/", failure_prefix="err/",
                          input_prefix="in/", bucket_props=OutputBucketProps(expiration_days=7))  # fmt: skip
    topics = ResultTopics(stack, "Topics", encryption_key=key.key)
    endpoint = AsyncInferenceEndpoint(
        stack,
        "Endpoint",
        endpoint_name="other",
        bucket=bucket.bucket,
        input_prefix="in/",
        output_prefix="out/",
        failure_prefix="err/",
        success_topic=topics.success_topic,
        error_topic=topics.error_topic,
        encryption_key=key.key,
        model_props=ModelProps(image="public.ecr.aws/example/model:1"),
    )
    EndpointAutoscaling(stack, "Scaling", endpoint_name="other", endpoint=endpoint.endpoint, min_capacity=1)
    topics.restrict_publish_to(endpoint.execution_role)
    key.allow_use(endpoint.execution_role)
    key.allow_sns_delivery(topics.source_arn_patterns)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/results"})
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"Prefix": "out/", "ExpirationInDays": 7})])
            }
        },
    )
    # Not an ECR image: no ECR statements at all.
    assert "ecr:" not in str(template.find_resources("AWS::IAM::Policy"))
    # Generated topic names: the key's SNS condition falls back to the account's topics in the region.
    key_policy = str(template.find_resources("AWS::KMS::Key"))
    assert ":sns:" in key_policy
    # Roles use the key by their identity policies: the key policy names the account root and services only.
    (key_resource,) = template.find_resources("AWS::KMS::Key").values()
    principals = [st["Principal"] for st in key_resource["Properties"]["KeyPolicy"]["Statement"]]
    assert [p for p in principals if "AWS" in p and ":root" not in str(p["AWS"])] == []
    template.resource_count_is("AWS::SNS::TopicPolicy", 2)


def test_existing_key_is_used_through_identity_grants() -> None:
    stack = _stack()
    imported = kms.Key.from_key_arn(stack, "Imported", "arn:aws:kms:us-east-1:123456789012:key/abc")
    key = EncryptionKey(stack, "Key", existing_key=imported)
    role = cdk.aws_iam.Role(stack, "Role", assumed_by=cdk.aws_iam.ServicePrincipal("lambda.amazonaws.com"))
    key.allow_use(role)
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 0)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [Match.object_like({"Resource": "arn:aws:kms:us-east-1:123456789012:key/abc"})]
            }
        },
    )


def test_props_errors_are_reported_all_at_once() -> None:
    stack = _stack()
    with pytest.raises(PropsError) as caught:
        OutputBucket(
            stack,
            "Bucket",
            existing_bucket=s3.Bucket.from_bucket_name(stack, "B", "bbb"),
            bucket_props=OutputBucketProps(),
            output_prefix="/out",
            failure_prefix="err",
        )
    assert len(caught.value.problems) == 3
    with pytest.raises(PropsError) as caught:
        AsyncInferenceEndpoint(
            stack,
            "Endpoint",
            endpoint_name="x",
            bucket=s3.Bucket.from_bucket_name(stack, "B2", "bbb"),
            success_topic=cdk.aws_sns.Topic.from_topic_arn(
                stack, "S", "arn:aws:sns:us-east-1:123456789012:s"
            ),
            error_topic=cdk.aws_sns.Topic.from_topic_arn(stack, "E", "arn:aws:sns:us-east-1:123456789012:e"),
            encryption_key=kms.Key.from_key_arn(stack, "K", "arn:aws:kms:us-east-1:123456789012:key/abc"),
            model_props=ModelProps(image="img"),
            existing_model_name="m",
            include_inference_response_in=["NOPE"],
            initial_instance_count=0,
        )
    assert len(caught.value.problems) == 4, caught.value.problems
    with pytest.raises(PropsError, match="min_capacity"):
        EndpointAutoscaling(stack, "Scaling", endpoint_name="x", min_capacity=3, max_capacity=2)
    with pytest.raises(PropsError, match="existing_key or key_props"):
        EncryptionKey(stack, "K2", existing_key=kms.Key.from_key_arn(stack, "K3", "arn:aws:kms:us-east-1:1:key/a"),
                      key_props=EncryptionKeyProps())  # fmt: skip
    with pytest.raises(PropsError, match="mode"):
        deliver(
            stack,
            "D",
            mode="firehose",  # type: ignore[arg-type]
            topic=cdk.aws_sns.Topic.from_topic_arn(stack, "T", "arn:aws:sns:us-east-1:123456789012:t"),
            function=lambda_.Function.from_function_name(stack, "F", "f"),
            encryption_key=kms.Key.from_key_arn(stack, "K4", "arn:aws:kms:us-east-1:123456789012:key/abc"),
            function_timeout=cdk.Duration.seconds(1),
        )


def test_summary(default: Synthesized, capsys: pytest.CaptureFixture[str]) -> None:
    text = summarize(default.template_dict)
    for expected in ("name: async-results-demo", "python3.14 arm64", "delivery: direct", "autoscaling: 0..2",
                     "[x] KMS customer managed key with rotation", "Outputs: EndpointName"):  # fmt: skip
        assert expected in text
    assert "[ ]" not in text  # every secure default holds
    assert summary_main([str(default.template_path.parent)]) == 0
    assert "AsyncInferenceStack.template.json" in capsys.readouterr().out
    assert summary_main([str(default.template_path.parent / "missing")]) == 1


def test_key_statements_for_services() -> None:
    """SNS sources accumulate in one statement; CloudWatch gets the documented GenerateDataKey* form."""
    stack = _stack()
    key = EncryptionKey(stack, "Key")
    key.allow_sns_delivery(["arn:aws:sns:us-east-1:123456789012:a"])
    key.allow_sns_delivery(["arn:aws:sns:us-east-1:123456789012:b", "arn:aws:sns:us-east-1:123456789012:a"])
    key.allow_service("Cw", "cloudwatch.amazonaws.com", actions=("kms:GenerateDataKey*", "kms:Decrypt"))
    key.allow_service("Cw", "cloudwatch.amazonaws.com")  # once per sid
    (resource,) = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    statements = {s.get("Sid"): s for s in resource["Properties"]["KeyPolicy"]["Statement"]}
    assert statements["AllowSnsDeliveryToEncryptedQueues"]["Condition"] == {
        "ArnLike": {
            "aws:SourceArn": ["arn:aws:sns:us-east-1:123456789012:a", "arn:aws:sns:us-east-1:123456789012:b"]
        }
    }
    assert statements["Cw"]["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert statements["Cw"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}


def test_source_queues_keep_messages_shorter_than_their_dead_letter_queue() -> None:
    from aws_cdk import aws_sqs as sqs

    from sagemaker_async_results.cdk.constructs.queues import secure_queue

    stack = _stack()
    key = kms.Key(stack, "K")
    dlq = secure_queue(stack, "Dlq", encryption_key=key)
    source = secure_queue(
        stack,
        "Source",
        encryption_key=key,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5),
    )
    assert source.node.default_child.message_retention_period == 7 * 86400  # type: ignore[union-attr]
    assert dlq.node.default_child.message_retention_period == 14 * 86400  # type: ignore[union-attr]
    with pytest.raises(
        ValueError,
        match=r"Late: expected a retention shorter than its dead-letter queue's \(1209600 s\), received 1209600 s",
    ):
        secure_queue(stack, "Late", encryption_key=key, retention=cdk.Duration.days(14),
                     dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=5))  # fmt: skip


def test_kinesis_stream_is_deleted_with_the_stack_unless_retained() -> None:
    from aws_cdk import aws_iam as iam

    from sagemaker_async_results.cdk.destinations.kinesis import KinesisDestination

    for removal, expected in ((None, "Delete"), (cdk.RemovalPolicy.RETAIN, "Retain")):
        stack = _stack()
        key = kms.Key(stack, "K")
        function = lambda_.Function(stack, "F", runtime=lambda_.Runtime.PYTHON_3_13, handler="x.y",
                                    code=lambda_.Code.from_inline("x"), role=iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")))  # fmt: skip
        destination = KinesisDestination() if removal is None else KinesisDestination(removal_policy=removal)
        destination.bind(stack, functions=[function], encryption_key=key)
        (stream,) = Template.from_stack(stack).find_resources("AWS::Kinesis::Stream").values()
        assert (stream["DeletionPolicy"], stream["UpdateReplacePolicy"]) == (expected, expected)


def test_client_access_grants_exactly_what_a_client_calls() -> None:
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_iam as iam

    from sagemaker_async_results.cdk.constructs.client_access import ClientAccess

    stack = _stack()
    key = kms.Key(stack, "K")
    bucket = s3.Bucket(stack, "B")
    table = dynamodb.Table(
        stack, "T", partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING)
    )
    role = iam.Role(stack, "Notebook", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    access = ClientAccess(stack, bucket=bucket, input_prefix="in/", output_prefix="out/", failure_prefix="err/",
                          keys=[key], table=table)  # fmt: skip
    access.grant(role)
    policy = access.managed_policy(stack, "ClientPolicy")
    access.add_endpoint("Fraud-Scorer")  # after both: the grant and the policy get it too
    access.add_endpoint("Fraud-Scorer")
    template = Template.from_stack(stack).to_json()
    documents = {
        "grant": next(r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::Policy"),
        "managed": template["Resources"][stack.get_logical_id(policy.node.default_child)],  # type: ignore[arg-type]
    }
    for kind, resource in documents.items():
        statements = {s["Sid"]: s for s in resource["Properties"]["PolicyDocument"]["Statement"]}
        assert sorted(statements) == ["InvokeEndpoints", "ReadResults", "ResultStore", "UploadInputs",
                                      "UseKeyThroughDynamoDB", "UseKeyThroughItsServices"], kind  # fmt: skip
        invoke = statements["InvokeEndpoints"]
        assert invoke["Action"] == "sagemaker:InvokeEndpointAsync"
        assert (
            invoke["Resource"]["Fn::Join"][1][-1] == ":endpoint/fraud-scorer"
        )  # SageMaker ARNs are lower case
        assert statements["UploadInputs"]["Action"] == "s3:PutObject"
        assert statements["ReadResults"]["Action"] == "s3:GetObject"
        assert sorted(statements["ResultStore"]["Action"]) == [
            "dynamodb:BatchGetItem",
            "dynamodb:GetItem",
            "dynamodb:UpdateItem",
        ]
        use_key = statements["UseKeyThroughItsServices"]
        assert sorted(use_key["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert len(use_key["Condition"]["StringEquals"]["kms:ViaService"]) == 4
        dynamodb_key = statements["UseKeyThroughDynamoDB"]
        assert sorted(dynamodb_key["Action"]) == ["kms:DescribeKey", "kms:Encrypt"]
        (via,) = [dynamodb_key["Condition"]["StringEquals"]["kms:ViaService"]]
        assert "dynamodb." in str(via)


@pytest.mark.parametrize(
    ("log_group", "created"), [("create", True), ("existing", False), ("sagemaker", False)]
)
def test_endpoint_log_group_created_adopted_or_left_to_sagemaker(log_group: str, created: bool) -> None:
    """An endpoint name that ran before left its log group: creating it again would fail the deployment."""
    stack = _stack()
    key = EncryptionKey(stack, "Key")
    bucket = OutputBucket(stack, "Bucket", encryption_key=key.key)
    topics = ResultTopics(stack, "Topics", encryption_key=key.key)
    endpoint = AsyncInferenceEndpoint(
        stack, "Endpoint", endpoint_name="again", bucket=bucket.bucket, success_topic=topics.success_topic,
        error_topic=topics.error_topic, encryption_key=key.key,
        model_props=ModelProps(image="public.ecr.aws/example/model:1"), log_group=log_group,  # type: ignore[arg-type]
    )  # fmt: skip
    template = Template.from_stack(stack)
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert [g["Properties"]["LogGroupName"] for g in groups.values()] == (
        ["/aws/sagemaker/Endpoints/again"] if created else []
    )
    (policy,) = [p for p in template.find_resources("AWS::IAM::Policy").values()
                 if any(s.get("Sid") == "EndpointLogs" for s in p["Properties"]["PolicyDocument"]["Statement"])]  # fmt: skip
    assert policy  # the execution role may write to the group whoever created it
    assert (endpoint.log_group is not None) is (log_group != "sagemaker")
    with pytest.raises(PropsError, match="log_group: expected one of"):
        AsyncInferenceEndpoint(
            stack, "Bad", endpoint_name="bad", bucket=bucket.bucket, success_topic=topics.success_topic,
            error_topic=topics.error_topic, encryption_key=key.key,
            model_props=ModelProps(image="public.ecr.aws/example/model:1"), log_group="mine",  # type: ignore[arg-type]
        )  # fmt: skip
