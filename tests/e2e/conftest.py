"""End-to-end fixtures: the synthesized stack deployed into the embedded AWS, one per delivery mode.

The Lambda bundle is skipped here (the functions run from the repository's sources with the test
environment's pinned packages); ``make demo`` runs the bundled asset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagemaker_async_results.local.environment import LocalEnvironment
from sagemaker_async_results.local.synth import CdkApp

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", params=["buffered", "direct"])
def env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEnvironment]:
    """One deployment per delivery mode; pytest finishes one before it starts the next (moto's state is
    process-wide, so two emulators in one process would share it)."""
    mode = request.param
    outdir = tmp_path_factory.mktemp(f"{mode}-cdk-out")
    CdkApp(ROOT).synthesize(outdir, {"delivery": {"mode": mode}}, bundle=False)
    with LocalEnvironment(outdir, log_dir=outdir / "logs") as environment:
        yield environment


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text('{"inputs": "a fine day"}')
    return path
