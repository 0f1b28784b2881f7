"""The library as a user gets it: the wheel, installed into a fresh virtual environment outside the
repository, runs ``async-results demo`` in a copy of ``examples/consumer-app`` and routes to that app's
own handler, which needs a package with native code (orjson) that the user never installs.

Three installs of the same wheel (built once): with the repository's constraints, with no constraints
(what pip resolves today, e.g. a newer pydantic than the Lambda bundle's), and with the lowest versions
the wheel's ranges allow (pins generated from its metadata). The local run must give the Lambda functions the
bundle's pins in every case. Each costs about two to four minutes (a venv, packages from the installers'
caches, a bundled synth, the demo).
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


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built once for every install below."""
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT])
    built = next(dist.glob("*.whl"))
    top_level = {Path(name).parts[0] for name in zipfile.ZipFile(built).namelist()}
    assert not top_level & FORBIDDEN_TOP_LEVEL, top_level
    assert "sagemaker_async_results" in top_level
    return built


def _install(resolution: str, venv: Path, wheel: Path, env: dict[str, str], cwd: Path) -> None:
    python = venv / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if resolution == "constrained":
        constraints = ["-c", ROOT / "constraints.txt"]
        # The base install is what the Lambda function needs: runtime and client, no CDK, no emulator.
        _run([*pip, wheel, *constraints], env=env, cwd=cwd)
        probe = (
            "import importlib.util, sagemaker_async_results.runtime.entrypoint, sagemaker_async_results.client;"
            "print(importlib.util.find_spec('aws_cdk') is None, importlib.util.find_spec('moto') is None)"
        )
        assert _run([python, "-c", probe], env=env, cwd=cwd).stdout.split() == ["True", "True"]
        _run([*pip, f"{wheel}[cdk,local]", *constraints], env=env, cwd=cwd)
    elif resolution == "unconstrained":
        _run([*pip, f"{wheel}[cdk,local]"], env=env, cwd=cwd)
    else:  # the lowest version each of the wheel's ranges allows, for every direct dependency
        lowest = cwd / "lowest-constraints.txt"
        lowest.write_text("\n".join(lowest_pins(wheel, ("cdk", "local", "cli"))) + "\n")
        _run([*pip, f"{wheel}[cdk,local]", "-c", lowest], env=env, cwd=cwd)


def lowest_pins(wheel: Path, extras: tuple[str, ...]) -> list[str]:
    """``name==<lower bound>`` of each of the wheel's requirements (base and ``extras``) that has one.

    uv's ``--resolution lowest-direct`` treats the wheel itself as the direct dependency (its own
    requirements then resolve highest), so the pins are generated from the wheel's metadata instead.
    """
    from email.parser import Parser

    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(name).decode())
    pins = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras)
        ):
            continue
        if requirement.name == metadata["Name"]:
            continue  # the wheel's own extras (local = cli + ...)
        lower = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==", "~=")]
        if lower:
            pins.append(f"{requirement.name}=={lower[0]}")
    return sorted(set(pins))


def _consumer_app(target: Path) -> Path:
    """A copy of the consumer example whose handler needs orjson (native code), bundled for Lambda."""
    app = shutil.copytree(EXAMPLE, target)
    handler = app / "handlers" / "sentiment.py"
    source = handler.read_text()
    native = "import orjson  # native code: bundled for Lambda, installed locally for this machine\n"
    future = "from __future__ import annotations\n"
    handler.write_text(source.replace(future, f"{future}\n{native}", 1))
    (app / "handlers" / "requirements.txt").write_text("orjson==3.11.4\n")
    return app


@pytest.mark.slow
@pytest.mark.parametrize(
    "resolution",
    [
        "constrained",
        "unconstrained",
        "lowest",
    ],
)
def test_wheel_installs_and_runs_a_consumer_app(wheel: Path, resolution: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv])
    env = _user_environment(venv)
    _install(resolution, venv, wheel, env, tmp_path)
    versions = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import pydantic, pydantic_core; print(pydantic.VERSION, pydantic_core.__version__)",
        ],
        env=env,
        cwd=tmp_path,
    ).stdout.strip()
    app = _consumer_app(tmp_path / "consumer-app")
    # The functions' bundled dependencies, installed for this machine, are cached per run of this test.
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    demo = _run([venv / "bin" / "async-results", "demo", "--count", "6"], env=env, cwd=app, timeout=1200)
    # The app's own plugin (handlers/sentiment.py), registered on the app's endpoint name, was routed to.
    assert "sentiment.record_label" in demo.stdout, f"{resolution} ({versions}):\n{demo.stdout}"
    assert "sentiment-async" in demo.stdout
    assert "Every inference accounted for." in demo.stdout, demo.stdout
