"""Every snippet `async-results config` prints runs (or parses) in its tool and says the same thing.

The source of truth is ``async_inference_config`` (the ``CreateEndpointConfig`` shape). The boto3 snippet
is executed and sent to moto's SageMaker (botocore validates it against the API first); the Terraform
block is parsed and checked against botocore's ``AsyncInferenceConfig`` shape (the AWS provider's schema
is not in the package lists; the provider names attributes as the API members in snake case); the SDK
snippets run in the SDKs' own virtual environments (``make sdk-venvs``) and their request dict is
compared with the source.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws

from sagemaker_async_results.adopt import FORMATS, PipelineNotFoundError, PipelineOutputs, render
from sagemaker_async_results.adopt.pipeline import pipeline_prefixes
from sagemaker_async_results.adopt.snippets import RENDERERS, async_inference_config, iam_policy

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
PIPELINE = PipelineOutputs(
    success_topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:results-success",
    error_topic_arn=f"arn:aws:sns:us-east-1:{ACCOUNT}:results-error",
    bucket="results-bucket",
    output_prefix="async-inference/outputs/",
    failure_prefix="async-inference/failures/",
    input_prefix="async-inference/inputs/",
    encryption_key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    publisher_policy_arn=f"arn:aws:iam::{ACCOUNT}:policy/results-publisher",
)
WITHOUT_KEY = PipelineOutputs(
    **{**PIPELINE.__dict__, "encryption_key_arn": None, "publisher_policy_arn": None}
)


def _async_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateEndpointConfig").input_shape
    assert shape is not None
    return shape.members["AsyncInferenceConfig"]


def test_the_source_config_is_valid_for_the_api_and_names_the_pipeline() -> None:
    config = async_inference_config(PIPELINE)
    report = ParamValidator().validate(config, _async_shape())
    assert not report.has_errors(), report.generate_report()
    output = config["OutputConfig"]
    assert output["S3OutputPath"] == "s3://results-bucket/async-inference/outputs/"
    assert output["S3FailurePath"] == "s3://results-bucket/async-inference/failures/"
    assert output["KmsKeyId"] == PIPELINE.encryption_key_arn
    assert output["NotificationConfig"] == {
        "SuccessTopic": PIPELINE.success_topic_arn,
        "ErrorTopic": PIPELINE.error_topic_arn,
        "IncludeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"],
    }
    assert "KmsKeyId" not in async_inference_config(WITHOUT_KEY)["OutputConfig"]


@pytest.mark.parametrize("pipeline", [PIPELINE, WITHOUT_KEY], ids=["with-key", "without-key"])
def test_boto3_snippet_runs_and_creates_the_endpoint_config_in_moto(pipeline: PipelineOutputs) -> None:
    namespace: dict[str, Any] = {}
    exec(render(pipeline, "boto3"), namespace)
    assert namespace["async_inference_config"] == async_inference_config(pipeline)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_model(
            ModelName="m",
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
            PrimaryContainer={"Image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/m:1"},
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {
                    "VariantName": "v",
                    "ModelName": "m",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            AsyncInferenceConfig=namespace["async_inference_config"],
        )
        described = sagemaker.describe_endpoint_config(EndpointConfigName="c")["AsyncInferenceConfig"]
    assert described["OutputConfig"] == async_inference_config(pipeline)["OutputConfig"]


def _parse_hcl(text: str) -> dict[str, Any]:
    """Nested blocks and ``name = <JSON value>`` attributes: the subset the snippet uses (a line the
    parser does not recognise fails the test)."""
    root: dict[str, Any] = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if match := re.fullmatch(r"([a-z0-9_]+) \{", line):
            block: dict[str, Any] = {}
            stack[-1][match[1]] = block
            stack.append(block)
        elif line == "}":
            stack.pop()
        elif match := re.fullmatch(r"([a-z0-9_]+)\s+=\s+(.+)", line):
            stack[-1][match[1]] = json.loads(match[2])
        else:
            raise AssertionError(f"not the HCL the snippet should print: {raw!r}")
    assert len(stack) == 1, "unbalanced braces"
    return root


def _to_api(value: Any, shape: Any) -> Any:
    """Terraform names (snake case of the API member) back to the API's; an unknown name fails."""
    if shape.type_name != "structure":
        return value
    names = {re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", member).lower(): member for member in shape.members}
    unknown = sorted(set(value) - set(names))
    assert not unknown, f"{unknown} are not members of {shape.name}: expected {sorted(names)}"
    return {names[key]: _to_api(item, shape.members[names[key]]) for key, item in value.items()}


@pytest.mark.parametrize("pipeline", [PIPELINE, WITHOUT_KEY], ids=["with-key", "without-key"])
def test_terraform_block_matches_the_api_shape_attribute_for_attribute(pipeline: PipelineOutputs) -> None:
    parsed = _parse_hcl(render(pipeline, "terraform"))
    assert list(parsed) == ["async_inference_config"]
    shape = _async_shape()
    as_api = _to_api(parsed["async_inference_config"], shape)
    report = ParamValidator().validate(as_api, shape)
    assert not report.has_errors(), report.generate_report()
    assert as_api == async_inference_config(pipeline)


def test_iam_snippet_is_the_policy_and_names_the_managed_policy() -> None:
    text = render(PIPELINE, "iam")
    assert f"--policy-arn {PIPELINE.publisher_policy_arn}" in text
    document = json.loads(text[text.index("{") :])
    assert document == iam_policy(PIPELINE)
    sids = [s["Sid"] for s in document["Statement"]]
    assert sids == [
        "ReadAsyncInferenceInputs",
        "WriteAsyncInferenceResults",
        "PublishAsyncInferenceNotifications",
        "UseResultsKey",
    ]
    assert document["Statement"][0]["Resource"] == ["arn:aws:s3:::results-bucket/async-inference/inputs/*"]
    no_key = json.loads(render(WITHOUT_KEY, "iam").split("\n", 1)[1])
    assert [s["Sid"] for s in no_key["Statement"]] == sids[:3]
    with mock_aws():  # IAM accepts the document as a managed policy
        boto3.client("iam").create_policy(PolicyName="p", PolicyDocument=json.dumps(document))


def test_all_prints_every_format_under_its_heading_and_unknown_formats_are_named() -> None:
    text = render(PIPELINE, "all")
    for name in RENDERERS:
        assert f"# ---- {name} ----\n{render(PIPELINE, name)}" in text
    assert FORMATS == ("sdk-v2", "sdk-v3", "boto3", "terraform", "iam", "all")
    with pytest.raises(ValueError, match=r"format: expected one of .*'sdk-v2'.*received 'cdk'"):
        render(PIPELINE, "cdk")


def _sdk_python(version: str) -> Path | None:
    named = os.environ.get(f"SDK_{version.upper()}_PYTHON")
    if named:
        return Path(named)
    default = ROOT / {"v2": ".venv-sdk", "v3": ".venv-sdk-v3"}[version] / "bin" / "python"
    return default if default.exists() else None


@pytest.mark.parametrize(
    ("version", "module"), [("v2", "sagemaker.async_inference"), ("v3", "sagemaker.core")]
)
def test_sdk_snippet_builds_the_same_request_in_the_sdk(version: str, module: str) -> None:
    python = _sdk_python(version)
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(f"the SageMaker Python SDK {version} venv is missing: run `make sdk-venvs`")
        pytest.skip(f"the SageMaker Python SDK {version} is not installed: `make sdk-venvs`")
    snippet = render(PIPELINE, f"sdk-{version}")
    assert f"from {module}" in snippet
    program = "\n".join(
        [
            snippet,
            "import json, importlib.metadata",
            "print(json.dumps({'version': importlib.metadata.version('sagemaker'), "
            "'request': async_inference_config._to_request_dict()}))",
        ]
    )
    completed = subprocess.run(
        [str(python), "-c", program], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["version"].startswith("2." if version == "v2" else "3.")
    assert result["request"] == async_inference_config(PIPELINE)


def test_outputs_are_read_with_their_prefix_and_missing_ones_are_named() -> None:
    outputs = {
        "SuccessTopicArn": "s",
        "ErrorTopicArn": "e",
        "BucketName": "b",
        "OutputPrefix": "o/",
        "FailurePrefix": "f/",
        "TeamSuccessTopicArn": "ts",
        "TeamErrorTopicArn": "te",
        "TeamBucketName": "tb",
        "TeamOutputPrefix": "to/",
        "TeamFailurePrefix": "tf/",
        "TeamEncryptionKeyArn": "tk",
        "HalfSuccessTopicArn": "h",
    }
    assert pipeline_prefixes(outputs) == ["", "Team"]
    team = PipelineOutputs.from_outputs(outputs, "Team")
    assert (team.bucket, team.output_path, team.encryption_key_arn) == ("tb", "s3://tb/to/", "tk")
    assert PipelineOutputs.from_outputs(outputs).encryption_key_arn is None
    with pytest.raises(PipelineNotFoundError, match=r"lack \['HalfErrorTopicArn', 'HalfBucketName'"):
        PipelineOutputs.from_outputs(outputs, "Half")


def test_stack_discovery_names_every_candidate_when_several_match() -> None:
    outputs = [
        {"OutputKey": key, "OutputValue": "x"}
        for key in ("SuccessTopicArn", "ErrorTopicArn", "BucketName", "OutputPrefix", "FailurePrefix")
    ]

    class Paginator:
        def paginate(self) -> list[dict[str, Any]]:
            return [
                {
                    "Stacks": [
                        {"StackName": "one", "StackStatus": "CREATE_COMPLETE", "Outputs": outputs},
                        {"StackName": "two", "StackStatus": "UPDATE_COMPLETE", "Outputs": outputs},
                        {"StackName": "gone", "StackStatus": "DELETE_COMPLETE", "Outputs": outputs},
                    ]
                }
            ]

    class CloudFormation:
        def get_paginator(self, name: str) -> Paginator:
            return Paginator()

    with pytest.raises(
        PipelineNotFoundError, match="several results pipelines in this account and region: one, two"
    ):
        PipelineOutputs.from_stack(CloudFormation())
