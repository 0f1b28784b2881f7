"""The local deploy puts a bucket's template NotificationConfiguration through the S3 API (moto's
CloudFormation ignores it), so S3 event notifications (recovery's) reach their queue in the local run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sagemaker_async_results.local.deploy import bucket_notification_configuration


def test_template_notification_configuration_becomes_the_s3_api_shape() -> None:
    queue = {"Fn::GetAtt": ["RecoveryQueue", "Arn"]}
    template: dict[str, Any] = {
        "QueueConfigurations": [
            {
                "Event": "s3:ObjectCreated:*",
                "Filter": {
                    "S3Key": {
                        "Rules": [{"Name": "prefix", "Value": "out/"}, {"Name": "suffix", "Value": ".out"}]
                    }
                },
                "Queue": queue,
            },
            {"Event": "s3:ObjectRemoved:*", "Queue": queue},
        ],
        "TopicConfigurations": [{"Event": "s3:ObjectCreated:Put", "Topic": {"Ref": "Topic"}}],
        "LambdaConfigurations": [{"Event": "s3:ObjectCreated:*", "Function": "arn:fn"}],
    }
    resolved = {"RecoveryQueue": "arn:aws:sqs:us-east-1:123456789012:recovery", "Topic": "arn:aws:sns:t"}

    def resolve(value: Any) -> str:
        return resolved[value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"]]

    assert bucket_notification_configuration(template, resolve) == {
        "QueueConfigurations": [
            {
                "QueueArn": resolved["RecoveryQueue"],
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": "out/"},
                            {"Name": "suffix", "Value": ".out"},
                        ]
                    }
                },
            },
            {"QueueArn": resolved["RecoveryQueue"], "Events": ["s3:ObjectRemoved:*"]},
        ],
        "TopicConfigurations": [{"TopicArn": "arn:aws:sns:t", "Events": ["s3:ObjectCreated:Put"]}],
    }


def _function(tmp_path: Path, max_concurrency: int) -> Any:
    from sagemaker_async_results.local.lambda_runtime import FunctionSpec, LocalFunction

    code = tmp_path / f"code-{max_concurrency}"
    code.mkdir()
    (code / "slow.py").write_text(
        "import os, time\n"
        "def handler(event, context):\n"
        "    time.sleep(event['sleep'])\n"
        "    return {'pid': os.getpid(), 'request': context.aws_request_id}\n"
    )
    spec = FunctionSpec(
        name=f"slow-{max_concurrency}",
        arn=f"arn:aws:lambda:us-east-1:123456789012:function:slow-{max_concurrency}",
        handler="slow.handler",
        environment={},
        code_dir=code,
        timeout_seconds=30,
        max_concurrency=max_concurrency,
    )
    return LocalFunction(spec, {}, tmp_path / "logs")


def test_a_local_function_runs_up_to_its_concurrency_at_once_each_environment_one_at_a_time(
    tmp_path: Path,
) -> None:
    """As on Lambda: 4 executions at once in 4 warm environments (worker processes), never more."""
    from concurrent.futures import ThreadPoolExecutor

    function = _function(tmp_path, max_concurrency=4)
    try:
        function.invoke({"sleep": 0})  # one environment warm; the others start on demand
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(function.invoke, [{"sleep": 1.0}] * 8))
        elapsed = time.monotonic() - started
        assert all(r.ok for r in results), [r.error_message for r in results]
        assert function.peak_concurrency == 4
        assert len({r.payload["pid"] for r in results}) == 4  # four environments, reused
        assert elapsed < 8 * 1.0 - 2  # two rounds of four, not eight in a row (cold starts included)
        assert function.invocations == 9
    finally:
        function.close()
    serial = _function(tmp_path, max_concurrency=1)
    try:
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(serial.invoke, [{"sleep": 0.2}] * 3))
        assert serial.peak_concurrency == 1
        assert len({r.payload["pid"] for r in results}) == 1
    finally:
        serial.close()


def test_embedded_transactions_roll_back_only_their_items_and_run_concurrently() -> None:
    """The local run's moto: a cancelled transaction undoes its own writes, and concurrent ones succeed."""
    from concurrent.futures import ThreadPoolExecutor

    import pytest
    from botocore.exceptions import ClientError

    from sagemaker_async_results.local.emulator import embedded_aws

    with embedded_aws() as aws:
        dynamodb = aws.client("dynamodb")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item={"pk": {"S": "kept"}, "n": {"N": "1"}})

        def update(key: str, value: str, condition: str | None = None) -> dict[str, Any]:
            request: dict[str, Any] = {
                "TableName": "t",
                "Key": {"pk": {"S": key}},
                "UpdateExpression": "SET n = :v",
                "ExpressionAttributeValues": {":v": {"N": value}},
            }
            if condition:
                request["ConditionExpression"] = condition
            return {"Update": request}

        with pytest.raises(ClientError, match="TransactionCanceled"):
            dynamodb.transact_write_items(
                TransactItems=[
                    update("kept", "9"),
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}}}},
                    update("missing", "9", condition="attribute_exists(pk)"),
                ]
            )
        assert dynamodb.get_item(TableName="t", Key={"pk": {"S": "kept"}})["Item"]["n"] == {"N": "1"}
        assert "Item" not in dynamodb.get_item(TableName="t", Key={"pk": {"S": "new"}})

        def transact(index: int) -> None:
            dynamodb.transact_write_items(
                TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": f"c{index}"}}}}]
            )

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(transact, range(200)))
        assert dynamodb.scan(TableName="t", Select="COUNT")["Count"] == 201
