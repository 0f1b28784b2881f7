"""Docker-free bundling of the result-handler code asset.

The asset is ``functions/`` (without tests and caches) plus exactly the pins of
``functions/requirements.txt``, installed by pip for the Lambda platform (arm64, CPython 3.14, binary
wheels only). That is the same set of versions the tests run with. The Docker image fallback of
``BundlingOptions`` is never used: if local bundling fails, synth fails with a clear error.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from stacks.paths import FUNCTIONS_DIR

__all__ = ["ASSET_EXCLUDES", "BundlingError", "PipLocalBundling", "result_handler_code"]

#: Never part of the deployed asset (nor of its source hash).
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "tests", ".pytest_cache", ".mypy_cache"]
#: Lambda platform the wheels are chosen for; must match the functions' runtime and architecture.
PYTHON_VERSION = "3.14"
PLATFORM = "manylinux2014_aarch64"


class BundlingError(RuntimeError):
    """Local bundling failed; synth stops (there is no Docker fallback)."""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Copy the source folder and ``pip install --target`` its pinned requirements for the Lambda platform.

    Parameters
    ----------
    source_dir:
        Folder to bundle (default ``functions/``); its ``requirements.txt`` is installed ``--no-deps``,
        so it must list every runtime dependency with an exact pin.
    python_version, platform:
        Target interpreter and wheel platform (defaults: 3.14, manylinux2014_aarch64).
    """

    def __init__(
        self,
        source_dir: Path = FUNCTIONS_DIR,
        *,
        python_version: str = PYTHON_VERSION,
        platform: str = PLATFORM,
    ) -> None:
        self.source_dir = Path(source_dir)
        self.python_version = python_version
        self.platform = platform

    def pip_command(self, output_dir: str) -> list[str]:
        """The pip command run by :meth:`try_bundle` (exposed for tests and docs)."""
        return [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-compile", "--only-binary=:all:",
            "--platform", self.platform, "--implementation", "cp", "--python-version", self.python_version,
            "-r", str(self.source_dir / "requirements.txt"), "--target", output_dir,
        ]  # fmt: skip

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:
        """Bundle into ``output_dir``; return True (never fall back to Docker) or raise BundlingError.

        jsii calls this with the ``BundlingOptions`` as a second positional argument (unused here).
        """
        shutil.copytree(
            self.source_dir,
            output_dir,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(*ASSET_EXCLUDES),
        )
        command = self.pip_command(output_dir)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                "Local bundling of the result-handler asset failed (there is no Docker fallback).\n"
                f"command: {' '.join(command)}\n"
                f"expected: binary wheels for cp{self.python_version.replace('.', '')} {self.platform} "
                f"for every pin of {self.source_dir / 'requirements.txt'}\n"
                f"pip said:\n{result.stderr.strip() or result.stdout.strip()}"
            )
        return True


def result_handler_code(source_dir: Path = FUNCTIONS_DIR) -> lambda_.Code:
    """The shared code asset of both result-handler functions (local bundling, no Docker).

    Tests skip bundling with the context ``{"aws:cdk:bundling-stacks": []}``; the asset is then the
    source folder as is.
    """
    return lambda_.Code.from_asset(
        str(source_dir),
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.14"),
            # jsii passes the bundling options positionally, which the generated protocol does not model.
            local=cast(ILocalBundling, PipLocalBundling(source_dir)),
        ),
    )
