"""The policy evaluator used by the service-access test: its grammar, conditions and decision rules, and
the alarm topic policy the stack synthesized before CloudWatch was allowed (a recorded copy)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infrastructure.policy_eval import (
    Policy,
    Principal,
    Request,
    TemplateModel,
    UnsupportedPolicy,
    evaluate,
    statement_applies,
    wildcard_match,
)

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:alarms"
ALARM = f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:dlq-depth"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/handler"
CLOUDWATCH = Principal(service="cloudwatch.amazonaws.com")


def cloudwatch_publish(alarm: str = ALARM, account: str = ACCOUNT, *, tls: bool = True) -> Request:
    return Request(CLOUDWATCH, "sns:Publish", TOPIC,
                   {"aws:SourceArn": alarm, "aws:SourceAccount": account, "aws:SecureTransport": tls})  # fmt: skip


#: The alarm topic policy as synthesized before the fix (AsyncResultsOperationsAlarmTopicPolicy, intrinsics
#: resolved): enforce_ssl's Deny only. A topic policy replaces SNS's default, so nothing allows CloudWatch.
RECORDED_ALARM_TOPIC_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": "*",
            "Resource": TOPIC,
            "Sid": "AllowPublishThroughSSLOnly",
        }
    ],
}

FIXED_STATEMENT: dict[str, Any] = {
    "Sid": "AllowCloudWatchAlarms",
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    },
}


def test_recorded_alarm_topic_policy_refuses_cloudwatch() -> None:
    decision = evaluate(
        cloudwatch_publish(), resource=Policy("AlarmTopicPolicy", RECORDED_ALARM_TOPIC_POLICY)
    )
    assert not decision.allowed
    assert decision.reason == "no statement of AlarmTopicPolicy allows cloudwatch.amazonaws.com"


def test_alarm_topic_policy_with_the_cloudwatch_statement() -> None:
    policy = Policy("P", {"Statement": [*RECORDED_ALARM_TOPIC_POLICY["Statement"], FIXED_STATEMENT]})
    allowed = evaluate(cloudwatch_publish(), resource=policy)
    assert allowed.allowed
    assert allowed.allowed_by == ("P#AllowCloudWatchAlarms",)
    # Another account's alarm, an alarm ARN of another account, and plain HTTP are all refused.
    assert not evaluate(cloudwatch_publish(account=OTHER_ACCOUNT), resource=policy).allowed
    other_alarm = f"arn:aws:cloudwatch:us-east-1:{OTHER_ACCOUNT}:alarm:x"
    assert not evaluate(cloudwatch_publish(alarm=other_alarm), resource=policy).allowed
    refused = evaluate(cloudwatch_publish(tls=False), resource=policy)
    assert (refused.allowed, refused.denied_by) == (False, ("P#AllowPublishThroughSSLOnly",))
    # A request whose context lacks the keys the statement conditions on is refused, not waved through.
    bare = Request(CLOUDWATCH, "sns:Publish", TOPIC, {"aws:SecureTransport": True})
    assert not evaluate(bare, resource=policy).allowed


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("sns:*", "sns:Publish", True, True),
        ("SNS:publish", "sns:Publish", True, True),
        ("kms:GenerateDataKey*", "kms:GenerateDataKeyWithoutPlaintext", True, True),
        ("kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", True, False),
        ("s3:?etObject", "s3:GetObject", True, True),
        ("arn:aws:s3:::b/in/*", "arn:aws:s3:::b/in/x/y", False, True),
        ("arn:aws:s3:::b/in/*", "arn:aws:s3:::b/out/x", False, False),
        ("arn:aws:s3:::B/*", "arn:aws:s3:::b/x", False, False),
        ("a.b", "axb", False, False),  # regex characters are literal
    ],
)
def test_wildcards(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert wildcard_match(pattern, value, ignore_case=ignore_case) is expected


def test_policy_variables_are_refused() -> None:
    with pytest.raises(UnsupportedPolicy, match="policy variables"):
        wildcard_match("arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/x/y")


def _applies(statement: dict[str, Any], request: Request, resource_policy: bool = True) -> str | None:
    return statement_applies(statement, request, resource_policy=resource_policy, own_account=ACCOUNT)


def _sqs(context: dict[str, Any], principal: Principal | None = None) -> Request:
    return Request(principal or Principal(service="s3.amazonaws.com"), "sqs:SendMessage",
                   f"arn:aws:sqs:us-east-1:{ACCOUNT}:q", context)  # fmt: skip


BASE = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"}  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}, {"aws:SourceArn": "arn:aws:s3:::any"}, True),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::mine"}}, {"aws:SourceArn": "arn:aws:s3:::other"}, False),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::mine"}}, {"aws:SourceArn": "arn:aws:s3:::mine"}, True),
        # ArnLike compares the six parts separately: a wildcard does not cross a colon.
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:1*"}}, {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}, False),
        ({"ArnLike": {"aws:SourceArn": ["arn:aws:s3:::a", "arn:aws:s3:::b"]}}, {"aws:SourceArn": "arn:aws:s3:::b"}, True),
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, {}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, {}, True),
        ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, {"aws:SourceAccount": OTHER_ACCOUNT}, False),
        ({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, {}, True),  # negated: absent key -> true
        ({"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}, {"AWS:SOURCEACCOUNT": ACCOUNT}, False),
        ({"StringLike": {"s3:prefix": "in/*"}}, {"s3:prefix": "in/a"}, True),
        ({"StringNotLike": {"s3:prefix": ["in/*", "out/*"]}}, {"s3:prefix": "out/a"}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": True}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a", "b"]}}, {"k": ["c", "b"]}, True),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ["a", "c"]}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {}, True),
        ({"NumericLessThanEquals": {"n": "5"}}, {"n": "5"}, True),
        ({"NumericGreaterThan": {"n": "5"}}, {"n": 4}, False),
        # Several keys and several operators: all must hold.
        ({"ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}, "StringEquals": {"aws:SourceAccount": ACCOUNT}},
         {"aws:SourceArn": "arn:aws:s3:::x", "aws:SourceAccount": OTHER_ACCOUNT}, False),
    ],
)  # fmt: skip
def test_conditions(condition: dict[str, Any], context: dict[str, Any], expected: bool) -> None:
    assert (_applies({**BASE, "Condition": condition}, _sqs(context)) is not None) is expected


def test_unknown_operators_and_elements_are_refused_not_skipped() -> None:
    with pytest.raises(UnsupportedPolicy, match="DateGreaterThan"):
        _applies({**BASE, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}}, _sqs({}))
    with pytest.raises(UnsupportedPolicy, match="set qualifier"):
        _applies({**BASE, "Condition": {"ForSome:StringEquals": {"k": "a"}}}, _sqs({"k": "a"}))
    with pytest.raises(UnsupportedPolicy, match="Principal kind"):
        _applies({**BASE, "Principal": {"Robot": "x"}}, _sqs({}))
    with pytest.raises(UnsupportedPolicy, match="elements not supported"):
        _applies({**BASE, "Extra": 1}, _sqs({}))
    with pytest.raises(UnsupportedPolicy, match="without Principal"):
        _applies({k: v for k, v in BASE.items() if k != "Principal"}, _sqs({}))


def test_actions_resources_and_principals() -> None:
    request = _sqs({})
    assert _applies({**BASE, "Action": "sqs:Send*"}, request) == "direct"
    assert _applies({**BASE, "Action": ["sqs:ReceiveMessage"]}, request) is None
    not_action = {k: v for k, v in BASE.items() if k != "Action"}
    assert _applies({**not_action, "NotAction": "sqs:Delete*"}, request) == "direct"
    assert _applies({**not_action, "NotAction": "sqs:*"}, request) is None
    not_resource = {k: v for k, v in BASE.items() if k != "Resource"}
    assert _applies({**not_resource, "NotResource": "arn:aws:sqs:*:*:other"}, request) == "direct"
    assert _applies({**BASE, "Principal": "*"}, request) == "direct"
    assert _applies({**BASE, "Principal": {"AWS": "*"}}, request) == "direct"
    assert _applies({**BASE, "Principal": {"Service": ["sns.amazonaws.com"]}}, request) is None
    role = _sqs({}, Principal(arn=ROLE))
    assert _applies({**BASE, "Principal": {"AWS": ROLE}}, role) == "direct"
    assert _applies({**BASE, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}, role) == "account"
    assert _applies({**BASE, "Principal": {"AWS": ACCOUNT}}, role) == "account"
    assert _applies({**BASE, "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"}}, role) is None
    not_principal = {k: v for k, v in BASE.items() if k != "Principal"}
    assert _applies({**not_principal, "NotPrincipal": {"AWS": ROLE}}, role) is None
    assert _applies({**not_principal, "NotPrincipal": {"AWS": ROLE}}, request) == "direct"


KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
ROOT_DELEGATION = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*",
                   "Resource": "*"}  # fmt: skip


def test_key_policy_delegation_to_iam() -> None:
    request = Request(
        Principal(arn=ROLE), "kms:Decrypt", KEY, {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    )
    key = Policy("Key", {"Statement": [ROOT_DELEGATION]})
    grant = Policy(
        "RolePolicy", {"Statement": [{"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": KEY}]}
    )
    assert evaluate(request, identity=[grant], resource=key, key_policy=True).allowed
    no_grant = evaluate(request, identity=[], resource=key, key_policy=True)
    assert (no_grant.allowed, no_grant.reason) == (
        False,
        "no identity policy allows it (the key policy delegates to IAM)",
    )
    # Without the account statement, an identity grant alone is not enough for a key.
    empty_key = Policy("Key", {"Statement": []})
    refused = evaluate(request, identity=[grant], resource=empty_key, key_policy=True)
    assert refused.reason == "the key policy neither names the principal nor delegates to IAM"
    # kms:ViaService conditions are evaluated.
    via_dynamodb = {
        **ROOT_DELEGATION,
        "Condition": {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
    }
    assert not evaluate(request, identity=[grant], resource=Policy("K", {"Statement": [via_dynamodb]}), key_policy=True).allowed  # fmt: skip


def test_services_need_the_resource_policy_and_deny_wins() -> None:
    service = Request(Principal(service="sns.amazonaws.com"), "kms:GenerateDataKey", KEY,
                      {"aws:SourceArn": TOPIC, "aws:SourceAccount": ACCOUNT})  # fmt: skip
    key = Policy("Key", {"Statement": [ROOT_DELEGATION]})
    assert not evaluate(
        service, resource=key, key_policy=True
    ).allowed  # root delegation is for IAM principals
    allow = {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
             "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:*"}}}  # fmt: skip
    assert evaluate(
        service, resource=Policy("Key", {"Statement": [ROOT_DELEGATION, allow]}), key_policy=True
    ).allowed
    assert not evaluate(service, resource=None).allowed
    deny = {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    decision = evaluate(
        service, resource=Policy("Key", {"Statement": [allow, {**deny, "Sid": "No"}]}), key_policy=True
    )
    assert decision.denied_by == ("Key#No",)
    # An identity Deny wins over a resource Allow naming the role.
    role = Request(Principal(arn=ROLE), "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q")
    resource = Policy(
        "Q",
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:*", "Resource": "*"}]},
    )
    assert evaluate(role, resource=resource).allowed
    identity_deny = Policy("I", {"Statement": [{"Effect": "Deny", "Action": "sqs:*", "Resource": "*"}]})
    assert not evaluate(role, identity=[identity_deny], resource=resource).allowed


TEMPLATE: dict[str, Any] = {
    "Mappings": {"Accounts": {"us-east-1": {"account": "763104351884"}}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "results"}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        "RolePolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Role"}],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                    "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/in/*"]]}}]},
            },
        },
        "QueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {"Queues": [{"Ref": "Queue"}], "PolicyDocument": {"Statement": [
                {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
                 "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}, "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": "Topic"}}}}]}},
        },
    },
}  # fmt: skip


def test_template_model_resolves_intrinsics_and_collects_policies() -> None:
    model = TemplateModel(TEMPLATE, account=ACCOUNT, stack_name="S")
    assert model.resolve({"Ref": "Topic"}) == f"arn:aws:sns:us-east-1:{ACCOUNT}:results"
    assert model.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == f"arn:aws:sqs:us-east-1:{ACCOUNT}:S-Queue-gen"
    assert model.resolve({"Ref": "Bucket"}) == "s-bucket-gen"
    assert model.resolve({"Fn::Sub": ["${A}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/x",
                                      {"A": {"Fn::FindInMap": ["Accounts", {"Ref": "AWS::Region"}, "account"]}}]}) == (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/x")  # fmt: skip
    assert model.resolve({"Fn::Select": [1, ["a", {"Ref": "AWS::Partition"}]]}) == "aws"
    with pytest.raises(UnsupportedPolicy, match="Fn::If"):
        model.resolve({"Fn::If": ["C", "a", "b"]})
    role_arn = model.arn("Role")
    (identity,) = model.identity_policies(role_arn)
    read = Request(Principal(arn=role_arn), "s3:GetObject", "arn:aws:s3:::s-bucket-gen/in/x")
    assert evaluate(read, identity=[identity], resource=model.resource_policy("Bucket")).allowed
    write = Request(Principal(arn=role_arn), "s3:PutObject", "arn:aws:s3:::s-bucket-gen/in/x")
    assert not evaluate(write, identity=[identity]).allowed
    queue_policy = model.resource_policy("Queue")
    assert queue_policy is not None
    sns = Request(Principal(service="sns.amazonaws.com"), "sqs:SendMessage", model.arn("Queue"),
                  {"aws:SourceArn": model.arn("Topic")})  # fmt: skip
    assert evaluate(sns, resource=queue_policy).allowed
    other_topic = Request(
        sns.principal, sns.action, sns.resource, {"aws:SourceArn": model.arn("Topic") + "-x"}
    )
    assert not evaluate(other_topic, resource=queue_policy).allowed
    assert model.find_by_arn(model.ref("Queue")) == "Queue"
