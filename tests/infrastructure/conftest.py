"""Shared synthesized templates: each context variation is synthesized once per session, without bundling."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

import app as cdk_app

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:Waiter"
BUCKET_KEY = "arn:aws:kms:us-east-1:123456789012:key/bucket-key-0001"
TOPIC_KEY = "arn:aws:kms:us-east-1:123456789012:key/topic-key-0001"
ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:ops-alarms"

#: Named context variations covering every prop path; each is synthesized at most once per session.
VARIATIONS: dict[str, dict[str, Any]] = {
    "default": {},
    "buffered": {
        "delivery": {
            "mode": "buffered",
            "batchSize": 25,
            "maxBatchingWindowSeconds": 5,
            "maxReceiveCount": 4,
        },
        "functionTimeoutSeconds": 30,
        "destinations": {
            "resultStore": False,
            "eventBridge": {"enabled": True, "busName": "results-bus"},
            "sqs": {"enabled": True},
            "stepFunctionsCallback": {"enabled": True, "stateMachineArns": [STATE_MACHINE]},
            "kinesis": {"enabled": True},
        },
    },
    "existing": {
        "existingBucketName": "my-existing-bucket",
        "existingSuccessTopicArn": "arn:aws:sns:us-east-1:123456789012:existing-success",
        "existingErrorTopicArn": "arn:aws:sns:us-east-1:123456789012:existing-error",
        "existingModelName": "my-model",
        "existingModelRoleArn": "arn:aws:iam::123456789012:role/my-model-role",
        "existingBucketKeyArn": BUCKET_KEY,
        "existingSuccessTopicKeyArn": TOPIC_KEY,
        "model": None,
        "alarms": {"email": ["oncall@example.com"]},
        "subscriptions": {
            "email": ["ops@example.com"],
            "https": ["https://example.com/hook"],
            "sqsQueueArns": ["arn:aws:sqs:us-east-1:123456789012:extra"],
        },
    },
    "no-autoscaling": {
        "autoscaling": {"enabled": False},
        "instanceType": "ml.g5.xlarge",
        "includeInferenceResponseIn": [],
        "model": {
            "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-model:1",
            "modelDataUrl": "s3://models-bucket/sentiment/model.tar.gz",
            "environment": {},
        },
    },
    "min-capacity-one": {"autoscaling": {"minCapacity": 1, "maxCapacity": 3}},
    "endpoint-settings": {
        "autoscaling": {"enabled": False},
        "instanceType": "ml.p5en.48xlarge",
        "volumeSizeGb": 100,
        "modelDataDownloadTimeoutSeconds": 1200,
        "containerStartupHealthCheckTimeoutSeconds": 900,
        "vpc": {"subnetIds": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"]},
        "recovery": {"delaySeconds": 300, "requireSubmittedRecord": False},
        "alarms": {"topicArn": ALARM_TOPIC, "oldestRequestAgeSeconds": 600},
    },
    "no-recovery": {"recovery": {"enabled": False}, "delivery": {"mode": "buffered"}},
}


def cdk_json_context() -> dict[str, Any]:
    """The context of cdk.json (the CLI reads it; an App() built in a test does not)."""
    context: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]
    return context


@dataclass(frozen=True)
class Synthesized:
    """One synthesized variation."""

    stack: cdk.Stack
    template: Template
    template_dict: Mapping[str, Any]
    template_path: Path


def synthesize(context: Mapping[str, Any], outdir: Path, *, with_cdk_json: bool = True) -> Synthesized:
    """Build the sample app with cdk-nag (synth raises on any unacknowledged finding)."""
    full = {**(cdk_json_context() if with_cdk_json else {}), **context, **SKIP_BUNDLING}
    app = cdk.App(context=full, outdir=str(outdir))
    stack = cdk_app.build(app, nag=True)
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    template_path = Path(assembly.directory) / artifact.template_file
    template_dict = json.loads(template_path.read_text())
    return Synthesized(stack, Template.from_json(template_dict), template_dict, template_path)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    """``synth(name)`` -> the synthesized variation ``name`` of :data:`VARIATIONS` (cached)."""
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            cache[name] = synthesize(VARIATIONS[name], tmp_path_factory.mktemp(f"cdk-{name}"))
        return cache[name]

    return get


@pytest.fixture(scope="module")
def default(synth: Callable[[str], Synthesized]) -> Synthesized:
    return synth("default")


@pytest.fixture(scope="module")
def buffered(synth: Callable[[str], Synthesized]) -> Synthesized:
    return synth("buffered")


@pytest.fixture(scope="module")
def existing(synth: Callable[[str], Synthesized]) -> Synthesized:
    return synth("existing")


def resources_of(synthesized: Synthesized, type_name: str) -> dict[str, Any]:
    return {k: v for k, v in synthesized.template_dict["Resources"].items() if v["Type"] == type_name}
