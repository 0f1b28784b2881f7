"""The library as a user gets it: the wheel, installed into a fresh virtual environment outside the
repository, runs ``async-results demo`` in a copy of ``examples/consumer-app`` and routes to that app's
own handler.

Costs about two minutes (a venv, the CDK packages from pip's cache, a bundled synth, the demo).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "consumer-app"
#: Names that would collide in a user's site-packages; the wheel must not install them.
FORBIDDEN_TOP_LEVEL = {"stacks", "handlers", "entrypoint", "bench", "local_run", "functions", "tests", "app"}


def _run(command: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False, **kwargs
    )
    assert completed.returncode == 0, (
        f"{command} exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    )
    return completed


def _user_environment(venv: Path) -> dict[str, str]:
    """A shell with the new venv activated and nothing of this repository's test set-up."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "PYTHON", "POWERTOOLS_", "VIRTUAL_ENV"))
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv)
    env["AWS_PROFILE"] = "a-profile-that-does-not-exist"  # the local run must not read it
    return env


@pytest.mark.slow
def test_wheel_installs_and_runs_a_consumer_app(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT])
    wheel = next(dist.glob("*.whl"))
    top_level = {Path(name).parts[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert not top_level & FORBIDDEN_TOP_LEVEL, top_level
    assert "sagemaker_async_results" in top_level

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    constraints = ["-c", ROOT / "constraints.txt"]
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    env = _user_environment(venv)

    # The base install is what the Lambda function needs: runtime and client, no CDK, no emulator.
    _run([*pip, wheel, *constraints], env=env, cwd=tmp_path)
    probe = (
        "import importlib.util, sagemaker_async_results.runtime.entrypoint, sagemaker_async_results.client;"
        "print(importlib.util.find_spec('aws_cdk') is None, importlib.util.find_spec('moto') is None)"
    )
    assert _run([python, "-c", probe], env=env, cwd=tmp_path).stdout.split() == ["True", "True"]

    _run([*pip, f"{wheel}[cdk,local]", *constraints], env=env, cwd=tmp_path)
    app = shutil.copytree(EXAMPLE, tmp_path / "consumer-app")
    demo = _run([venv / "bin" / "async-results", "demo", "--count", "6"], env=env, cwd=app, timeout=900)
    # The app's own plugin (handlers/sentiment.py), registered on the app's endpoint name, was routed to.
    assert "sentiment.record_label" in demo.stdout, demo.stdout
    assert "sentiment-async" in demo.stdout
