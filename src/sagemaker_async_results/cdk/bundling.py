"""Docker-free bundling of the result-handler code asset: the installed runtime plus the user's plugins.

The asset is assembled from two sources, wherever the library is installed (site-packages, an editable
checkout, a wheel):

* the runtime's own files (``sagemaker_async_results/{__init__,contract}.py`` and ``runtime/``), never the
  CDK constructs, the client or the local run;
* the user's handler folder, copied as a top-level package of the same name (``handlers/`` -> ``handlers``);

plus, when bundling runs, exactly the pins of ``runtime/lambda-requirements.txt`` (and the handler
folder's own ``requirements.txt``, if any), installed by pip for the Lambda platform (arm64, CPython
3.14, binary wheels only). The Docker image fallback of ``BundlingOptions`` is never used: if local
bundling fails, synth fails with a clear error.

Tests and the local run skip bundling (context ``{"aws:cdk:bundling-stacks": []}``): the asset is then
the assembled source folder, and the dependencies come from the interpreter that runs it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, Stage
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results import contract

__all__ = [
    "ASSET_EXCLUDES",
    "LAMBDA_REQUIREMENTS",
    "BundlingError",
    "PipLocalBundling",
    "assemble_source",
    "result_handler_code",
]

#: Never part of the deployed asset (nor of its source hash).
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "tests", ".pytest_cache", ".mypy_cache", "requirements.txt"]
#: The package whose runtime part is deployed.
PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The exact pins the Lambda function bundles (boto3/botocore come with the Lambda runtime).
LAMBDA_REQUIREMENTS = PACKAGE_DIR / "runtime" / "lambda-requirements.txt"
#: What of the package is deployed: the runtime and the facts it shares with the constructs.
_RUNTIME_FILES = ("__init__.py", "contract.py", "py.typed")
_RUNTIME_DIRS = ("runtime",)
#: Name of the folder, inside the cloud assembly, where sources are assembled.
_STAGING_DIR = ".async-results-sources"


class BundlingError(RuntimeError):
    """Local bundling failed; synth stops (there is no Docker fallback)."""


def _copy(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*ASSET_EXCLUDES))


def assemble_source(target: Path, handlers_dir: Path | None) -> Path:
    """Write the asset's sources into ``target`` (emptied first) and return it."""
    if target.exists():
        shutil.rmtree(target)
    package = target / PACKAGE_DIR.name
    package.mkdir(parents=True)
    for name in _RUNTIME_FILES:
        if (PACKAGE_DIR / name).exists():
            shutil.copy2(PACKAGE_DIR / name, package / name)
    for name in _RUNTIME_DIRS:
        _copy(PACKAGE_DIR / name, package / name)
    (package / "runtime" / LAMBDA_REQUIREMENTS.name).unlink(missing_ok=True)
    if handlers_dir is not None:
        _copy(handlers_dir, target / handlers_dir.name)
    return target


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Copy the assembled sources and ``pip install --target`` the pinned requirements for the Lambda platform.

    Parameters
    ----------
    source_dir:
        The assembled sources (see :func:`assemble_source`).
    requirements:
        Requirement files installed ``--no-deps``: each must list every dependency with an exact pin.
    python_version, platform:
        Target interpreter and wheel platform (defaults: the Lambda runtime's, from :mod:`contract`).
    """

    def __init__(
        self,
        source_dir: Path,
        requirements: Sequence[Path] = (LAMBDA_REQUIREMENTS,),
        *,
        python_version: str = contract.LAMBDA_PYTHON_VERSION,
        platform: str = contract.LAMBDA_WHEEL_PLATFORM,
    ) -> None:
        self.source_dir = Path(source_dir)
        self.requirements = tuple(Path(path) for path in requirements)
        self.python_version = python_version
        self.platform = platform

    def pip_command(self, output_dir: str) -> list[str]:
        """The pip command run by :meth:`try_bundle` (exposed for tests and docs)."""
        command = [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--no-compile", "--only-binary=:all:",
            "--platform", self.platform, "--implementation", "cp", "--python-version", self.python_version,
            "--target", output_dir,
        ]  # fmt: skip
        for path in self.requirements:
            command += ["-r", str(path)]
        return command

    def try_bundle(self, output_dir: str, _options: Any = None) -> bool:
        """Bundle into ``output_dir``; return True (never fall back to Docker) or raise BundlingError.

        jsii calls this with the ``BundlingOptions`` as a second positional argument (unused here).
        """
        _copy(self.source_dir, Path(output_dir))
        command = self.pip_command(output_dir)
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BundlingError(
                "Local bundling of the result-handler asset failed (there is no Docker fallback).\n"
                f"command: {' '.join(command)}\n"
                f"expected: binary wheels for cp{self.python_version.replace('.', '')} {self.platform} "
                f"for every pin of {', '.join(str(p) for p in self.requirements)}\n"
                f"pip said:\n{result.stderr.strip() or result.stdout.strip()}"
            )
        return True


def result_handler_code(scope: Construct, handlers_dir: Path | None = None) -> lambda_.Code:
    """The code asset of the result-handler functions: runtime + ``handlers_dir`` + pinned dependencies.

    ``handlers_dir`` may hold a ``requirements.txt`` of exact pins for the handlers' own dependencies;
    it is installed with the runtime's. The sources are assembled inside the app's output folder, so
    the asset is correct whether bundling runs or is skipped.
    """
    handlers_dir = Path(handlers_dir).resolve() if handlers_dir is not None else None
    if handlers_dir is not None and not (handlers_dir / "__init__.py").is_file():
        raise BundlingError(
            f"handler folder {handlers_dir} is not a Python package: expected an __init__.py in it "
            "(the folder is deployed as the package of the same name)"
        )
    outdir = Path(Stage.of(scope).outdir)  # type: ignore[union-attr]  # every construct is in a stage
    digest = hashlib.sha256(str(handlers_dir).encode()).hexdigest()[:12]
    source = assemble_source(outdir / _STAGING_DIR / digest, handlers_dir)
    requirements = [LAMBDA_REQUIREMENTS]
    if handlers_dir is not None and (handlers_dir / "requirements.txt").is_file():
        requirements.append(handlers_dir / "requirements.txt")
    return lambda_.Code.from_asset(
        str(source),
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            # Required by the API, never pulled: local bundling always succeeds or raises.
            image=DockerImage.from_registry(
                f"public.ecr.aws/sam/build-python{contract.LAMBDA_PYTHON_VERSION}"
            ),
            # jsii passes the bundling options positionally, which the generated protocol does not model.
            local=cast(ILocalBundling, PipLocalBundling(source, requirements)),
        ),
    )
