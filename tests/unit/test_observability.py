"""Observability: the service name, what the tracer patches, and the EMF blob one ``emit`` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools.metrics import MetricUnit

import sagemaker_async_results
from sagemaker_async_results import contract
from sagemaker_async_results.runtime.observability import SERVICE, emit

PROBE = (
    "from sagemaker_async_results.runtime.observability import SERVICE, logger, tracer\n"
    "from aws_xray_sdk.core import patcher\n"
    "print(SERVICE, logger.service, tracer.service, sorted(patcher._PATCHED_MODULES))\n"
)


def _probe(service_name: str) -> str:
    """Import the module in a fresh interpreter that looks like Lambda with tracing on."""
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update(LAMBDA_TASK_ROOT="/tmp", AWS_LAMBDA_FUNCTION_NAME="f", POWERTOOLS_SERVICE_NAME=service_name)
    # The same source as this test's (a copy of the tree, not the installed package).
    env["PYTHONPATH"] = str(Path(sagemaker_async_results.__file__).parents[1])
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.parametrize(
    ("configured", "used"), [("results-svc", "results-svc"), ("", contract.SERVICE_NAME)]
)
def test_service_name_comes_from_powertools_else_the_default_and_only_botocore_is_traced(
    configured: str, used: str
) -> None:
    assert _probe(configured) == f"{used} {used} {used} ['botocore']"


def test_emit_writes_one_emf_blob_with_dimensions_and_units(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    emit(
        "Results-NS",
        {"endpointName": "scorer", "status": ""},
        {"Results": (1, MetricUnit.Count), "NotificationLatency": (2.5, MetricUnit.Milliseconds)},
    )
    (line,) = capsys.readouterr().out.strip().splitlines()
    blob = json.loads(line)
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Results-NS"
    assert directive["Dimensions"] == [["endpointName", "status", "service"]]
    assert directive["Metrics"] == [
        {"Name": "Results", "Unit": "Count"},
        {"Name": "NotificationLatency", "Unit": "Milliseconds"},
    ]
    assert (blob["endpointName"], blob["status"], blob["service"]) == ("scorer", "unknown", SERVICE)
    assert (blob["Results"], blob["NotificationLatency"]) == ([1.0], [2.5])


def test_emit_keeps_no_state_between_calls(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    emit("NS", {"endpointName": "a"}, {"Results": (1, MetricUnit.Count)})
    emit("NS", {"reason": "Throttled"}, {"RecordErrors": (1, MetricUnit.Count)})
    first, second = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert "RecordErrors" not in first
    assert "Results" not in second
    assert second["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["reason", "service"]]
