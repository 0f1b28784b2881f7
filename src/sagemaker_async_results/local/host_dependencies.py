"""The bundled dependencies of a Lambda code asset, installed again for this machine.

A bundled asset holds wheels built for Lambda (arm64, CPython 3.14): its pure-Python packages would load
here, its native ones (``pydantic_core``, a handler's ``orjson``) would not. Mixing the asset's pure-Python
packages with native ones from the user's environment breaks as soon as pip resolved other versions there
(pydantic 2.14.4 beside the bundle's pydantic-core 2.50.4). So the local run installs exactly the asset's
pins (read from its ``*.dist-info`` folders) for this interpreter and platform, once per set of pins
(cached by their hash), and runs each function with that folder and the asset only: never with the user's
site-packages. boto3 comes with the Lambda runtime, not the asset; the same boto3 and botocore versions as
the interpreter's are added (they are the Lambda runtime's stand-in locally).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["HostDependencyError", "asset_pins", "default_cache_dir", "host_dependencies"]

#: What the Lambda Python runtime provides besides the asset (installed locally at this interpreter's
#: versions, so a function sees what it would see on Lambda and nothing of the user's environment).
RUNTIME_PROVIDED = ("boto3", "botocore")
#: Written last into a cache folder: its presence means the install completed.
_COMPLETE = ".complete.json"


class HostDependencyError(RuntimeError):
    """The asset's pins could not be installed for this machine; the message says which and why."""


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sagemaker-async-results/local-deps`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sagemaker-async-results" / "local-deps"


def asset_pins(code_dir: Path) -> list[str]:
    """``name==version`` of every distribution bundled in ``code_dir`` (empty: nothing was bundled)."""
    pins = set()
    for info in code_dir.glob("*.dist-info"):
        metadata = info / "METADATA"
        if not metadata.is_file():
            continue
        fields: dict[str, str] = {}
        for line in metadata.read_text(errors="replace").splitlines():
            if not line.strip():
                break  # the headers end at the first blank line
            key, _, value = line.partition(":")
            fields.setdefault(key.strip().lower(), value.strip())
        if fields.get("name") and fields.get("version"):
            pins.add(f"{fields['name']}=={fields['version']}")
    return sorted(pins, key=str.lower)


def _runtime_pins() -> list[str]:
    pins = []
    for name in RUNTIME_PROVIDED:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            pins.append(f"{name}=={importlib.metadata.version(name)}")
    return pins


def _platform_key() -> str:
    return f"{sys.implementation.name}{sys.version_info[0]}.{sys.version_info[1]}-{sys.platform}-{os.uname().machine}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (two local runs installing the same pins wait for each other)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def host_dependencies(code_dir: Path, cache_dir: Path | None = None) -> Path | None:
    """The folder holding the asset's pins installed for this machine, installing them on first use.

    Returns ``None`` when the asset bundles nothing (``--no-bundle``): the function then runs with the
    interpreter's own packages, as before bundling. Raises :class:`HostDependencyError` when pip fails.
    """
    pins = asset_pins(code_dir)
    if not pins:
        return None
    requirements = [*pins, *(p for p in _runtime_pins() if p.split("==")[0] not in _names(pins))]
    digest = hashlib.sha256(json.dumps([_platform_key(), requirements]).encode()).hexdigest()[:16]
    cache_dir = cache_dir or default_cache_dir()
    target = cache_dir / digest
    if (target / _COMPLETE).is_file():
        return target
    with _locked(cache_dir / f"{digest}.lock"):
        if (target / _COMPLETE).is_file():
            return target
        staging = Path(tempfile.mkdtemp(prefix=f"{digest}-", dir=cache_dir))
        try:
            _pip_install(pins, requirements, staging)
            (staging / _COMPLETE).write_text(json.dumps({"requirements": requirements}, indent=1))
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _names(pins: list[str]) -> set[str]:
    return {pin.split("==")[0].lower().replace("_", "-") for pin in pins}


def _pip_install(pins: list[str], requirements: list[str], target: Path) -> None:
    """``pip install --target``: the asset's pins exactly, boto3/botocore with what they need."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write("\n".join(pins) + "\n")
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--target", str(target), "--constraint", constraints.name, *requirements,
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    finally:
        Path(constraints.name).unlink(missing_ok=True)
    if result.returncode != 0:
        raise HostDependencyError(
            "could not install the Lambda bundle's pinned dependencies for this machine "
            f"({_platform_key()}): expected pip to install {', '.join(requirements)}; "
            f"pip said: {(result.stderr.strip() or result.stdout.strip())[-2000:]}"
        )
