"""The sample stack: every prop path and every secure default, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from sagemaker_async_results import contract as env_names
from tests.infrastructure.conftest import STATE_MACHINE, Synthesized, resources_of

#: Construct ID of AsyncInferenceResults in the sample stack: the prefix of every logical ID.
CONSTRUCT = "AsyncResults"

OUTPUT_KEYS = {
    env_names.OUTPUT_ENDPOINT_NAME, env_names.OUTPUT_BUCKET_NAME, env_names.OUTPUT_INPUT_PREFIX,
    env_names.OUTPUT_OUTPUT_PREFIX, env_names.OUTPUT_FAILURE_PREFIX, env_names.OUTPUT_SUCCESS_TOPIC_ARN,
    env_names.OUTPUT_ERROR_TOPIC_ARN, env_names.OUTPUT_RESULTS_TABLE_NAME,
    env_names.OUTPUT_SUCCESS_FUNCTION_NAME, env_names.OUTPUT_ERROR_FUNCTION_NAME,
    env_names.OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL, env_names.OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL,
    env_names.OUTPUT_ALARM_TOPIC_ARN, env_names.OUTPUT_RECOVERY_QUEUE_URL,
    env_names.OUTPUT_RECOVERY_DEAD_LETTER_QUEUE_URL, env_names.OUTPUT_RECOVERY_FUNCTION_NAME,
    env_names.OUTPUT_ENCRYPTION_KEY_ARN, env_names.OUTPUT_PUBLISHER_POLICY_ARN, env_names.OUTPUT_CLIENT_POLICY_ARN,
    "ReplyQueuePrefix", "ReplyQueueKeyArn", "ReplyQueueCallerPolicyArn",  # the default reply queues
}  # fmt: skip
#: CDK's own singleton handler of the bucket-notifications custom resource (aws-cdk-lib code).
CDK_NOTIFICATIONS_HANDLER = "BucketNotificationsHandler"


def _handlers(s: Synthesized) -> dict[str, Any]:
    """The result-handler functions (success, error, recovery), not CDK's helper functions."""
    return {
        k: v
        for k, v in resources_of(s, "AWS::Lambda::Function").items()
        if not k.startswith(CDK_NOTIFICATIONS_HANDLER)
        and str(v["Properties"].get("Handler", "")).startswith("sagemaker_async_results.")
    }


def _statements(s: Synthesized, type_name: str = "AWS::IAM::Policy") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for resource in resources_of(s, type_name).values():
        found += resource["Properties"]["PolicyDocument"]["Statement"]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- outputs --------------------------------------------------------------------------------------------


def test_outputs_are_the_documented_contract(default: Synthesized, buffered: Synthesized) -> None:
    assert set(default.template_dict["Outputs"]) == OUTPUT_KEYS
    assert set(buffered.template_dict["Outputs"]) == OUTPUT_KEYS | {
        "SuccessQueueUrl",
        "ErrorQueueUrl",
        "ResultsQueueUrl",
        "EventBusName",
        "ResultsStreamArn",
    }
    default.template.has_output("InputPrefix", {"Value": "async-inference/inputs/"})
    default.template.has_output(
        "EndpointName", {"Value": {"Fn::GetAtt": [Match.any_value(), "EndpointName"]}}
    )


# --- key ------------------------------------------------------------------------------------------------


def test_key_policy_names_services_only_and_roles_use_it_by_identity_grants(default: Synthesized) -> None:
    default.template.resource_count_is("AWS::KMS::Key", 1)
    default.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    (key_id,) = resources_of(default, "AWS::KMS::Key")
    key = resources_of(default, "AWS::KMS::Key")[key_id]
    statements = {s.get("Sid", "root"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    # No role created in this deployment is a key policy principal (KMS may not see it yet).
    assert set(statements) == {
        "root",
        "AllowSnsDeliveryToEncryptedQueues",
        "AllowCloudWatchAlarmsToEncryptedTopic",
        "AllowS3EventNotificationsToEncryptedQueues",
    }
    assert "root" in json.dumps(statements["root"]["Principal"])
    for sid, service, actions in (
        # CloudWatch: the form AWS documents for services publishing to an encrypted topic.
        (
            "AllowCloudWatchAlarmsToEncryptedTopic",
            "cloudwatch.amazonaws.com",
            ["kms:Decrypt", "kms:GenerateDataKey*"],
        ),
        (
            "AllowS3EventNotificationsToEncryptedQueues",
            "s3.amazonaws.com",
            ["kms:Decrypt", "kms:GenerateDataKey"],
        ),
    ):
        assert statements[sid]["Principal"] == {"Service": service}
        assert sorted(statements[sid]["Action"]) == actions
    account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert statements["AllowCloudWatchAlarmsToEncryptedTopic"]["Condition"] == account
    # S3's form is AWS's documented one; the recovery queue's policy limits the senders.
    assert "Condition" not in statements["AllowS3EventNotificationsToEncryptedQueues"]
    # Every role of the pipeline (SageMaker and the three functions) uses the key by its own policy.
    granted = set()
    for policy in resources_of(default, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            on_key = {"Fn::GetAtt": [key_id, "Arn"]} in _as_list(statement["Resource"])
            if on_key and "kms:Decrypt" in _as_list(statement["Action"]):
                granted.update(r["Ref"] for r in policy["Properties"]["Roles"])
    ours = {
        r
        for r in resources_of(default, "AWS::IAM::Role")
        if not r.startswith(CDK_NOTIFICATIONS_HANDLER) and "ReplyQueuesSweeper" not in r  # reads no data
    }
    assert granted == ours
    sns_statement = statements["AllowSnsDeliveryToEncryptedQueues"]
    assert sns_statement["Principal"] == {"Service": "sns.amazonaws.com"}
    source_arns = json.dumps(sns_statement["Condition"]["ArnLike"]["aws:SourceArn"])
    assert ":async-results-demo-success" in source_arns
    assert ":async-results-demo-error" in source_arns


# --- bucket ---------------------------------------------------------------------------------------------


def test_bucket_secure_defaults(default: Synthesized) -> None:
    default.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "BucketKeyEnabled": True,
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": Match.any_value(),
                        },
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {
                "DestinationBucketName": Match.any_value(),
                "LogFilePrefix": "output-bucket/",
            },
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Prefix": "async-inference/outputs/",
                                "ExpirationInDays": 30,
                                "Status": "Enabled",
                            }
                        ),
                        Match.object_like(
                            {
                                "Prefix": "async-inference/failures/",
                                "ExpirationInDays": 30,
                                "Status": "Enabled",
                            }
                        ),
                    ]
                )
            },
        },
    )
    # Every bucket (output + access logs) blocks public access and denies non-SSL requests.
    for bucket in resources_of(default, "AWS::S3::Bucket").values():
        assert bucket["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    ssl = [s for s in _statements(default, "AWS::S3::BucketPolicy") if "aws:SecureTransport" in json.dumps(s)]
    assert len(ssl) == 2
    default.template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})


def test_existing_bucket_is_not_created(existing: Synthesized) -> None:
    existing.template.resource_count_is("AWS::S3::Bucket", 0)
    existing.template.has_output("BucketName", {"Value": "my-existing-bucket"})
    config = resources_of(existing, "AWS::SageMaker::EndpointConfig")
    assert "s3://my-existing-bucket/async-inference/outputs/" in json.dumps(config)


# --- topics ---------------------------------------------------------------------------------------------


def test_topics_encrypted_ssl_only_and_publish_only_by_sagemaker_role(default: Synthesized) -> None:
    default.template.resource_count_is("AWS::SNS::Topic", 3)  # success, error, alarms
    for topic in resources_of(default, "AWS::SNS::Topic").values():
        assert "Fn::GetAtt" in topic["Properties"]["KmsMasterKeyId"]
    for name, policy in resources_of(default, "AWS::SNS::TopicPolicy").items():
        if "AlarmTopic" in name:
            continue
        statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
        assert statements["AllowPublishThroughSSLOnly"]["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}
        }
        allow = statements["AllowPublishBySageMakerExecutionRole"]
        assert allow["Principal"]["AWS"]["Fn::GetAtt"][0].startswith(f"{CONSTRUCT}InferenceExecutionRole")
        deny = statements["DenyPublishByAnyoneElse"]
        assert deny["Effect"] == "Deny"
        assert deny["Action"] == "sns:Publish"
        assert "ArnNotEquals" in deny["Condition"]


def test_existing_topics_and_extra_subscriptions(existing: Synthesized) -> None:
    topics = resources_of(existing, "AWS::SNS::Topic")
    assert [k for k in topics if "AlarmTopic" not in k] == []
    existing.template.has_output(
        "SuccessTopicArn", {"Value": "arn:aws:sns:us-east-1:123456789012:existing-success"}
    )
    for protocol, endpoint in (
        ("email", "ops@example.com"),
        ("https", "https://example.com/hook"),
        ("sqs", "arn:aws:sqs:us-east-1:123456789012:extra"),
    ):
        for topic in ("existing-success", "existing-error"):
            existing.template.has_resource_properties(
                "AWS::SNS::Subscription",
                {
                    "Protocol": protocol,
                    "Endpoint": endpoint,
                    "TopicArn": f"arn:aws:sns:us-east-1:123456789012:{topic}",
                },
            )
    # The key policy's SNS statement names the existing topics exactly.
    (key,) = resources_of(existing, "AWS::KMS::Key").values()
    assert "arn:aws:sns:us-east-1:123456789012:existing-error" in json.dumps(key["Properties"]["KeyPolicy"])


# --- SageMaker ------------------------------------------------------------------------------------------


def test_endpoint_config_async_inference(default: Synthesized) -> None:
    default.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.any_value(),
            "ProductionVariants": [
                Match.object_like(
                    {"InstanceType": "ml.m5.xlarge", "InitialInstanceCount": 1, "VariantName": "AllTraffic"}
                )
            ],
            "AsyncInferenceConfig": {
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
                "OutputConfig": {
                    "S3OutputPath": Match.any_value(),
                    "S3FailurePath": Match.any_value(),
                    "KmsKeyId": Match.any_value(),
                    "NotificationConfig": {
                        "SuccessTopic": {"Ref": Match.string_like_regexp("NotificationsSuccessTopic")},
                        "ErrorTopic": {"Ref": Match.string_like_regexp("NotificationsErrorTopic")},
                        "IncludeInferenceResponseIn": [
                            "SUCCESS_NOTIFICATION_TOPIC",
                            "ERROR_NOTIFICATION_TOPIC",
                        ],
                    },
                },
            },
        },
    )
    default.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": {
                    "Fn::Sub": Match.array_with([Match.string_like_regexp(r"huggingface-pytorch-inference")])
                },
                "Environment": {"HF_TASK": "text-classification", "HF_MODEL_ID": Match.any_value()},
            }
        },
    )


def test_endpoint_depends_on_role_policy_and_topics(default: Synthesized) -> None:
    (policy_id,) = [
        k
        for k in resources_of(default, "AWS::IAM::Policy")
        if k.startswith(f"{CONSTRUCT}InferenceExecutionPolicy")
    ]
    (endpoint,) = resources_of(default, "AWS::SageMaker::Endpoint").values()
    depends_on = endpoint["DependsOn"]
    assert policy_id in depends_on
    assert any(d.startswith(f"{CONSTRUCT}NotificationsSuccessTopic") for d in depends_on)
    assert any(d.startswith(f"{CONSTRUCT}NotificationsErrorTopic") for d in depends_on)
    (model,) = resources_of(default, "AWS::SageMaker::Model").values()
    assert policy_id in model["DependsOn"]


def test_sagemaker_role_least_privilege(default: Synthesized) -> None:
    (policy,) = [
        v
        for k, v in resources_of(default, "AWS::IAM::Policy").items()
        if k.startswith(f"{CONSTRUCT}InferenceExecution")
    ]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    assert statements["ReadInputs"]["Action"] == "s3:GetObject"
    assert json.dumps(statements["ReadInputs"]["Resource"]).endswith('"/async-inference/inputs/*"]]}')
    writes = json.dumps(statements["WriteOutputsAndFailures"]["Resource"])
    assert "/async-inference/outputs/*" in writes
    assert "/async-inference/failures/*" in writes
    assert "inputs" not in writes
    assert len(statements["PublishNotifications"]["Resource"]) == 2
    assert statements["PullModelImage"]["Resource"] != "*"
    assert "repository/huggingface-pytorch-inference" in json.dumps(statements["PullModelImage"]["Resource"])
    # Only the actions without a resource type use "*".
    star = sorted(a for s in statements.values() if s["Resource"] == "*" for a in _as_list(s["Action"]))
    assert star == ["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"]
    assert statements["EndpointMetrics"]["Condition"]


def test_existing_model_uses_its_role(existing: Synthesized) -> None:
    existing.template.resource_count_is("AWS::SageMaker::Model", 0)
    existing.template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"ModelName": "my-model"})]},
    )
    existing.template.has_resource_properties("AWS::IAM::Policy", {"Roles": ["my-model-role"]})
    (endpoint,) = resources_of(existing, "AWS::SageMaker::Endpoint").values()
    assert any(d.startswith(f"{CONSTRUCT}InferenceExecutionPolicy") for d in endpoint["DependsOn"])


def test_custom_model_artifact_and_instance_storage(synth: Any) -> None:
    s: Synthesized = synth("no-autoscaling")
    s.template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"PrimaryContainer": {"Image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-model:1",
                              "ModelDataUrl": "s3://models-bucket/sentiment/model.tar.gz"}},
    )  # fmt: skip
    (config,) = resources_of(s, "AWS::SageMaker::EndpointConfig").values()
    assert "KmsKeyId" not in config["Properties"]  # ml.g5 has NVMe instance storage
    assert (
        "IncludeInferenceResponseIn"
        not in config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]["NotificationConfig"]
    )
    artifact = [st for st in _statements(s) if st.get("Sid") == "ReadModelArtifact"]
    assert json.dumps(artifact[0]["Resource"]).endswith(':s3:::models-bucket/sentiment/model.tar.gz"]]}')


# --- autoscaling ----------------------------------------------------------------------------------------


def test_autoscaling_backlog_tracking_and_scale_from_zero(default: Synthesized) -> None:
    default.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ResourceId": "endpoint/async-results-demo/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
            "MinCapacity": 0,
            "MaxCapacity": 2,
        },
    )
    default.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 5,
                    "ScaleInCooldown": 600,
                    "ScaleOutCooldown": 300,
                    "CustomizedMetricSpecification": Match.object_like(
                        {
                            "MetricName": "ApproximateBacklogSizePerInstance",
                            "Namespace": "AWS/SageMaker",
                            "Dimensions": [{"Name": "EndpointName", "Value": "async-results-demo"}],
                        }
                    ),
                }
            ),
        },
    )
    default.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "StepScaling",
            "StepScalingPolicyConfiguration": Match.object_like(
                {
                    "AdjustmentType": "ChangeInCapacity",
                    "StepAdjustments": [Match.object_like({"ScalingAdjustment": 1})],
                }
            ),
        },
    )
    default.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Namespace": "AWS/SageMaker",
            "Dimensions": [{"Name": "EndpointName", "Value": "async-results-demo"}],
            "AlarmActions": [{"Ref": Match.string_like_regexp("ScaleOutFromZero")}],
        },
    )
    (target,) = resources_of(default, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert any(d.startswith(f"{CONSTRUCT}InferenceEndpoint") for d in target["DependsOn"])


def test_autoscaling_off(synth: Any) -> None:
    s: Synthesized = synth("no-autoscaling")
    s.template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)
    s.template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 0)


def test_min_capacity_above_zero_has_no_scale_from_zero_policy(synth: Any) -> None:
    s: Synthesized = synth("min-capacity-one")
    s.template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 3}
    )
    s.template.resource_count_is("AWS::ApplicationAutoScaling::ScalingPolicy", 1)
    assert "HasBacklogWithoutCapacity" not in json.dumps(resources_of(s, "AWS::CloudWatch::Alarm"))


# --- table ----------------------------------------------------------------------------------------------


def test_results_table(default: Synthesized) -> None:
    default.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": Match.any_value()},
        },
    )


# --- functions ------------------------------------------------------------------------------------------


def test_functions_runtime_tracing_logs_and_environment(default: Synthesized) -> None:
    functions = _handlers(default)
    assert len(functions) == 3
    readable = {}
    for name, function in functions.items():
        props = function["Properties"]
        assert props["Runtime"] == "python3.14"
        assert props["Architectures"] == ["arm64"]
        recovery = name.startswith(f"{CONSTRUCT}Recovery")
        assert props["Handler"] == (
            env_names.RECOVERY_LAMBDA_HANDLER if recovery else env_names.LAMBDA_HANDLER
        )
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert "LogGroup" in props["LoggingConfig"]
        env = props["Environment"]["Variables"]
        for key in (env_names.RESULTS_BUCKET, env_names.RESULTS_TABLE, env_names.READABLE_LOCATIONS,
                    "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"):  # fmt: skip
            assert key in env
        assert env[env_names.DELIVERY_MODE] == ("buffered" if recovery else "direct")
        assert env[env_names.HANDLER_MODULES] == "handlers"
        assert env[env_names.RESULT_STORE_ENABLED] == "true"
        assert env_names.STEP_FUNCTIONS_CALLBACK_ENABLED not in env  # off: the runtime's default
        assert env_names.EVENT_BUS_NAME not in env
        readable[name.removeprefix(CONSTRUCT).split("Handler")[0]] = json.dumps(
            env[env_names.READABLE_LOCATIONS]
        )
    assert readable["Success"].endswith('"/async-inference/outputs/"]]}')
    assert readable["Error"].endswith('"/async-inference/failures/"]]}')
    assert "/async-inference/outputs/,s3://" in readable["Recovery"]
    assert readable["Recovery"].endswith('"/async-inference/failures/"]]}')
    recovery_env = next(f for n, f in functions.items() if "Recovery" in n)["Properties"]["Environment"][
        "Variables"
    ]
    assert recovery_env[env_names.RECOVERY_ENDPOINT_NAME] == "async-results-demo"
    assert recovery_env[env_names.RECOVERY_REQUIRE_SUBMITTED_RECORD] == "true"
    for name in (env_names.RECOVERY_OUTPUT_LOCATION, env_names.RECOVERY_FAILURE_LOCATION):
        assert name in recovery_env
    # Every log group has a retention period: the functions' and the endpoint's (SageMaker's name).
    default.template.all_resources_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    default.template.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"LogGroupName": "/aws/sagemaker/Endpoints/async-results-demo", "RetentionInDays": 30},
    )
    (group_id,) = [k for k in resources_of(default, "AWS::Logs::LogGroup") if "EndpointLogs" in k]
    (endpoint,) = resources_of(default, "AWS::SageMaker::Endpoint").values()
    assert group_id in endpoint["DependsOn"]


def test_functions_least_privilege(default: Synthesized) -> None:
    for name, policy in resources_of(default, "AWS::IAM::Policy").items():
        if not name.startswith(
            (f"{CONSTRUCT}SuccessHandler", f"{CONSTRUCT}ErrorHandler", f"{CONSTRUCT}Recovery")
        ):
            continue
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        reads = [s for s in statements if s.get("Sid") == "ReadOwnPrefix"]
        assert len(reads) == 1
        if not name.startswith(f"{CONSTRUCT}Recovery"):
            other = "failures" if name.startswith(f"{CONSTRUCT}Success") else "outputs"
            assert other not in json.dumps(reads[0]["Resource"])
        for statement in statements:
            actions = _as_list(statement["Action"])
            assert not any(a.endswith("*") for a in actions), statement  # no wildcard actions
            if statement["Resource"] == "*":
                assert all(a.startswith("xray:") for a in actions), statement
        table = [s for s in statements if "dynamodb:UpdateItem" in _as_list(s["Action"])]
        assert sorted(table[0]["Action"]) == [
            "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        ]  # fmt: skip
    for name, role in resources_of(default, "AWS::IAM::Role").items():
        if not name.startswith(CDK_NOTIFICATIONS_HANDLER):  # aws-cdk-lib's, acknowledged in cdk-nag
            assert "ManagedPolicyArns" not in role["Properties"]


# --- delivery -------------------------------------------------------------------------------------------


def test_direct_delivery(default: Synthesized) -> None:
    # Two delivery dead-letter queues, the recovery queue and its dead-letter queue.
    default.template.resource_count_is("AWS::SQS::Queue", 4)
    default.template.resource_count_is("AWS::Lambda::EventSourceMapping", 1)  # the recovery queue
    default.template.has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "lambda",
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [Match.any_value(), "Arn"]}},
        },
    )
    default.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 21600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}},
        },
    )
    default.template.resource_count_is("AWS::Lambda::EventInvokeConfig", 2)


def test_buffered_delivery(buffered: Synthesized) -> None:
    buffered.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "sqs", "RawMessageDelivery": False}
    )
    buffered.template.resource_count_is("AWS::Lambda::EventInvokeConfig", 0)
    buffered.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 25,
            "MaximumBatchingWindowInSeconds": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    buffered.template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "VisibilityTimeout": 180,  # 6 x 30 s function timeout
            "RedrivePolicy": {"maxReceiveCount": 4, "deadLetterTargetArn": Match.any_value()},
        },
    )
    buffered.template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowTopicToSend",
                                "Principal": {"Service": "sns.amazonaws.com"},
                                "Condition": {"ArnEquals": {"aws:SourceArn": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )
    for function in _handlers(buffered).values():
        assert function["Properties"]["Environment"]["Variables"][env_names.DELIVERY_MODE] == "buffered"


def test_every_queue_is_kms_encrypted_and_ssl_only(default: Synthesized, buffered: Synthesized) -> None:
    for s in (default, buffered):
        queues = resources_of(s, "AWS::SQS::Queue")
        for queue in queues.values():
            assert "Fn::GetAtt" in queue["Properties"]["KmsMasterKeyId"]
        ssl = [
            st for st in _statements(s, "AWS::SQS::QueuePolicy") if "aws:SecureTransport" in json.dumps(st)
        ]
        assert len(ssl) == len(queues)


# --- destinations ---------------------------------------------------------------------------------------


def test_destinations_off_by_default(default: Synthesized) -> None:
    policies = json.dumps(resources_of(default, "AWS::IAM::Policy"))
    assert "events:PutEvents" not in policies
    assert "states:SendTask" not in policies


def test_destinations_on(buffered: Synthesized) -> None:
    statements = _statements(buffered)
    events = [s for s in statements if s["Action"] == "events:PutEvents"]
    assert len(events) == 3  # success, error and recovery functions
    assert "event-bus/results-bus" in json.dumps(events[0]["Resource"])
    sfn = [s for s in statements if s.get("Sid") == "CompleteTaskTokens"]
    assert len(sfn) == 3
    assert sfn[0]["Resource"] == STATE_MACHINE
    send = [s for s in statements if s.get("Sid") == "SendResults"]
    assert len(send) == 3
    for function in _handlers(buffered).values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env[env_names.EVENT_BUS_NAME] == "results-bus"
        assert env[env_names.STEP_FUNCTIONS_CALLBACK_ENABLED] == "true"
        assert env[env_names.RESULT_STORE_ENABLED] == "false"
        assert env_names.RESULTS_QUEUE_URL in env


# --- operations -----------------------------------------------------------------------------------------


def test_alarms_and_dashboard(default: Synthesized, buffered: Synthesized) -> None:
    alarms = json.dumps(resources_of(default, "AWS::CloudWatch::Alarm"))
    assert alarms.count('"MetricName": "Errors"') == 3  # success, error and recovery functions
    # Dead-letter queues: success, error, recovery.
    assert alarms.count("ApproximateNumberOfMessagesVisible") == 3
    # Buffered: success, error, recovery, the results queue destination's.
    assert (
        json.dumps(resources_of(buffered, "AWS::CloudWatch::Alarm")).count(
            "ApproximateNumberOfMessagesVisible"
        )
        == 4
    )
    default.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    body = json.dumps(resources_of(default, "AWS::CloudWatch::Dashboard"))
    for metric in ("ApproximateBacklogSize", "InvocationFailures", "Invocations", "Duration", "Errors",
                   "RequestDownloadFailures", "ResponseUploadFailures", "NumberOfNotificationsFailed"):  # fmt: skip
        assert metric in body
    # The processed count as AWS's monitoring page spells it, and only so.
    assert '\\"InvocationsProcesssed\\"' in body
    assert '\\"InvocationsProcessed\\"' not in body


# --- IAM hygiene ----------------------------------------------------------------------------------------


def test_no_iam_wildcard_actions_or_resources_beyond_the_necessary(
    default: Synthesized, buffered: Synthesized
) -> None:
    allowed_star_actions = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "cloudwatch:PutMetricData",
                            "ecr:GetAuthorizationToken", "sqs:ListQueues"}  # fmt: skip
    for s in (default, buffered):
        for statement in _statements(s):
            if statement["Resource"] == "*":
                assert set(_as_list(statement["Action"])) <= allowed_star_actions, statement
            assert "*" not in _as_list(statement["Action"])
