"""The reply-queue destination construct: exact grants on the prefix's queues, the sweeper and its
schedule, the callers' managed policy, the outputs the client reads; cdk-nag clean."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_async_results.cdk import AsyncInferenceResults, PropsError
from sagemaker_async_results.cdk.destinations.reply_queue import (
    CALLER_QUEUE_ACTIONS,
    OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN,
    OUTPUT_REPLY_QUEUE_KEY_ARN,
    OUTPUT_REPLY_QUEUE_PREFIX,
    ReplyQueueDestination,
)
from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from sagemaker_async_results.client.resources import REPLY_QUEUE_KEY_OUTPUT, REPLY_QUEUE_PREFIX_OUTPUT
from sagemaker_async_results.runtime.destinations.reply_queue_sweeper import EXPIRY_ENV, PREFIX_ENV
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING

HANDLERS = PROJECT_ROOT / "functions" / "handlers"


def _template(destination: ReplyQueueDestination, outdir: Path) -> dict[str, Any]:
    from aws_cdk.assertions import Template

    app = cdk.App(context=SKIP_BUNDLING, outdir=str(outdir))
    stack = cdk.Stack(app, "Consumer")
    AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, destinations=[destination])
    add_aws_solutions_checks(app)
    app.synth()  # cdk-nag: raises on any unacknowledged finding
    template: dict[str, Any] = dict(Template.from_stack(stack).to_json())
    return template


def _statements(template: dict[str, Any], sid: str) -> list[dict[str, Any]]:
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Sid") == sid
    ]


def test_grants_sweeper_policy_and_outputs(tmp_path: Path) -> None:
    template = _template(ReplyQueueDestination(prefix="consumer-rq-"), tmp_path)
    queues = {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":sqs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":consumer-rq-*",
            ],
        ]
    }
    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    handlers = [
        r for r in functions.values() if str(r["Properties"]["Handler"]).startswith("sagemaker_async")
    ]
    assert len(handlers) >= 2
    sends = _statements(template, "SendReplies")
    assert len(sends) == len(handlers), "every function that routes results sends replies"
    assert all(s["Action"] == "sqs:SendMessage" and s["Resource"] == queues for s in sends)
    reads = _statements(template, "ReadReplyTo")
    assert len(reads) == len(handlers)
    assert all(s["Action"] == "dynamodb:BatchGetItem" and "Fn::GetAtt" in s["Resource"] for s in reads)
    (sweep,) = _statements(template, "SweepReplyQueues")
    assert sorted(sweep["Action"]) == ["sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:ListQueueTags"]
    assert sweep["Resource"] == queues
    # In the reply-queue caller policy and in the client policy (one policy is all a caller needs).
    owns = _statements(template, "OwnReplyQueue")
    assert len(owns) == 2
    for own in owns:
        assert sorted(own["Action"]) == sorted(CALLER_QUEUE_ACTIONS)
        assert own["Resource"] == queues

    functions = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    handlers = [
        r for r in functions.values() if str(r["Properties"]["Handler"]).startswith("sagemaker_async")
    ]
    assert all(h["Properties"]["Environment"]["Variables"][PREFIX_ENV] == "consumer-rq-" for h in handlers)
    ((sweeper_id, sweeper),) = [(k, r) for k, r in functions.items() if "ReplyQueuesSweeper" in k]
    assert sweeper["Properties"]["Handler"] == "index.handler"
    assert "def sweep(" in sweeper["Properties"]["Code"]["ZipFile"]
    assert len(sweeper["Properties"]["Code"]["ZipFile"]) <= 4096  # CloudFormation's inline limit
    assert sweeper["Properties"]["Environment"]["Variables"] == {
        PREFIX_ENV: "consumer-rq-",
        EXPIRY_ENV: "900",
    }
    (rule,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"]
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [sweeper_id, "Arn"]}

    outputs = {k: v["Value"] for k, v in template["Outputs"].items()}
    assert outputs[OUTPUT_REPLY_QUEUE_PREFIX] == "consumer-rq-"
    assert OUTPUT_REPLY_QUEUE_KEY_ARN in outputs
    assert OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN in outputs
    # The client reads the outputs by these names.
    assert (OUTPUT_REPLY_QUEUE_PREFIX, OUTPUT_REPLY_QUEUE_KEY_ARN) == (
        REPLY_QUEUE_PREFIX_OUTPUT,
        REPLY_QUEUE_KEY_OUTPUT,
    )


def test_default_prefix_is_short_enough_and_unique_per_construct() -> None:
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "A-Very-Long-Stack-Name-That-Goes-On-And-On-Forever")
    first = ReplyQueueDestination().queue_prefix(
        cdk.aws_iam.Role(stack, "One", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    )
    second = ReplyQueueDestination().queue_prefix(
        cdk.aws_iam.Role(stack, "Two", assumed_by=cdk.aws_iam.AccountRootPrincipal())
    )
    assert first != second
    assert len(first) <= 48
    assert first.startswith("A-Very-Long-Stack-Name")


def test_bad_props_are_reported_together() -> None:
    with pytest.raises(PropsError) as raised:
        ReplyQueueDestination(prefix="has space", expiry=cdk.Duration.minutes(5))
    assert "prefix" in str(raised.value)
    assert "expiry" in str(raised.value)


@pytest.mark.parametrize("given", [None, ReplyQueueDestination(enabled=False)], ids=["default", "off"])
def test_a_pipeline_with_no_options_pushes_to_reply_queues(given: ReplyQueueDestination | None) -> None:
    from aws_cdk.assertions import Template

    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Consumer")
    AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, destinations=[given] if given else [])
    template = Template.from_stack(stack).to_json()
    outputs = set(template["Outputs"])
    sweepers = [
        k
        for k, r in template["Resources"].items()
        if "ReplyQueuesSweeper" in k and r["Type"] == "AWS::Lambda::Function"
    ]
    if given is None:
        assert {
            OUTPUT_REPLY_QUEUE_PREFIX,
            OUTPUT_REPLY_QUEUE_KEY_ARN,
            OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN,
        } <= outputs
        assert len(sweepers) == 1
    else:
        assert OUTPUT_REPLY_QUEUE_PREFIX not in outputs
        assert sweepers == []


def _assert_client_statements(statements: list[dict[str, Any]], *, reply_queues: bool) -> None:
    """What a client calls is all there; the reply-queue statements exactly when reply queues are on."""
    sids = {s.get("Sid") for s in statements}
    assert {"InvokeEndpoints", "ResultStore", "UploadInputs", "ReadResults"} <= sids
    if reply_queues:
        own_queue = next(s for s in statements if s.get("Sid") == "OwnReplyQueue")
        assert sorted(own_queue["Action"]) == sorted(CALLER_QUEUE_ACTIONS)
        assert "ReplyQueueKey" in sids
    else:
        assert not {"OwnReplyQueue", "ReplyQueueKey"} & sids


@pytest.mark.parametrize("given", [None, ReplyQueueDestination(enabled=False)], ids=["default", "off"])
def test_grant_client_gives_a_role_the_reply_queue_callers_statements_too(
    given: ReplyQueueDestination | None,
) -> None:
    """One call gives a client everything it uses: the store and endpoint, and its own reply queue."""
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Consumer")
    results = AsyncInferenceResults(
        stack, "Results", handlers_dir=HANDLERS, destinations=[given] if given else []
    )
    role = iam.Role(stack, "Notebook", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    results.grant_client(role)
    template = Template.from_stack(stack).to_json()
    logical_id = stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
    (policy,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": logical_id} in r["Properties"]["Roles"]
    ]
    _assert_client_statements(policy["Properties"]["PolicyDocument"]["Statement"], reply_queues=given is None)


@pytest.mark.parametrize("given", [None, ReplyQueueDestination(enabled=False)], ids=["default", "off"])
def test_client_policy_output_alone_is_all_a_caller_needs(given: ReplyQueueDestination | None) -> None:
    """The ClientPolicyArn managed policy holds the reply-queue statements too (when reply queues are on),
    so a caller outside the app attaches one policy."""
    from aws_cdk.assertions import Template

    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Consumer")
    results = AsyncInferenceResults(
        stack, "Results", handlers_dir=HANDLERS, destinations=[given] if given else []
    )
    template = Template.from_stack(stack).to_json()
    logical_id = stack.get_logical_id(results.client_policy.node.default_child)  # type: ignore[arg-type]
    statements = template["Resources"][logical_id]["Properties"]["PolicyDocument"]["Statement"]
    _assert_client_statements(statements, reply_queues=given is None)


@pytest.mark.parametrize(
    ("section", "on"), [({}, True), ({"enabled": False}, False), ({"expiryMinutes": 30}, True)]
)
def test_cdk_json_switches_reply_queues(section: dict[str, Any], on: bool) -> None:
    """``destinations.replyQueues`` in cdk.json: on by default, ``enabled: false`` turns the push off
    (no queues, no sweeper, no caller statements), ``expiryMinutes`` sets the sweeper's expiry."""
    from aws_cdk.assertions import Template

    from sagemaker_async_results.cdk.config import parse_context
    from sagemaker_async_results.cdk.destinations import destinations_from_config

    config = parse_context({"destinations": {"replyQueues": section}} if section else {})
    (reply,) = [
        d for d in destinations_from_config(config.destinations) if isinstance(d, ReplyQueueDestination)
    ]
    assert reply.enabled is on
    app = cdk.App(context=SKIP_BUNDLING)
    stack = cdk.Stack(app, "Consumer")
    AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, destinations=[reply])
    template = Template.from_stack(stack).to_json()
    outputs = set(template.get("Outputs", {}))
    sweepers = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and EXPIRY_ENV in str(r["Properties"].get("Environment"))
    ]
    assert (OUTPUT_REPLY_QUEUE_PREFIX in outputs) is on
    assert len(sweepers) == (1 if on else 0)
    if on:
        expiry = sweepers[0]["Properties"]["Environment"]["Variables"][EXPIRY_ENV]
        assert expiry == str(section.get("expiryMinutes", 15) * 60)


def test_cdk_json_refuses_a_reply_queue_expiry_below_two_heartbeats() -> None:
    from sagemaker_async_results.cdk.config import ConfigError, parse_context

    with pytest.raises(ConfigError, match=r"replyQueues\.expiryMinutes"):
        parse_context({"destinations": {"replyQueues": {"expiryMinutes": 5}}})
