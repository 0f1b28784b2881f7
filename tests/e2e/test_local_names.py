"""The local run as an AWS user sees it: the template's names, plain boto3, the execution role's reach,
a stray profile, a failing handler, and a second deploy against the same external emulator."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator

import boto3
import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.client.client import InferenceStatus
from sagemaker_async_results.local.demo import dead_lettered, routing_cell, with_routing
from sagemaker_async_results.local.emulator import AwsTarget, free_port
from sagemaker_async_results.local.environment import LocalEnvironment
from tests.e2e.conftest import ENDPOINT_NAME, NAMED_HANDLER, RAISING_HANDLER

pytestmark = pytest.mark.slow


def test_endpoint_keeps_the_name_the_template_gives_it(env: LocalEnvironment) -> None:
    assert env.target is not None
    assert env.resources.endpoint_name == ENDPOINT_NAME
    endpoints = env.target.client("sagemaker").list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == [ENDPOINT_NAME]
    stack = env.target.client("cloudformation").describe_stacks(StackName=env.deployed.name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs[contract.OUTPUT_ENDPOINT_NAME] == ENDPOINT_NAME


def test_handler_registered_on_the_endpoint_name_runs(env: LocalEnvironment) -> None:
    client = env.client()
    record = client.wait(client.invoke(b'{"inputs": "by name"}').inference_id, timeout=30, routed=True)
    assert record.status == InferenceStatus.COMPLETED
    assert NAMED_HANDLER in record.routed_to
    assert RAISING_HANDLER not in record.routed_to


def test_plain_boto3_invokes_the_endpoint_by_name_through_endpoint_url_variables(
    env: LocalEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `aws sagemaker-runtime invoke-endpoint-async --endpoint-name ...` does, with the variables
    `serve` prints (the AWS CLI is not installed here; it reads the same variables)."""
    assert env.target is not None
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.target.environment().items():
        monkeypatch.setenv(key, value)
    resources = env.resources
    key = f"{resources.input_prefix}plain-{uuid.uuid4()}.json"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=resources.bucket, Key=key, Body=b'{"inputs": "plain boto3"}')
    response = boto3.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName=ENDPOINT_NAME,
        InputLocation=f"s3://{resources.bucket}/{key}",
        ContentType="application/json",
    )
    record = env.client().wait(response["InferenceId"], timeout=30)
    assert record.status == InferenceStatus.COMPLETED
    assert record.output_location == response["OutputLocation"]


def test_input_the_execution_role_cannot_read_fails_like_sagemaker(env: LocalEnvironment) -> None:
    assert env.target is not None
    resources = env.resources
    key = f"not-an-input/{uuid.uuid4()}.json"
    env.target.client("s3").put_object(Bucket=resources.bucket, Key=key, Body=b'{"inputs": "elsewhere"}')
    client = env.client()
    submission = client.invoke(f"s3://{resources.bucket}/{key}")
    record = client.wait(submission.inference_id, timeout=30)
    assert record.status == InferenceStatus.FAILED
    assert record.failure_reason is not None
    assert "Access Denied" in record.failure_reason
    assert f"s3://{resources.bucket}/{resources.input_prefix}" in record.failure_reason
    output_key = submission.output_location.split("/", 3)[3]
    listed = env.target.client("s3").list_objects_v2(Bucket=resources.bucket, Prefix=output_key)
    assert listed.get("KeyCount", 0) == 0, "the model must not have run"


def test_a_raising_handler_is_reported_as_a_routing_failure(env: LocalEnvironment) -> None:
    assert env.target is not None
    client = env.client()
    submission = client.invoke(b'{"inputs": "refused"}', custom_attributes="probe=raise")
    client.wait(submission.inference_id, timeout=30)
    assert env.wait_idle(timeout=60)
    try:
        record = with_routing(client.status(submission.inference_id), dead_lettered(env))
        assert record.status == InferenceStatus.COMPLETED  # the inference itself succeeded
        assert record.routing == contract.ROUTING_FAILED
        assert record.routing_error is not None
        assert "FAILED" in routing_cell(record)
        if env.resources.outputs.get(contract.OUTPUT_SUCCESS_QUEUE_URL) is None:  # direct: Lambda says why
            assert "probe handler refuses" in record.routing_error["message"]
    finally:
        _drain(env, env.resources.dead_letter_queues.values())


def _drain(env: LocalEnvironment, urls: Iterable[str]) -> None:
    """Delete every message (PurgeQueue is allowed once a minute, other tests use it)."""
    assert env.target is not None
    sqs = env.target.client("sqs")
    for url in urls:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def external_emulator() -> Iterator[str]:
    """A standalone moto server in its own process, as a user would run one next to the local run."""
    port = free_port()
    script = (
        "import time; from moto.server import ThreadedMotoServer; "
        f"ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False).start(); time.sleep(3600)"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen([sys.executable, "-c", script], env=environment)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the standalone moto server did not start") from None
            time.sleep(0.2)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def test_deploying_twice_to_the_same_external_emulator_updates_the_stack(
    env: LocalEnvironment, external_emulator: str, request: pytest.FixtureRequest
) -> None:
    if request.node.callspec.params.get("env") != "direct":
        pytest.skip("one delivery mode is enough: this reuses the synthesized app")
    for run in (1, 2):
        target = AwsTarget(external_emulator)
        with LocalEnvironment(
            env.cdk_out, log_dir=env.cdk_out / f"logs-external-{run}", target=target
        ) as again:
            assert again.resources.endpoint_name == ENDPOINT_NAME
            client = again.client()
            record = client.wait(
                client.invoke(json.dumps({"inputs": f"run {run}"}).encode()).inference_id, 30
            )
            assert record.status == InferenceStatus.COMPLETED, f"run {run}"
    stacks = target.client("cloudformation").describe_stacks()["Stacks"]
    assert len(stacks) == 1
    assert stacks[0]["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
