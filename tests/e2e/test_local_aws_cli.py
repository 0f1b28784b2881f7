"""A real client against the local run: the AWS CLI's ``invoke-endpoint-async``, awaited by this client.

The AWS CLI v1 pins botocore exactly, so it lives in its own virtual environment (``make awscli``:
``.venv-awscli``), named by ``AWSCLI`` or found there. The one setting it needs is the endpoint of the
local run's SageMaker runtime: ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` (the gateway), besides
``AWS_ENDPOINT_URL`` for the emulator's other services.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sagemaker_async_results.client import InferenceStatus, Submission
from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.model import sentiment_model

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _aws_cli() -> str | None:
    named = os.environ.get("AWSCLI")
    if named:
        return named
    default = ROOT / ".venv-awscli" / "bin" / "aws"
    return str(default) if default.exists() else None


def test_aws_cli_invoke_endpoint_async_is_awaited_by_the_client(env: LocalEnvironment) -> None:
    aws = _aws_cli()
    if aws is None:
        if os.environ.get("CI"):
            pytest.fail("the AWS CLI is missing: run `make awscli` (or name one with AWSCLI)")
        pytest.skip("the AWS CLI is not installed: `make awscli`")
    assert env.target is not None
    resources = env.resources
    payload = b'{"inputs": "sent by the AWS CLI"}'
    key = f"{resources.input_prefix}aws-cli-{time.time_ns()}.json"
    env.target.client("s3").put_object(Bucket=resources.bucket, Key=key, Body=payload)
    inference_id = f"aws-cli-{time.time_ns()}"
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process_env.update({**env.target.environment(), "AWS_EC2_METADATA_DISABLED": "true"})
    completed = subprocess.run(
        [
            aws,
            "sagemaker-runtime",
            "invoke-endpoint-async",
            "--endpoint-name",
            resources.endpoint_name,
            "--input-location",
            f"s3://{resources.bucket}/{key}",
            "--content-type",
            "application/json",
            "--inference-id",
            inference_id,
            "--output",
            "json",
        ],
        env=process_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    response = json.loads(completed.stdout)
    assert response["InferenceId"] == inference_id
    submission = Submission(
        inference_id=inference_id,
        input_location=f"s3://{resources.bucket}/{key}",
        output_location=response["OutputLocation"],
        failure_location=response.get("FailureLocation"),
        submitted_at=datetime.now(UTC),
    )
    with env.client() as client:
        future = client.future(submission)
        record = future.result(timeout=60)
        assert record.status == InferenceStatus.COMPLETED
        assert future.body() == sentiment_model(payload, "application/json").body
