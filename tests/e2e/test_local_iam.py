"""Enforced permissions on the repository's app deployed locally (the session's ``env``, both delivery modes).

Each function runs with its own execution role's credentials and the endpoint with the SageMaker execution
role's: what the construct grants works, anything else is refused as AWS refuses it, and a whole run of
results goes through without one refusal (the deployed roles suffice).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagemaker_async_results import contract
from sagemaker_async_results.client.client import InferenceStatus
from sagemaker_async_results.local import iam
from sagemaker_async_results.local.environment import LocalEnvironment

pytestmark = pytest.mark.slow


def _success_handler(env: LocalEnvironment) -> tuple[str, Any]:
    """The success handler's name and a target signed with its execution role's credentials."""
    assert env.target is not None
    name = env.resources.outputs[contract.OUTPUT_SUCCESS_FUNCTION_NAME]
    credentials = env.deployed.function_credentials[name]
    return name, env.target.as_role(credentials)


def test_each_function_runs_with_its_own_execution_roles_credentials(env: LocalEnvironment) -> None:
    roles = {env.deployed.function_roles[name] for name in env.functions}
    assert len(roles) == len(env.functions)  # one role per function, as the construct deploys them
    for name, function in env.functions.items():
        worker = function._environment
        assert worker["AWS_ACCESS_KEY_ID"] == env.deployed.function_credentials[name]["AWS_ACCESS_KEY_ID"]
        assert worker["AWS_ACCESS_KEY_ID"] != "testing"
        assert worker["AWS_SESSION_TOKEN"] == env.deployed.function_credentials[name]["AWS_SESSION_TOKEN"]


def test_the_construct_grants_the_results_table_and_nothing_else(env: LocalEnvironment) -> None:
    assert env.target is not None
    name, role = _success_handler(env)
    admin = env.target.client("dynamodb")
    other = "iam-e2e-ungranted"
    if other not in admin.list_tables()["TableNames"]:
        admin.create_table(
            TableName=other,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    dynamodb = role.client("dynamodb")
    item = {"pk": {"S": "iam-e2e#probe"}}

    dynamodb.put_item(TableName=env.resources.results_table, Item=item)  # granted by the construct
    with pytest.raises(ClientError) as refused:
        dynamodb.put_item(TableName=other, Item=item)

    role_name = env.deployed.function_roles[name].rsplit("/", 1)[-1]
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused.value.response["Error"]["Message"] == (
        # the session is named after the function (at most 64 characters, as STS allows)
        f"User: arn:aws:sts::123456789012:assumed-role/{role_name}/{name[:64]} is not authorized to perform: "
        f"dynamodb:PutItem on resource: arn:aws:dynamodb:{env.target.region}:123456789012:table/{other} "
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    with pytest.raises(ClientError, match=r"dynamodb:Scan on resource"):
        dynamodb.scan(TableName=env.resources.results_table)  # the handlers never scan


def test_only_the_endpoints_role_may_publish_results(env: LocalEnvironment) -> None:
    topic = env.resources.outputs[contract.OUTPUT_SUCCESS_TOPIC_ARN]
    _, handler = _success_handler(env)
    with pytest.raises(ClientError) as refused:
        handler.client("sns").publish(TopicArn=topic, Message=json.dumps({"forged": True}))
    assert refused.value.response["Error"]["Code"] == "AuthorizationError"
    assert refused.value.response["Error"]["Message"].endswith(
        f"sns:Publish on resource: {topic} with an explicit deny in a resource-based policy"
    )


def test_a_run_of_results_needs_no_permission_the_stack_does_not_grant(env: LocalEnvironment) -> None:
    iam.DENIALS.clear()
    client = env.client()
    submissions = [
        client.invoke(json.dumps(payload).encode(), content_type="application/json")
        for payload in (
            {"inputs": "a fine day"},
            {"fail": "bad input"},
            {"inputs": "big", "pad_bytes": 300_000},
        )
    ]
    records = [client.wait(s.inference_id, timeout=60, routed=True) for s in submissions]

    assert [r.status for r in records] == [
        InferenceStatus.COMPLETED,
        InferenceStatus.FAILED,
        InferenceStatus.COMPLETED,
    ]
    env.wait_idle(timeout=30)
    assert [d.explain() for d in iam.DENIALS.all()] == []
