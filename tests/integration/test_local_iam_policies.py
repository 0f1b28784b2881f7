"""The local run's policy evaluation and resource determination, without an emulator (fast).

The policies are the shapes the construct deploys: an SSL-only deny, a publisher-only topic policy, a key
policy delegating to the account, least-privilege grants on one table; the requests name their resources
as boto3 sends them.
"""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_async_results.local.iam import (
    ANY_RESOURCE,
    BASE_CONTEXT,
    Check,
    Principal,
    RequestView,
    checks_for,
    evaluate,
)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Publisher"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Publisher/SageMaker"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:results-success"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/results"
PUBLISHER = Principal(arn=SESSION, account=ACCOUNT, principal_arn=ROLE, name="Publisher")
OTHER = Principal(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Handler/fn",
    account=ACCOUNT,
    principal_arn=f"arn:aws:iam::{ACCOUNT}:role/Handler",
    name="Handler",
)


def _context(principal: Principal) -> dict[str, str]:
    return {**BASE_CONTEXT, "aws:PrincipalArn": principal.principal_arn, "aws:PrincipalAccount": ACCOUNT}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


#: The construct's topic policy: SSL only, the SageMaker role may publish, nobody else.
TOPIC_POLICY = _policy(
    {
        "Sid": "AllowPublishThroughSSLOnly",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sns:Publish",
        "Resource": TOPIC,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
    {"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sns:Publish", "Resource": TOPIC},
    {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "sns:Publish",
        "Resource": TOPIC,
        "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ROLE}},
    },
)
PUBLISH_GRANT = _policy({"Effect": "Allow", "Action": "sns:Publish", "Resource": [TOPIC]})


def test_the_publisher_role_may_publish_through_the_topic_policy_and_its_grant() -> None:
    check = Check("sns:Publish", TOPIC)
    assert evaluate(check, PUBLISHER, [PUBLISH_GRANT], [TOPIC_POLICY], _context(PUBLISHER)) is None


def test_a_publisher_only_topic_policy_denies_another_role_even_with_a_grant() -> None:
    reason = evaluate(Check("sns:Publish", TOPIC), OTHER, [PUBLISH_GRANT], [TOPIC_POLICY], _context(OTHER))
    assert reason == "with an explicit deny in a resource-based policy"


def test_the_ssl_only_deny_applies_to_a_request_that_is_not_over_tls() -> None:
    context = {**_context(PUBLISHER), "aws:SecureTransport": "false"}
    reason = evaluate(Check("sns:Publish", TOPIC), PUBLISHER, [PUBLISH_GRANT], [TOPIC_POLICY], context)
    assert reason == "with an explicit deny in a resource-based policy"


def test_a_grant_on_one_table_allows_that_table_only_and_names_the_missing_action() -> None:
    grant = _policy(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": TABLE}
    )
    context = _context(OTHER)
    assert evaluate(Check("dynamodb:PutItem", TABLE), OTHER, [grant], [], context) is None
    assert evaluate(Check("dynamodb:PutItem", TABLE + "-other"), OTHER, [grant], [], context) == (
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert evaluate(Check("dynamodb:Scan", TABLE), OTHER, [grant], [], context) == (
        "because no identity-based policy allows the dynamodb:Scan action"
    )


def test_an_allow_whose_condition_does_not_hold_grants_nothing_and_denies_nothing() -> None:
    conditional = _policy(
        {
            "Effect": "Allow",
            "Action": "dynamodb:PutItem",
            "Resource": TABLE,
            "Condition": {"StringEquals": {"aws:PrincipalAccount": "999999999999"}},
        }
    )
    plain = _policy({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE})
    context = _context(OTHER)
    assert evaluate(Check("dynamodb:PutItem", TABLE), OTHER, [conditional], [], context) == (
        "because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert evaluate(Check("dynamodb:PutItem", TABLE), OTHER, [conditional, plain], [], context) is None


KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_KEY_POLICY = _policy(
    {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
)


def test_a_key_policy_delegating_to_the_account_leaves_the_decision_to_the_role() -> None:
    grant = _policy({"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": KEY})
    context = _context(OTHER)
    check = Check("kms:GenerateDataKey", KEY)
    assert evaluate(check, OTHER, [grant], [ROOT_KEY_POLICY], context, resource_policy_required=True) is None
    assert evaluate(check, OTHER, [], [ROOT_KEY_POLICY], context, resource_policy_required=True) == (
        "because no identity-based policy allows the kms:GenerateDataKey action"
    )


def test_a_key_policy_that_neither_names_nor_delegates_refuses_even_a_granted_role() -> None:
    other_only = _policy({"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "kms:*", "Resource": "*"})
    grant = _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    reason = evaluate(
        Check("kms:Decrypt", KEY),
        OTHER,
        [grant],
        [other_only],
        _context(OTHER),
        resource_policy_required=True,
    )
    assert reason == "because no resource-based policy allows the kms:Decrypt action"


def _request(service: str, action: str, **params: Any) -> RequestView:
    return RequestView(service=service, action=action, account=ACCOUNT, region="us-east-1", params=params)


@pytest.mark.parametrize(
    ("request_view", "expected"),
    [
        (
            _request("dynamodb", "UpdateItem", TableName="results"),
            [Check("dynamodb:UpdateItem", TABLE)],
        ),
        (
            _request("dynamodb", "Query", TableName="results", IndexName="byStatus"),
            [Check("dynamodb:Query", TABLE + "/index/byStatus")],
        ),
        (
            _request(
                "dynamodb",
                "TransactWriteItems",
                TransactItems=[
                    {"Put": {"TableName": "results"}},
                    {"Update": {"TableName": "claims"}},
                    {"ConditionCheck": {"TableName": "results"}},
                ],
            ),
            [
                Check("dynamodb:PutItem", TABLE),
                Check("dynamodb:UpdateItem", TABLE.replace("results", "claims")),
                Check("dynamodb:ConditionCheckItem", TABLE),
            ],
        ),
        (
            _request("dynamodb", "BatchGetItem", RequestItems={"results": {}}),
            [Check("dynamodb:BatchGetItem", TABLE)],
        ),
        (_request("sns", "Publish", TopicArn=TOPIC), [Check("sns:Publish", TOPIC)]),
        (_request("sns", "PublishBatch", TopicArn=TOPIC), [Check("sns:Publish", TOPIC)]),
        (
            _request("kinesis", "PutRecords", StreamName="results"),
            [Check("kinesis:PutRecords", f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/results")],
        ),
        (
            _request("events", "PutEvents", Entries=[{"EventBusName": "results"}, {"Source": "x"}]),
            [
                Check("events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"),
                Check("events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/results"),
            ],
        ),
        (
            _request("states", "StartExecution", stateMachineArn="arn:aws:states:us-east-1:1:stateMachine:m"),
            [Check("states:StartExecution", "arn:aws:states:us-east-1:1:stateMachine:m")],
        ),
        (
            _request("states", "SendTaskSuccess", taskToken="t"),
            [Check("states:SendTaskSuccess", ANY_RESOURCE)],
        ),
        (
            _request("lambda", "Invoke", FunctionName="handler:live"),
            [Check("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:handler")],
        ),
        (
            _request("kms", "Decrypt", KeyId=KEY),
            [Check("kms:Decrypt", KEY)],
        ),
    ],
    ids=lambda value: value.action if isinstance(value, RequestView) else "",
)
def test_each_request_is_checked_against_the_resources_it_names(
    request_view: RequestView, expected: list[Check]
) -> None:
    assert checks_for(request_view) == expected


def test_sqs_batch_calls_are_authorized_as_their_single_message_action() -> None:
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:results"
    view = RequestView("sqs", "SendMessageBatch", ACCOUNT, "us-east-1", {}, moto_resource=queue)
    assert checks_for(view) == [Check("sqs:SendMessage", queue)]


def test_a_task_token_call_is_allowed_by_a_grant_on_any_state_machine() -> None:
    grant = _policy(
        {
            "Effect": "Allow",
            "Action": "states:SendTaskSuccess",
            "Resource": "arn:aws:states:*:*:stateMachine:m",
        }
    )
    check = Check("states:SendTaskSuccess", ANY_RESOURCE)
    assert evaluate(check, OTHER, [grant], [], _context(OTHER)) is None
    assert evaluate(Check("states:SendTaskFailure", ANY_RESOURCE), OTHER, [grant], [], _context(OTHER)) == (
        "because no identity-based policy allows the states:SendTaskFailure action"
    )


def test_sqs_get_queue_url_is_authorized_on_the_queue_it_names() -> None:
    view = RequestView("sqs", "GetQueueUrl", ACCOUNT, "us-east-1", {"QueueName": "results"})
    assert checks_for(view) == [Check("sqs:GetQueueUrl", f"arn:aws:sqs:us-east-1:{ACCOUNT}:results")]


@pytest.mark.parametrize(
    ("operation", "action"),
    [("HeadObject", "s3:GetObject"), ("ListObjectsV2", "s3:ListBucket"), ("HeadBucket", "s3:ListBucket")],
)
def test_s3_operations_are_authorized_by_the_iam_action_aws_checks(operation: str, action: str) -> None:
    view = RequestView("s3", operation, ACCOUNT, "us-east-1", {}, moto_resource="arn:aws:s3:::bucket/key")
    assert checks_for(view) == [Check(action, "arn:aws:s3:::bucket/key")]


@pytest.mark.parametrize("command", ["demo", "serve"])
@pytest.mark.parametrize(("flags", "enforced"), [([], True), (["--no-iam"], False)])
def test_the_local_commands_enforce_permissions_unless_no_iam(
    monkeypatch: pytest.MonkeyPatch, command: str, flags: list[str], enforced: bool
) -> None:
    from click.testing import CliRunner

    import sagemaker_async_results.local.demo as demo
    import sagemaker_async_results.local.serve as serve
    from sagemaker_async_results.cli.commands import cli

    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> int:
        calls.append(kwargs)
        return 0

    monkeypatch.setattr(demo, "run_demo", record)
    monkeypatch.setattr(serve, "serve", record)
    result = CliRunner().invoke(cli, ["--region", "us-east-1", command, *flags], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert [call["iam"] for call in calls] == [enforced]
