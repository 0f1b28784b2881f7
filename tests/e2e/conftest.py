"""End-to-end fixtures: the synthesized stack deployed into the embedded AWS, one per delivery mode.

The Lambda bundle is skipped here (the functions run from the repository's sources with the test
environment's pinned packages); ``make demo`` runs the bundled asset.

The deployed code asset gets one extra plugin module next to the app's own handlers (:data:`PROBE`), as a
user's app would ship it: a handler registered on the endpoint's template name, and one that raises for
results carrying the custom attribute ``probe=raise``, one that reads the output for ``probe=read``, and
one that counts its calls per inference in the results table for ``probe=count`` (:func:`probe_calls`).

Recovery's delay is shortened to :data:`RECOVERY_DELAY_SECONDS` (context override), so a result whose
notification is lost is routed within seconds instead of the deployed default of 15 minutes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.synth import CdkApp

ROOT = Path(__file__).resolve().parents[2]
#: The endpoint name the repository's cdk.json sets (``endpointName``).
ENDPOINT_NAME = "async-results-demo"
PROBE_MODULE = "e2e_probe"
RECOVERY_DELAY_SECONDS = 5
#: ``pk`` prefix of the probe's call counters in the results table.
PROBE_CALLS_PREFIX = "e2e-probe-calls#"
PROBE = f'''
import os

import boto3

from sagemaker_async_results.runtime import InferenceResult, Router

router = Router()
_dynamodb = boto3.client("dynamodb")


@router.on_success("{ENDPOINT_NAME}")
def on_named_endpoint(result: InferenceResult) -> None:
    """Runs only for the endpoint named {ENDPOINT_NAME}."""


@router.on_success("*", attributes={{"probe": "raise"}})
def raise_when_asked(result: InferenceResult) -> None:
    raise RuntimeError("probe handler refuses results marked probe=raise")


@router.on_success("*", attributes={{"probe": "read"}})
def read_output(result: InferenceResult) -> None:
    """Reads the output, so a missing or refused output location fails routing."""
    result.payload.read()


@router.on_result("*", attributes={{"probe": "count"}})
def count_calls(result: InferenceResult) -> None:
    """Counts each call, so a test can tell a result routed once from one routed twice."""
    _dynamodb.update_item(
        TableName=os.environ["RESULTS_TABLE"],
        Key={{"pk": {{"S": "{PROBE_CALLS_PREFIX}" + result.inference_id}}}},
        UpdateExpression="ADD calls :one",
        ExpressionAttributeValues={{":one": {{"N": "1"}}}},
    )
'''
#: Names the probe's handlers get in ``routedTo``.
NAMED_HANDLER = f"handlers.{PROBE_MODULE}.on_named_endpoint"
RAISING_HANDLER = f"handlers.{PROBE_MODULE}.raise_when_asked"


def add_probe_plugin(cdk_out: Path) -> None:
    """Put the probe plugin into every staged code asset that has a ``handlers`` package."""
    for handlers in cdk_out.glob(".async-results-sources/*/handlers"):
        (handlers / f"{PROBE_MODULE}.py").write_text(PROBE)


@pytest.fixture(scope="session", params=["buffered", "direct"])
def env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEnvironment]:
    """One deployment per delivery mode; pytest finishes one before it starts the next (moto's state is
    process-wide, so two emulators in one process would share it).

    A profile that does not exist is set while it starts (deploy, functions, endpoint): the local run
    must never read it."""
    mode = request.param
    outdir = tmp_path_factory.mktemp(f"{mode}-cdk-out")
    overrides = {"delivery": {"mode": mode}, "recovery": {"delaySeconds": RECOVERY_DELAY_SECONDS}}
    CdkApp(ROOT).synthesize(outdir, overrides, bundle=False)
    add_probe_plugin(outdir)
    previous = os.environ.get("AWS_PROFILE")

    def restore() -> None:
        if previous is None:
            os.environ.pop("AWS_PROFILE", None)
        else:
            os.environ["AWS_PROFILE"] = previous

    os.environ["AWS_PROFILE"] = "a-profile-that-does-not-exist"
    environment = LocalEnvironment(outdir, log_dir=outdir / "logs")
    try:
        environment.__enter__()
    finally:
        restore()
    try:
        yield environment
    finally:
        environment.__exit__(None, None, None)
        restore()


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text('{"inputs": "a fine day"}')
    return path


def probe_calls(env: LocalEnvironment, inference_id: str) -> int:
    """How many times the probe's ``count_calls`` handler ran for ``inference_id``."""
    assert env.target is not None
    item = (
        env.target.client("dynamodb")
        .get_item(
            TableName=env.resources.results_table,
            Key={"pk": {"S": PROBE_CALLS_PREFIX + inference_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    return int(item["calls"]["N"]) if item else 0
