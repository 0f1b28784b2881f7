"""The async endpoint simulator against moto: it must honour the deployed endpoint config like SageMaker."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sagemaker_async_results.local.model import ModelOutput, sentiment_model
from sagemaker_async_results.local.sagemaker_api import support_update_endpoint
from sagemaker_async_results.local.simulator import (
    TIMEOUT_FAILURE_REASON,
    AsyncEndpointSimulator,
    EndpointValidationError,
)

BUCKET = "simulator-bucket"


@dataclass
class Endpoint:
    simulator: AsyncEndpointSimulator
    s3: Any
    sqs: Any
    success_queue: str
    error_queue: str

    def notifications(self, queue_url: str) -> list[dict[str, Any]]:
        messages = []
        while batch := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages

    def results(self, queue_url: str) -> list[dict[str, Any]]:
        return [m for m in self.notifications(queue_url) if m.get("eventName") == "InferenceResult"]


def _deploy(
    model: Any,
    *,
    per_instance: int = 4,
    include: tuple[str, ...] = ("SUCCESS_NOTIFICATION_TOPIC",),
    role_policy: dict[str, Any] | None = None,
) -> Endpoint:
    """An endpoint like the construct's; ``role_policy`` is the execution role's inline policy, which the
    simulator then honours (without it the simulator is given no IAM client and reads any input)."""
    s3, sns, sqs, sagemaker = (boto3.client(name) for name in ("s3", "sns", "sqs", "sagemaker"))
    iam = None
    role_arn = "arn:aws:iam::123456789012:role/sagemaker"
    if role_policy is not None:
        iam = boto3.client("iam")
        role_arn = iam.create_role(RoleName="sagemaker", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        iam.put_role_policy(RoleName="sagemaker", PolicyName="inline", PolicyDocument=json.dumps(role_policy))
    s3.create_bucket(Bucket=BUCKET)
    queues = {}
    topics = {}
    for kind in ("success", "error"):
        topics[kind] = sns.create_topic(Name=f"{kind}-topic")["TopicArn"]
        queues[kind] = sqs.create_queue(QueueName=f"{kind}-queue")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queues[kind], AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topics[kind], Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn=role_arn,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
        AsyncInferenceConfig={
            "ClientConfig": {"MaxConcurrentInvocationsPerInstance": per_instance},
            "OutputConfig": {
                "S3OutputPath": f"s3://{BUCKET}/out/",
                "S3FailurePath": f"s3://{BUCKET}/fail/",
                "NotificationConfig": {
                    "SuccessTopic": topics["success"],
                    "ErrorTopic": topics["error"],
                    "IncludeInferenceResponseIn": list(include),
                },
            },
        },
    )
    sagemaker.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")
    simulator = AsyncEndpointSimulator(s3=s3, sns=sns, sagemaker=sagemaker, model=model, iam=iam)
    simulator.start_endpoint("ep")
    return Endpoint(simulator, s3, sqs, queues["success"], queues["error"])


@pytest.fixture
def aws() -> Iterator[None]:
    support_update_endpoint()  # as the embedded emulator does
    with mock_aws():
        yield


def _put_input(endpoint: Endpoint, name: str, body: bytes) -> str:
    endpoint.s3.put_object(Bucket=BUCKET, Key=f"in/{name}", Body=body)
    return f"s3://{BUCKET}/in/{name}"


def test_start_sends_the_test_notification_to_both_topics(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    test = {"eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "TestNotification"}
    assert endpoint.notifications(endpoint.success_queue) == [test]
    assert endpoint.notifications(endpoint.error_queue) == [test]


def test_success_writes_the_output_and_notifies_with_the_inline_response(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    endpoint.notifications(endpoint.success_queue)
    body = b'{"inputs": "good"}'
    response = endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep",
        InputLocation=_put_input(endpoint, "a", body),
        ContentType="application/json",
        InferenceId="req-1",
        CustomAttributes="tenant=acme",
    )
    endpoint.simulator.drain(timeout=10)
    assert response == {
        "InferenceId": "req-1",
        "OutputLocation": f"s3://{BUCKET}/out/req-1.out",
        "FailureLocation": f"s3://{BUCKET}/fail/req-1-error.out",
    }
    expected = sentiment_model(body, "application/json").body
    assert endpoint.s3.get_object(Bucket=BUCKET, Key="out/req-1.out")["Body"].read() == expected
    (message,) = endpoint.results(endpoint.success_queue)
    assert message["invocationStatus"] == "Completed"
    assert message["inferenceId"] == "req-1"
    assert message["requestParameters"]["customAttributes"] == "tenant=acme"
    assert message["requestParameters"]["inputLocation"] == f"s3://{BUCKET}/in/a"
    assert message["responseParameters"]["outputLocation"] == response["OutputLocation"]
    assert base64.b64decode(message["responseBody"]["content"]) == expected
    assert message["receivedTime"] <= message["eventTime"]


def test_model_error_writes_the_failure_payload_to_the_error_topic_without_inline_body(aws: None) -> None:
    endpoint = _deploy(sentiment_model)  # IncludeInferenceResponseIn: success topic only
    endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep", Body=b'{"fail": "oom"}', ContentType="application/json", InferenceId="bad"
    )
    endpoint.simulator.drain(timeout=10)
    assert endpoint.results(endpoint.success_queue) == []
    (message,) = endpoint.results(endpoint.error_queue)
    assert message["invocationStatus"] == "Failed"
    assert message["failureReason"].startswith("ClientError: Received server error (500) from model.")
    assert message["responseParameters"]["failureLocation"] == f"s3://{BUCKET}/fail/bad-error.out"
    assert "responseBody" not in message
    stored = endpoint.s3.get_object(Bucket=BUCKET, Key="fail/bad-error.out")["Body"].read()
    assert json.loads(stored) == {"code": "ModelFailure", "message": "oom"}


def test_outputs_above_128_kb_are_not_inlined(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep", Body=b'{"inputs": "x", "pad_bytes": 140000}', ContentType="application/json"
    )
    endpoint.simulator.drain(timeout=10)
    (message,) = endpoint.results(endpoint.success_queue)
    assert "responseBody" not in message


def test_concurrency_is_max_invocations_per_instance_times_instances(aws: None) -> None:
    running = peak = 0
    lock = threading.Lock()

    def slow_model(body: bytes, content_type: str, custom_attributes: str | None) -> ModelOutput:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return ModelOutput(b"{}")

    endpoint = _deploy(slow_model, per_instance=2)
    for _ in range(6):
        endpoint.simulator.invoke_endpoint_async(
            EndpointName="ep", Body=b"{}", ContentType="application/json"
        )
    endpoint.simulator.drain(timeout=10)
    assert peak == 2
    assert endpoint.simulator.outcomes["completed"] == 6


def test_invocation_timeout_fails_the_request_at_once_with_a_failure_object_and_notification(
    aws: None,
) -> None:
    release = threading.Event()

    def stuck(body: bytes, content_type: str, custom_attributes: str | None) -> ModelOutput:
        release.wait(10)
        return ModelOutput(b'{"late": true}')

    endpoint = _deploy(stuck)
    endpoint.notifications(endpoint.success_queue)
    endpoint.notifications(endpoint.error_queue)
    started = time.monotonic()
    response = endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep",
        Body=b"{}",
        ContentType="application/json",
        InferenceId="slow",
        InvocationTimeoutSeconds=1,
    )
    endpoint.simulator.drain(timeout=10)
    took = time.monotonic() - started
    release.set()
    assert took < 3, f"the timed-out request ended after {took:.1f} s, expected about 1 s"
    assert endpoint.simulator.outcomes["timed_out"] == 1
    assert endpoint.simulator.outcomes["failed"] == 1
    assert endpoint.results(endpoint.success_queue) == []
    (message,) = endpoint.results(endpoint.error_queue)
    assert message["invocationStatus"] == "Failed"
    assert message["inferenceId"] == "slow"
    assert message["failureReason"] == TIMEOUT_FAILURE_REASON.format(seconds=1)
    assert message["responseParameters"]["failureLocation"] == response["FailureLocation"]
    stored = json.loads(endpoint.s3.get_object(Bucket=BUCKET, Key="fail/slow-error.out")["Body"].read())
    assert stored["code"] == "InvocationTimeout"
    assert stored["invocationTimeoutSeconds"] == 1
    # The model's late answer is dropped: no output object, no second notification.
    time.sleep(0.2)
    assert "Contents" not in endpoint.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")
    assert endpoint.results(endpoint.success_queue) == []


def _async_config(name: str, output: str, topic: str | None = None) -> None:
    sagemaker = boto3.client("sagemaker")
    notification = {"NotificationConfig": {"SuccessTopic": topic, "ErrorTopic": topic}} if topic else {}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": output, **notification}},
    )


def test_an_endpoint_created_through_the_api_later_is_served_on_its_first_request(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    topic = boto3.client("sns").create_topic(Name="sdk-topic")["TopicArn"]
    _async_config("sdk-cfg", f"s3://{BUCKET}/sdk-out", topic)
    boto3.client("sagemaker").create_endpoint(EndpointName="sdk-ep", EndpointConfigName="sdk-cfg")
    response = endpoint.simulator.invoke_endpoint_async(
        EndpointName="sdk-ep", Body=b'{"inputs": "hi"}', ContentType="application/json", InferenceId="s1"
    )
    endpoint.simulator.drain(timeout=10)
    assert response["OutputLocation"] == f"s3://{BUCKET}/sdk-out/s1.out"
    assert "FailureLocation" not in response
    assert endpoint.s3.get_object(Bucket=BUCKET, Key="sdk-out/s1.out")["Body"].read() == (
        sentiment_model(b'{"inputs": "hi"}', "application/json").body
    )
    assert set(endpoint.simulator.endpoints) == {"ep", "sdk-ep"}
    assert endpoint.simulator.endpoints["sdk-ep"].success_topic == topic


def test_update_endpoint_swaps_the_served_config_for_the_next_requests(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    endpoint.simulator._refresh_seconds = 0  # read the config on every request
    first = endpoint.simulator.invoke_endpoint_async(EndpointName="ep", Body=b"{}", InferenceId="before")
    _async_config("cfg-2", f"s3://{BUCKET}/attached/")
    boto3.client("sagemaker").update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    second = endpoint.simulator.invoke_endpoint_async(EndpointName="ep", Body=b"{}", InferenceId="after")
    endpoint.simulator.drain(timeout=10)
    assert first["OutputLocation"] == f"s3://{BUCKET}/out/before.out"
    assert second["OutputLocation"] == f"s3://{BUCKET}/attached/after.out"
    assert endpoint.simulator.endpoints["ep"].config_name == "cfg-2"
    assert endpoint.simulator.outcomes["completed"] == 2


def test_a_config_is_trusted_for_the_refresh_interval(aws: None) -> None:
    endpoint = _deploy(sentiment_model)  # default interval: 1 s
    _async_config("cfg-2", f"s3://{BUCKET}/attached/")
    boto3.client("sagemaker").update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    assert endpoint.simulator.endpoint("ep").config_name == "cfg"
    time.sleep(1.05)
    assert endpoint.simulator.endpoint("ep").config_name == "cfg-2"


def test_unknown_and_real_time_endpoints_are_refused_with_what_was_expected(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    with pytest.raises(EndpointValidationError, match="Endpoint nope not found"):
        endpoint.simulator.invoke_endpoint_async(EndpointName="nope", Body=b"{}")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_endpoint_config(
        EndpointConfigName="rt",
        ProductionVariants=[
            {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    sagemaker.create_endpoint(EndpointName="real-time", EndpointConfigName="rt")
    with pytest.raises(
        EndpointValidationError, match=r"real-time is not an asynchronous endpoint.*rt has no"
    ):
        endpoint.simulator.invoke_endpoint_async(EndpointName="real-time", Body=b"{}")


def test_request_limits_are_checked_and_every_problem_is_named(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    with pytest.raises(EndpointValidationError) as info:
        endpoint.simulator.invoke_endpoint_async(
            EndpointName="ep",
            InputLocation="not-an-s3-uri",
            InferenceId="x" * 65,
            CustomAttributes="é",
            RequestTTLSeconds=30,
            InvocationTimeoutSeconds=4000,
        )
    message = str(info.value)
    for expected in (
        "InputLocation",
        "InferenceId",
        "CustomAttributes",
        "RequestTTLSeconds",
        "InvocationTimeoutSeconds",
    ):
        assert expected in message
    with pytest.raises(EndpointValidationError, match="Endpoint nope not found"):
        endpoint.simulator.invoke_endpoint_async(EndpointName="nope", Body=b"{}")


def _read_grant(*resources: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": list(resources)},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        ],
    }


def test_input_outside_the_execution_roles_read_grant_fails_like_a_download_failure(aws: None) -> None:
    calls = []

    def model(body: bytes, content_type: str, custom_attributes: str | None) -> ModelOutput:
        calls.append(body)
        return sentiment_model(body, content_type)

    endpoint = _deploy(model, role_policy=_read_grant(f"arn:aws:s3:::{BUCKET}/in/*"))
    assert endpoint.simulator.endpoint("ep").readable_inputs == (f"{BUCKET}/in/*",)
    endpoint.notifications(endpoint.error_queue)
    endpoint.s3.put_object(Bucket=BUCKET, Key="secrets/a", Body=b'{"inputs": "x"}')
    # Accepted like SageMaker accepts it (the download happens later, with the role)...
    response = endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep", InputLocation=f"s3://{BUCKET}/secrets/a", ContentType="application/json"
    )
    endpoint.simulator.drain(timeout=10)
    # ...then failed without running the model or writing anything.
    assert calls == []
    (message,) = endpoint.results(endpoint.error_queue)
    assert message["invocationStatus"] == "Failed"
    assert message["inferenceId"] == response["InferenceId"]
    assert message["failureReason"].startswith("ClientError: Failed to download")
    assert "Access Denied" in message["failureReason"]
    assert f"s3://{BUCKET}/in/*" in message["failureReason"]
    assert "responseParameters" not in message
    assert endpoint.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/").get("KeyCount", 0) == 0
    # Inside the grant, the same request works.
    endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep", InputLocation=_put_input(endpoint, "ok", b'{"inputs": "y"}')
    )
    endpoint.simulator.drain(timeout=10)
    assert len(calls) == 1
    assert endpoint.simulator.outcomes["download_failed"] == 1


def test_wildcard_actions_and_resources_in_the_role_policy_are_honoured(aws: None) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*"], "Resource": "*"}],
    }
    endpoint = _deploy(sentiment_model, role_policy=policy)
    assert endpoint.simulator.endpoint("ep").may_read(f"s3://{BUCKET}/anything/at/all")
    denied = _settings_without_read_grant()
    assert not denied.may_read(f"s3://{BUCKET}/in/a")


def _settings_without_read_grant() -> Any:
    """Settings of a role that grants no s3:GetObject at all: every input is refused."""
    from sagemaker_async_results.local.simulator import EndpointSettings

    return EndpointSettings(
        endpoint_name="ep",
        output_path=f"s3://{BUCKET}/out",
        failure_path=None,
        success_topic=None,
        error_topic=None,
        include_response_in=frozenset(),
        max_concurrency=1,
        readable_inputs=(),
    )


def test_lost_notifications_leave_the_output_written_and_publish_nothing(aws: None) -> None:
    endpoint = _deploy(sentiment_model)
    endpoint.notifications(endpoint.success_queue)
    endpoint.notifications(endpoint.error_queue)
    endpoint.simulator.lose_notifications(1, inference_ids=["named"])
    for inference_id, body in (("first", b'{"inputs": "a"}'), ("named", b'{"fail": "x"}')):
        endpoint.simulator.invoke_endpoint_async(
            EndpointName="ep", Body=body, ContentType="application/json", InferenceId=inference_id
        )
        endpoint.simulator.drain(timeout=10)
    endpoint.simulator.invoke_endpoint_async(
        EndpointName="ep", Body=b'{"inputs": "b"}', ContentType="application/json", InferenceId="third"
    )
    endpoint.simulator.drain(timeout=10)
    assert [m["inferenceId"] for m in endpoint.results(endpoint.success_queue)] == ["third"]
    assert endpoint.results(endpoint.error_queue) == []
    assert set(endpoint.simulator.lost_notifications) == {"first", "named"}
    assert endpoint.s3.get_object(Bucket=BUCKET, Key="out/first.out")["Body"].read()
    assert endpoint.s3.get_object(Bucket=BUCKET, Key="fail/named-error.out")["Body"].read()
    topic, message = endpoint.simulator.lost_notifications["named"]
    assert topic.endswith(":error-topic")
    assert json.loads(message)["invocationStatus"] == "Failed"
    assert endpoint.simulator.outcomes["notification_failed"] == 2


def test_simulate_principal_policy_evaluates_the_roles_identity_policies(aws: None) -> None:
    iam = boto3.client("iam")
    arn = iam.create_role(RoleName="exec", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="exec",
        PolicyName="p",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "ecr:Get*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "ecr:GetDownloadUrlForLayer", "Resource": "*"},
                ],
            }
        ),
    )
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["ecr:GetAuthorizationToken", "ecr:GetDownloadUrlForLayer", "s3:GetObject"],
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "ecr:GetAuthorizationToken": "allowed",
        "ecr:GetDownloadUrlForLayer": "explicitDeny",
        "s3:GetObject": "implicitDeny",
    }


def test_describe_calls_leave_out_members_the_resource_does_not_have(aws: None) -> None:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="m",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1"},
    )
    described = sagemaker.describe_model(ModelName="m")
    assert "VpcConfig" not in described  # SageMaker omits it; SDK v3's typed Model rejects {}
    assert described["PrimaryContainer"]["Image"].endswith("/m:1")
    _async_config("plain-config", f"s3://{BUCKET}/out/")
    sagemaker.create_endpoint(EndpointName="plain", EndpointConfigName="plain-config")
    assert "DataCaptureConfig" not in sagemaker.describe_endpoint_config(EndpointConfigName="plain-config")
    assert "DataCaptureConfig" not in sagemaker.describe_endpoint(EndpointName="plain")
