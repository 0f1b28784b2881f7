"""End-to-end fixtures: the synthesized stack deployed into the embedded AWS, one per delivery mode.

The Lambda bundle is skipped here (the functions run from the repository's sources with the test
environment's pinned packages); ``make demo`` runs the bundled asset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_run.environment import LocalEnvironment
from local_run.synth import synthesize


def _environment(tmp_path_factory: pytest.TempPathFactory, mode: str) -> Iterator[LocalEnvironment]:
    outdir = tmp_path_factory.mktemp(f"{mode}-cdk-out")
    synthesize(outdir, {"delivery": {"mode": mode}}, bundle=False)
    with LocalEnvironment(outdir, log_dir=outdir / "logs") as env:
        yield env


@pytest.fixture(scope="session")
def buffered_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    yield from _environment(tmp_path_factory, "buffered")


@pytest.fixture(scope="session")
def direct_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEnvironment]:
    yield from _environment(tmp_path_factory, "direct")


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    path = tmp_path / "input.json"
    path.write_text('{"inputs": "a fine day"}')
    return path
