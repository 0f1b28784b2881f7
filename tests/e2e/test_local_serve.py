"""``async-results serve`` as a user starts it in the app's folder, with a stray profile in the shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import ENDPOINT_NAME

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_serve_reports_progress_and_everything_a_client_needs() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment["AWS_PROFILE"] = "a-profile-that-does-not-exist"
    process = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_async_results.cli", "serve", "--no-bundle"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 300  # a loaded 2-core machine deploys in ~2 min; this is not a speed test
    try:
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C"):
                break
        process.send_signal(signal.SIGINT)
        try:
            _, progress = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # serve prints every thread's stack: what it waits on
            time.sleep(2)
            process.kill()
            _, progress = process.communicate()
            pytest.fail(f"serve did not exit within 60 s of Ctrl-C; its threads:\n{progress[-6000:]}")
    finally:
        if process.poll() is None:
            process.kill()
    output = "\n".join(lines)
    assert "Ctrl-C to stop." in output, output + progress
    mode = json.loads((ROOT / "cdk.json").read_text())["context"]["delivery"]["mode"]
    assert f"({mode} delivery)" in output
    for step in ("synthesizing", "deployed stack", "function", f"endpoint {ENDPOINT_NAME} in service"):
        assert step in progress, progress
    assert f"endpoint       {ENDPOINT_NAME}" in output
    for label in ("bucket", "input prefix", "results table"):
        assert f"  {label} " in output
    assert "export AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=http://127.0.0.1:" in output
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in output
    assert "unset AWS_PROFILE" in output
    assert "async-results --stack-name " in output
    assert f"aws sagemaker-runtime invoke-endpoint-async --endpoint-name {ENDPOINT_NAME} " in output
    assert "stopping" in progress, progress
    assert process.returncode == 0, progress
