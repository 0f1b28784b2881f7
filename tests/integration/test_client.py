"""The client library on its own: base install only, construction without CloudFormation, stack discovery
by outputs (any stack name, optional output prefix), and the routing fields of the result record."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sagemaker_async_results import contract
from sagemaker_async_results.client import (
    AsyncInferenceClient,
    InferenceStatus,
    InferenceTimeoutError,
    ResourcesNotFoundError,
    StackResources,
    find_constructs,
)

TABLE = "results"


def test_the_client_imports_nothing_beyond_the_base_install_from_any_directory(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from sagemaker_async_results.client import AsyncInferenceClient\n"
        "extras = ('click', 'rich', 'moto', 'aws_cdk', 'aws_lambda_powertools', 'pydantic', 'cfnlint')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(extras)))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb


def _stack(name: str, prefixes: tuple[str, ...] = ("",)) -> None:
    outputs = {}
    for prefix in prefixes:
        outputs.update(
            {
                prefix + contract.OUTPUT_ENDPOINT_NAME: f"{prefix or name}-endpoint",
                prefix + contract.OUTPUT_BUCKET_NAME: "bkt",
                prefix + contract.OUTPUT_INPUT_PREFIX: "in/",
                prefix + contract.OUTPUT_RESULTS_TABLE_NAME: TABLE,
                prefix + contract.OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL: "https://sqs/dlq",
            }
        )
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=name, TemplateBody=json.dumps(template)
    )


def test_constructs_are_found_by_outputs_with_and_without_prefix(aws: Any) -> None:
    _stack("plain")
    _stack("two-models", prefixes=("Sentiment", "Vision"))
    found = find_constructs(boto3.client("cloudformation", region_name="us-east-1"))
    assert sorted((c.stack_name, c.prefix, c.resources.endpoint_name) for c in found) == [
        ("plain", "", "plain-endpoint"),
        ("two-models", "Sentiment", "Sentiment-endpoint"),
        ("two-models", "Vision", "Vision-endpoint"),
    ]
    vision = next(c for c in found if c.prefix == "Vision")
    assert vision.resources.dead_letter_queues == {"success": "https://sqs/dlq"}
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    with pytest.raises(ResourcesNotFoundError, match="Sentiment"):
        StackResources.from_stack(cloudformation, "two-models")
    client = AsyncInferenceClient.from_stack(
        "two-models", boto3.Session(region_name="us-east-1"), output_prefix="Vision"
    )
    assert client.resources.endpoint_name == "Vision-endpoint"


def test_routing_fields_and_waiting_for_the_handlers(aws: Any) -> None:
    client = AsyncInferenceClient.from_names(
        endpoint_name="ep",
        bucket="bkt",
        input_prefix="in/",
        results_table=TABLE,
        session=boto3.Session(region_name="us-east-1"),
    )
    key = {"pk": {"S": contract.result_key("i1")}}
    aws.put_item(
        TableName=TABLE,
        Item={
            **key,
            "status": {"S": "Completed"},
            contract.ROUTING_ATTRIBUTE: {"S": contract.ROUTING_IN_PROGRESS},
        },
    )
    assert client.wait("i1", timeout=1).status == InferenceStatus.COMPLETED
    with pytest.raises(InferenceTimeoutError):
        client.wait("i1", timeout=0.3, routed=True)
    error = {"reason": {"S": "HandlerFailed"}, "message": {"S": "boom"}, "handler": {"S": "handlers.x.y"}}
    aws.put_item(
        TableName=TABLE,
        Item={
            **key,
            "status": {"S": "Completed"},
            contract.ROUTING_ATTRIBUTE: {"S": contract.ROUTING_FAILED},
            contract.ROUTING_ERROR_ATTRIBUTE: {"M": error},
            contract.ROUTED_TO_ATTRIBUTE: {"L": [{"S": "resultStore"}]},
        },
    )
    record = client.wait("i1", timeout=1, routed=True)
    assert record.routing_failed
    assert record.routing_error == {"reason": "HandlerFailed", "message": "boom", "handler": "handlers.x.y"}
    assert record.routed_to == ("resultStore",)
    assert record.as_dict()["routing"] == contract.ROUTING_FAILED


def test_submitted_record_keeps_what_recovery_needs_and_recovered_is_exposed(aws: Any) -> None:
    session = boto3.Session(region_name="us-east-1")
    session.client("s3").create_bucket(Bucket="bkt")

    class Runtime:
        def invoke_endpoint_async(self, **request: Any) -> dict[str, str]:
            return {"InferenceId": request["InferenceId"], "OutputLocation": "s3://bkt/out/r1.out"}

    client = AsyncInferenceClient(
        StackResources(endpoint_name="ep", bucket="bkt", input_prefix="in/", results_table=TABLE),
        s3=session.client("s3"),
        sagemaker_runtime=Runtime(),
        dynamodb=aws,
    )
    client.invoke(
        b"{}",
        inference_id="r1",
        content_type="text/csv",
        accept="application/json",
        custom_attributes="taskToken=t",
    )
    item = aws.get_item(TableName=TABLE, Key={"pk": {"S": contract.result_key("r1")}})["Item"]
    assert item[contract.SUBMITTED_ENDPOINT_NAME_ATTRIBUTE] == {"S": "ep"}
    assert item[contract.SUBMITTED_CONTENT_TYPE_ATTRIBUTE] == {"S": "text/csv"}
    assert item[contract.SUBMITTED_ACCEPT_ATTRIBUTE] == {"S": "application/json"}
    assert item[contract.SUBMITTED_CUSTOM_ATTRIBUTES_ATTRIBUTE] == {"S": "taskToken=t"}
    assert client.status("r1").recovered is False
    aws.update_item(
        TableName=TABLE,
        Key={"pk": {"S": contract.result_key("r1")}},
        UpdateExpression="SET #s = :c, #r = :t",
        ExpressionAttributeNames={"#s": "status", "#r": contract.RECOVERED_ATTRIBUTE},
        ExpressionAttributeValues={":c": {"S": "Completed"}, ":t": {"BOOL": True}},
    )
    record = client.status("r1")
    assert record.recovered
    assert record.as_dict()["recovered"] is True
