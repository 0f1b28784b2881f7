"""Nothing lost in a real account: every subscription dead-letters, every alarm reaches a person, results
whose notification never arrives are recovered, existing keys are granted, the endpoint is configured for
every region. Asserted on every synthesized variation where it applies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import region_info

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.config import parse_context
from sagemaker_async_results.cdk.constructs.recovery import notification_configuration
from sagemaker_async_results.cdk.constructs.sagemaker_endpoint import has_instance_storage
from tests.infrastructure.conftest import (
    ALARM_TOPIC,
    BUCKET_KEY,
    TOPIC_KEY,
    VARIATIONS,
    Synthesized,
    resources_of,
)

ALL = sorted(VARIATIONS)
SynthFn = Callable[[str], Synthesized]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref_or_arn(value: Any) -> Any:
    """A queue named by ``Fn::GetAtt [id, Arn]`` -> its logical ID; anything else as it is."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return value


def _queue_policies(s: Synthesized) -> dict[str, list[dict[str, Any]]]:
    """Queue logical ID -> the statements of its queue policies."""
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in resources_of(s, "AWS::SQS::QueuePolicy").values():
        for queue in policy["Properties"]["Queues"]:
            found.setdefault(queue["Ref"], []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


# --- 1. every subscription has a dead-letter queue the topic may send to ---------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_subscription_dead_letters_to_a_queue_its_topic_may_send_to(synth: SynthFn, name: str) -> None:
    s = synth(name)
    policies = _queue_policies(s)
    subscriptions = resources_of(s, "AWS::SNS::Subscription")
    assert subscriptions
    for sub_id, subscription in subscriptions.items():
        props = subscription["Properties"]
        assert "RedrivePolicy" in props, f"{sub_id} ({props['Protocol']}) has no dead-letter queue"
        queue = _ref_or_arn(props["RedrivePolicy"]["deadLetterTargetArn"])
        assert queue in resources_of(s, "AWS::SQS::Queue"), queue
        allowed = [
            st
            for st in policies.get(queue, [])
            if st["Effect"] == "Allow"
            and st.get("Principal") == {"Service": "sns.amazonaws.com"}
            and "sqs:SendMessage" in _as_list(st["Action"])
            and st["Condition"]["ArnEquals"]["aws:SourceArn"] == props["TopicArn"]
        ]
        assert allowed, f"{sub_id}: the dead-letter queue's policy does not let {props['TopicArn']} send"


@pytest.mark.parametrize("name", ALL)
def test_every_dead_letter_queue_has_an_alarm(synth: SynthFn, name: str) -> None:
    s = synth(name)
    queues = resources_of(s, "AWS::SQS::Queue")
    dead_letter = {_ref_or_arn(st["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
                   for st in resources_of(s, "AWS::SNS::Subscription").values() if "RedrivePolicy" in st["Properties"]}  # fmt: skip
    dead_letter |= {_ref_or_arn(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
                    for q in queues.values() if "RedrivePolicy" in q["Properties"]}  # fmt: skip
    dead_letter |= {k for k in queues if "DeadLetterQueue" in k}  # Lambda on-failure destinations
    watched = {
        d["Value"]["Fn::GetAtt"][0]
        for alarm in resources_of(s, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for d in alarm["Properties"]["Dimensions"]
    }
    assert dead_letter <= watched, dead_letter - watched


def test_buffered_subscription_dead_letters_like_its_queue(buffered: Synthesized) -> None:
    """SNS -> SQS: the subscription's dead-letter queue is the queue's redrive target (one redrive serves both)."""
    for subscription in resources_of(buffered, "AWS::SNS::Subscription").values():
        props = subscription["Properties"]
        queue_id = props["Endpoint"]["Fn::GetAtt"][0]
        queue = resources_of(buffered, "AWS::SQS::Queue")[queue_id]
        assert (
            queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
            == props["RedrivePolicy"]["deadLetterTargetArn"]
        )


def test_max_receive_count_defaults_to_five(default: Synthesized) -> None:
    assert parse_context({}).delivery.max_receive_count == 5
    recovery = [
        q
        for k, q in resources_of(default, "AWS::SQS::Queue").items()
        if k.startswith("AsyncResultsRecoveryQueue")
    ]
    assert [q["Properties"]["RedrivePolicy"]["maxReceiveCount"] for q in recovery] == [5]


# --- 2. alarms that reach a person ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_alarm_notifies_the_alarm_topic(synth: SynthFn, name: str) -> None:
    s = synth(name)
    topic = s.template_dict["Outputs"][contract.OUTPUT_ALARM_TOPIC_ARN]["Value"]
    for alarm_id, alarm in resources_of(s, "AWS::CloudWatch::Alarm").items():
        actions = alarm["Properties"].get("AlarmActions", [])
        if "HasBacklogWithoutCapacity" in alarm_id:
            # Scaling out from zero instances is routine: its action is the scaling policy, not a page.
            assert actions == [{"Ref": next(k for k in resources_of(s, "AWS::ApplicationAutoScaling::ScalingPolicy")
                                            if "ScaleOutFromZero" in k)}]  # fmt: skip
            continue
        assert actions == [topic], alarm_id


def test_created_alarm_topic_is_encrypted_for_cloudwatch(default: Synthesized) -> None:
    (topic_id,) = [k for k in resources_of(default, "AWS::SNS::Topic") if "AlarmTopic" in k]
    assert default.template_dict["Outputs"][contract.OUTPUT_ALARM_TOPIC_ARN]["Value"] == {"Ref": topic_id}
    topic = resources_of(default, "AWS::SNS::Topic")[topic_id]
    (key_id,) = resources_of(default, "AWS::KMS::Key")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key_policy = json.dumps(resources_of(default, "AWS::KMS::Key")[key_id]["Properties"]["KeyPolicy"])
    assert "cloudwatch.amazonaws.com" in key_policy


def test_existing_alarm_topic_and_email_subscriptions(synth: SynthFn) -> None:
    settings = synth("endpoint-settings")
    assert [k for k in resources_of(settings, "AWS::SNS::Topic") if "AlarmTopic" in k] == []
    assert settings.template_dict["Outputs"][contract.OUTPUT_ALARM_TOPIC_ARN]["Value"] == ALARM_TOPIC
    existing = synth("existing")
    (topic_id,) = [k for k in resources_of(existing, "AWS::SNS::Topic") if "AlarmTopic" in k]
    emails = [
        sub["Properties"]
        for sub in resources_of(existing, "AWS::SNS::Subscription").values()
        if sub["Properties"]["TopicArn"] == {"Ref": topic_id}
    ]
    assert [(e["Protocol"], e["Endpoint"]) for e in emails] == [("email", "oncall@example.com")]
    assert "RedrivePolicy" in emails[0]


def _alarm(s: Synthesized, metric: str) -> list[dict[str, Any]]:
    return [a["Properties"] for a in resources_of(s, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == metric]  # fmt: skip


@pytest.mark.parametrize(
    "metric",
    ["RequestDownloadFailures", "ResponseUploadFailures", "NotificationFailures", "ExpiredRequests",
     "InvocationFailures"],
)  # fmt: skip
def test_per_variant_endpoint_alarms(default: Synthesized, metric: str) -> None:
    (alarm,) = _alarm(default, metric)
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == [
        {"Name": "EndpointName", "Value": "async-results-demo"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_oldest_request_alarm_has_the_endpoint_dimension_only(default: Synthesized, synth: SynthFn) -> None:
    (alarm,) = _alarm(default, "ApproximateAgeOfOldestRequest")
    assert alarm["Namespace"] == "AWS/SageMaker"
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "async-results-demo"}]
    assert (alarm["Threshold"], alarm["Statistic"]) == (1800, "Maximum")
    (configured,) = _alarm(synth("endpoint-settings"), "ApproximateAgeOfOldestRequest")
    assert configured["Threshold"] == 600


@pytest.mark.parametrize("name", ["default", "existing"])
def test_topic_delivery_failure_alarms(synth: SynthFn, name: str) -> None:
    s = synth(name)
    alarms = _alarm(s, "NumberOfNotificationsFailed")
    assert len(alarms) == 2
    names = []
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/SNS"
        ((dimension),) = alarm["Dimensions"]
        assert dimension["Name"] == "TopicName"
        names.append(json.dumps(dimension["Value"]))
    if name == "default":
        topics = [k for k in resources_of(s, "AWS::SNS::Topic") if "AlarmTopic" not in k]
        assert sorted(names) == sorted(json.dumps({"Fn::GetAtt": [t, "TopicName"]}) for t in topics)
    else:
        assert sorted(names) == ['"existing-error"', '"existing-success"']


# --- 3. recovery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "buffered"])
def test_recovery_path(synth: SynthFn, name: str) -> None:
    s = synth(name)
    queues = resources_of(s, "AWS::SQS::Queue")
    (queue_id,) = [k for k in queues if k.startswith("AsyncResultsRecoveryQueue")]
    (dlq_id,) = [k for k in queues if k.startswith("AsyncResultsRecoveryDeadLetterQueue")]
    queue = queues[queue_id]["Properties"]
    assert queue["DelaySeconds"] == 900
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    # CDK's bucket-notifications custom resource, created once the bucket and the queue policy exist:
    # ObjectCreated events of SageMaker's object names only, to the recovery queue, whose policy names
    # exactly this bucket (a bucket's own NotificationConfiguration could not: S3 checks the destination
    # when the bucket is created, before a policy naming it could exist).
    (bucket_id,) = [
        k for k in resources_of(s, "AWS::S3::Bucket") if k.startswith("AsyncResultsStorageBucket")
    ]
    assert "NotificationConfiguration" not in resources_of(s, "AWS::S3::Bucket")[bucket_id]["Properties"]
    (notifications,) = resources_of(s, "Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["BucketName"] == {"Ref": bucket_id}
    assert notifications["Properties"]["Managed"] is True
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    filters = sorted(
        tuple(sorted((r["Name"], r["Value"]) for r in c["Filter"]["Key"]["FilterRules"])) for c in configs
    )
    assert filters == [
        (("prefix", "async-inference/failures/"), ("suffix", "-error.out")),
        (("prefix", "async-inference/outputs/"), ("suffix", ".out")),
    ]
    assert {json.dumps(c["QueueArn"]) for c in configs} == {json.dumps({"Fn::GetAtt": [queue_id, "Arn"]})}
    assert all(c["Events"] == ["s3:ObjectCreated:*"] for c in configs)
    (policy_id,) = [
        k for k in resources_of(s, "AWS::SQS::QueuePolicy") if k.startswith("AsyncResultsRecoveryQueuePolicy")
    ]
    assert policy_id in notifications["DependsOn"]
    (allow,) = [st for st in _queue_policies(s)[queue_id] if st["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [bucket_id, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }
    # The recovery function consumes it with partial batch responses.
    (function_id,) = [
        k for k in resources_of(s, "AWS::Lambda::Function") if k.startswith("AsyncResultsRecoveryHandler")
    ]
    (mapping,) = [m["Properties"] for m in resources_of(s, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}]  # fmt: skip
    assert mapping["FunctionName"] == {"Ref": function_id}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert s.template_dict["Outputs"][contract.OUTPUT_RECOVERY_QUEUE_URL]["Value"] == {"Ref": queue_id}
    assert s.template_dict["Outputs"][contract.OUTPUT_RECOVERY_FUNCTION_NAME]["Value"] == {"Ref": function_id}


def test_recovery_settings_and_existing_bucket(synth: SynthFn) -> None:
    settings = synth("endpoint-settings")
    (queue,) = [q["Properties"] for k, q in resources_of(settings, "AWS::SQS::Queue").items()
                if k.startswith("AsyncResultsRecoveryQueue")]  # fmt: skip
    assert queue["DelaySeconds"] == 300
    (function,) = [f["Properties"] for k, f in resources_of(settings, "AWS::Lambda::Function").items()
                   if k.startswith("AsyncResultsRecoveryHandler")]  # fmt: skip
    assert function["Environment"]["Variables"][contract.RECOVERY_REQUIRE_SUBMITTED_RECORD] == "false"
    # An existing bucket gets the notification through CDK's custom resource, which keeps the bucket's
    # other notifications; the queue policy names exactly that bucket.
    existing = synth("existing")
    (notifications,) = resources_of(existing, "Custom::S3BucketNotifications").values()
    assert notifications["Properties"]["BucketName"] == "my-existing-bucket"
    assert notifications["Properties"]["Managed"] is False
    configs = notifications["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert len(configs) == 2
    (queue_id,) = [
        k for k in resources_of(existing, "AWS::SQS::Queue") if k.startswith("AsyncResultsRecoveryQueue")
    ]
    (allow,) = [st for st in _queue_policies(existing)[queue_id] if st["Effect"] == "Allow"]
    assert json.dumps(allow["Condition"]["ArnEquals"]["aws:SourceArn"]).endswith(
        ':s3:::my-existing-bucket"]]}'
    )


def test_notification_configuration_for_a_local_run() -> None:
    """The same configuration in PutBucketNotificationConfiguration's shape (moto's CloudFormation ignores it)."""
    config = notification_configuration("out/", "err/", "arn:aws:sqs:us-east-1:123456789012:recovery")
    assert config == {
        "QueueConfigurations": [
            {
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:recovery",
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {"FilterRules": [{"Name": "prefix", "Value": p}, {"Name": "suffix", "Value": x}]}
                },
            }
            for p, x in (("out/", ".out"), ("err/", "-error.out"))
        ]
    }


def test_recovery_off(synth: SynthFn) -> None:
    s = synth("no-recovery")
    assert resources_of(s, "Custom::S3BucketNotifications") == {}
    assert contract.OUTPUT_RECOVERY_QUEUE_URL not in s.template_dict["Outputs"]
    assert not [k for k in resources_of(s, "AWS::Lambda::Function") if "Recovery" in k]


# --- 4. existing encrypted resources -------------------------------------------------------------------


def test_existing_keys_are_granted_to_the_execution_role_and_the_functions(synth: SynthFn) -> None:
    s = synth("existing")
    grants: dict[str, set[str]] = {}
    for policy in resources_of(s, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for resource in _as_list(statement["Resource"]):
                if resource in (BUCKET_KEY, TOPIC_KEY):
                    assert "kms:Decrypt" in _as_list(statement["Action"])
                    grants.setdefault(resource, set()).update(
                        json.dumps(r) for r in policy["Properties"].get("Roles", [])
                    )
    # The existing model's role (imported by ARN: its name) and the three functions read the bucket.
    assert '"my-model-role"' in grants[BUCKET_KEY]
    assert len(grants[BUCKET_KEY]) == 4
    assert grants[TOPIC_KEY] == {'"my-model-role"'}


def test_a_key_without_its_existing_resource_is_a_context_error() -> None:
    with pytest.raises(
        ValueError, match="existingBucketKeyArn: expected null unless existingBucketName"
    ) as caught:
        parse_context({"existingBucketKeyArn": BUCKET_KEY, "existingErrorTopicKeyArn": TOPIC_KEY})
    assert "existingErrorTopicKeyArn: expected null unless existingErrorTopicArn" in str(caught.value)


# --- 5 and 7. endpoint settings for real models in every region ---------------------------------------------


def test_sample_image_registry_account_comes_from_the_region_facts(default: Synthesized) -> None:
    mapping = default.template_dict["Mappings"]["DlcRepositoryAccounts"]
    facts = region_info.RegionInfo.region_map(region_info.FactName.DLC_REPOSITORY_ACCOUNT)
    assert {region: row["account"] for region, row in mapping.items()} == facts
    assert mapping["cn-north-1"]["account"] == "727897471807"
    assert mapping["us-east-1"]["account"] == "763104351884"
    template = json.dumps(default.template_dict["Resources"])
    assert "763104351884" not in template  # nothing hard-coded
    find = {"Fn::FindInMap": ["DlcRepositoryAccounts", {"Ref": "AWS::Region"}, "account"]}
    (model,) = resources_of(default, "AWS::SageMaker::Model").values()
    image, variables = model["Properties"]["PrimaryContainer"]["Image"]["Fn::Sub"]
    assert image.startswith("${DlcRepositoryAccount}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/")
    assert variables == {"DlcRepositoryAccount": find}
    pulls = [st for p in resources_of(default, "AWS::IAM::Policy").values()
             for st in p["Properties"]["PolicyDocument"]["Statement"] if st.get("Sid") == "PullModelImage"]  # fmt: skip
    (pull,) = pulls
    assert json.dumps(find) in json.dumps(pull["Resource"])
    assert "repository/huggingface-pytorch-inference" in json.dumps(pull["Resource"])


def test_endpoint_settings_from_context(synth: SynthFn) -> None:
    s = synth("endpoint-settings")
    (config,) = resources_of(s, "AWS::SageMaker::EndpointConfig").values()
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["VolumeSizeInGB"] == 100
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 1200
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 900
    assert "KmsKeyId" not in config["Properties"]  # ml.p5en has local NVMe storage
    (model,) = resources_of(s, "AWS::SageMaker::Model").values()
    assert model["Properties"]["VpcConfig"] == {
        "Subnets": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"],
    }
    statements = [st for p in resources_of(s, "AWS::IAM::Policy").values()
                  for st in p["Properties"]["PolicyDocument"]["Statement"]]  # fmt: skip
    (interfaces,) = [st for st in statements if st.get("Sid") == "VpcNetworkInterfaces"]
    assert "subnet/subnet-0123456789abcdef0" in json.dumps(interfaces["Resource"])


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [("ml.p5en.48xlarge", True), ("ml.trn2.48xlarge", True), ("ml.p6-b200.48xlarge", True),
     ("ml.p6e-gb200.36xlarge", True), ("ml.g6e.xlarge", True), ("ml.m5d.large", True), ("ml.c6id.large", True),
     ("ml.m5.xlarge", False), ("ml.g4.xlarge", False), ("ml.inf2.xlarge", False), ("ml.c7g.large", False)],
)  # fmt: skip
def test_instance_storage_families(instance_type: str, expected: bool) -> None:
    assert has_instance_storage(instance_type) is expected


def test_instance_storage_can_be_declared_in_context(tmp_path: Any) -> None:
    from tests.infrastructure.conftest import synthesize

    s = synthesize({"instanceType": "ml.zz9.xlarge", "instanceLocalStorage": True}, tmp_path)
    (config,) = resources_of(s, "AWS::SageMaker::EndpointConfig").values()
    assert "KmsKeyId" not in config["Properties"]


# --- 6. dead letters outlive their source -------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_every_dead_letter_queue_keeps_messages_longer_than_its_source(synth: SynthFn, name: str) -> None:
    """SQS keeps a message's original enqueue time when it dead-letters it: the DLQ must keep it longer."""
    s = synth(name)
    queues = resources_of(s, "AWS::SQS::Queue")
    sources = {k: q["Properties"] for k, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    assert sources
    for source_id, props in sources.items():
        dlq = queues[_ref_or_arn(props["RedrivePolicy"]["deadLetterTargetArn"])]["Properties"]
        assert props["MessageRetentionPeriod"] == 7 * 86400, source_id
        assert dlq["MessageRetentionPeriod"] == 14 * 86400, source_id
