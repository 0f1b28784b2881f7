"""The SageMaker Python SDK v2 and v3 deploy async endpoints into a pipeline-only app that
``async-results serve`` runs, with the configuration ``async-results config`` prints; their results
reach the app's handlers. ``attach`` / ``detach`` move an endpoint created through the API onto the
pipeline and back.

As a user does it: ``serve`` in a copy of ``examples/pipeline-app``, the ``export`` lines it prints,
the execution role given the stack's publisher policy (``config --format iam``), then the example's
``deploy_endpoint.py`` in each SDK's own virtual environment (``make sdk-venvs``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipeline-app"
STACK = "ResultsPipeline"
ROLE_NAME = "sdk-endpoint"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment:1"
HANDLER = "handlers.predictions.record_prediction"
pytestmark = pytest.mark.slow


@dataclass
class Served:
    """A running ``serve`` of the example and the environment its banner told us to export."""

    app: Path
    environment: dict[str, str]

    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sagemaker_async_results.cli", "--stack-name", STACK, *args],
            env=self.environment,
            cwd=cwd or self.app,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    def client(self, service: str) -> Any:
        env = self.environment
        endpoint = env.get(f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}", env["AWS_ENDPOINT_URL"])
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
        )

    def routed(self, inference_id: str) -> dict[str, Any]:
        """The result record once routed (``result --wait`` exits 0 only for a Completed result)."""
        waited = self.cli("result", inference_id, "--wait", "--wait-timeout", "120")
        assert waited.returncode == 0, waited.stderr
        status = self.cli("--output", "json", "status", inference_id)
        assert status.returncode == 0, status.stderr
        return dict(json.loads(status.stdout))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    app = shutil.copytree(EXAMPLE, tmp_path_factory.mktemp("sdk") / "pipeline-app")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = app / "serve.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "sagemaker_async_results.cli", "serve", "--no-bundle"],
            cwd=app,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert process.stdout is not None
        exports: dict[str, str] = {}
        banner: list[str] = []
        deadline = time.monotonic() + 420
        try:
            while time.monotonic() < deadline:
                line = process.stdout.readline()
                banner.append(line)
                if not line:
                    pytest.fail(f"serve exited {process.wait()}:\n{log.read_text()[-4000:]}")
                if match := re.match(r"\s+export (\w+)=(.*)$", line):
                    exports[match[1]] = shlex.split(match[2])[0]
                if line.startswith("Ctrl-C"):
                    break
            else:
                pytest.fail(f"serve not ready in 420 s:\n{log.read_text()[-4000:]}")
            # A pipeline-only app: the banner says there is no endpoint and how to name the user's own.
            printed = "".join(banner)
            assert "  endpoint       none in this app" in printed, printed
            assert "async-results --endpoint-name <your-endpoint> --bucket " in printed, printed
            yield Served(app, {**environment, **exports, "AWS_EC2_METADATA_DISABLED": "true"})
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def role(served: Served) -> str:
    """The endpoints' execution role: the stack's publisher policy (as `config --format iam` says)."""
    printed = served.cli("config", "--format", "iam")
    assert printed.returncode == 0, printed.stderr
    policy_arn = re.search(r"--policy-arn (\S+)", printed.stdout)
    assert policy_arn is not None, printed.stdout
    iam = served.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = str(iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    iam.attach_role_policy(RoleName=ROLE_NAME, PolicyArn=policy_arn[1])
    pull = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="pull-images", PolicyDocument=json.dumps(pull))
    return arn


def _bucket(served: Served) -> str:
    stack = served.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "BucketName")


def _sdk_python(version: str) -> Path | None:
    named = os.environ.get(f"SDK_{version.upper()}_PYTHON")
    if named:
        return Path(named)
    default = ROOT / {"v2": ".venv-sdk", "v3": ".venv-sdk-v3"}[version] / "bin" / "python"
    return default if default.exists() else None


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_an_sdk_deployed_endpoint_delivers_to_the_pipeline_handlers(
    served: Served, role: str, version: str, tmp_path: Path
) -> None:
    python = _sdk_python(version)
    if python is None:
        if os.environ.get("CI"):
            pytest.fail(f"the SageMaker Python SDK {version} venv is missing: run `make sdk-venvs`")
        pytest.skip(f"the SageMaker Python SDK {version} is not installed: `make sdk-venvs`")
    printed = served.cli("config", "--format", f"sdk-{version}")
    assert printed.returncode == 0, printed.stderr
    (tmp_path / "async_inference_config.py").write_text(printed.stdout)
    shutil.copy(EXAMPLE / "deploy_endpoint.py", tmp_path)
    endpoint = f"sdk-{version}-async"
    started = time.monotonic()
    deployed = subprocess.run(
        [
            str(python),
            "deploy_endpoint.py",
            "--endpoint-name",
            endpoint,
            "--image",
            IMAGE,
            "--role",
            role,
            "--bucket",
            _bucket(served),
        ],
        cwd=tmp_path,
        env={**served.environment, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert deployed.returncode == 0, deployed.stderr[-4000:]
    result = json.loads(deployed.stdout.strip().splitlines()[-1])
    assert result["sdk"].startswith("2." if version == "v2" else "3.")
    assert "/async-inference/outputs/" in result["outputLocation"]
    record = served.routed(result["inferenceId"])
    assert record["status"] == "Completed"
    assert HANDLER in record["routedTo"], record
    print(f"SDK {version}: deploy + predict + routed in {time.monotonic() - started:.1f} s")


def test_attach_moves_an_api_created_endpoint_onto_the_pipeline_and_detach_moves_it_back(
    served: Served, role: str
) -> None:
    sagemaker = served.client("sagemaker")
    bucket = _bucket(served)
    sagemaker.create_model(ModelName="user-model", ExecutionRoleArn=role, PrimaryContainer={"Image": IMAGE})
    sagemaker.create_endpoint_config(
        EndpointConfigName="user-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "user-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
        AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": f"s3://{bucket}/user-outputs/"}},
    )
    sagemaker.create_endpoint(EndpointName="user-async", EndpointConfigName="user-config")

    attached = served.cli("attach", "user-async", "--apply")
    assert attached.returncode == 0, attached.stderr
    assert f'+      "S3OutputPath": "s3://{bucket}/async-inference/outputs/"' in attached.stdout
    time.sleep(1.5)  # the simulator re-reads an endpoint's config at most once a second
    key = f"async-inference/inputs/attach-{uuid.uuid4().hex}.json"
    served.client("s3").put_object(Bucket=bucket, Key=key, Body=b'{"inputs": "attached"}')
    inference_id = f"attached-{uuid.uuid4().hex[:12]}"
    response = served.client("sagemaker-runtime").invoke_endpoint_async(
        EndpointName="user-async",
        InputLocation=f"s3://{bucket}/{key}",
        ContentType="application/json",
        InferenceId=inference_id,
    )
    assert response["OutputLocation"] == f"s3://{bucket}/async-inference/outputs/{inference_id}.out"
    record = served.routed(inference_id)
    assert HANDLER in record["routedTo"], record

    detached = served.cli("detach", "user-async", "--apply")
    assert detached.returncode == 0, detached.stderr
    assert sagemaker.describe_endpoint(EndpointName="user-async")["EndpointConfigName"] == "user-config"
