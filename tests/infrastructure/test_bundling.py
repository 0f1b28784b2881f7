"""Local (Docker-free) bundling of the result-handler asset: the installed runtime plus the user's plugins."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_async_results.cdk.bundling import (
    ASSET_EXCLUDES,
    LAMBDA_REQUIREMENTS,
    BundlingError,
    PipLocalBundling,
    assemble_source,
)

HANDLERS = Path(__file__).resolve().parents[2] / "functions" / "handlers"


def test_failed_bundling_raises_a_clear_error(tmp_path: Path) -> None:
    source = assemble_source(tmp_path / "src", None)
    bad = tmp_path / "requirements.txt"
    bad.write_text("==not a requirement\n")
    with pytest.raises(BundlingError, match="no Docker fallback") as caught:
        PipLocalBundling(source, [bad]).try_bundle(str(tmp_path / "out"))
    assert "manylinux2014_aarch64" in str(caught.value)
    assert str(bad) in str(caught.value)


def test_assembled_source_is_the_runtime_and_the_plugins_only(tmp_path: Path) -> None:
    source = assemble_source(tmp_path / "src", HANDLERS)
    package = source / "sagemaker_async_results"
    assert (package / "runtime" / "entrypoint.py").is_file()
    assert (package / "contract.py").is_file()
    assert (source / "handlers" / "example.py").is_file()
    # The constructs, the client and the local run are never deployed.
    for part in ("cdk", "client", "local", "cli"):
        assert not (package / part).exists(), part
    assert not list(source.rglob("__pycache__"))
    assert not list(source.rglob("lambda-requirements.txt"))


def test_bundling_command_pins_the_lambda_platform(tmp_path: Path) -> None:
    extra = tmp_path / "requirements.txt"
    command = PipLocalBundling(tmp_path, [LAMBDA_REQUIREMENTS, extra]).pip_command(str(tmp_path))
    for flag in ("--no-deps", "--only-binary=:all:", "manylinux2014_aarch64", "3.14", "--target"):
        assert flag in command
    requirement_files = [command[i + 1] for i, arg in enumerate(command) if arg == "-r"]
    assert requirement_files == [str(LAMBDA_REQUIREMENTS), str(extra)]
    assert "tests" in ASSET_EXCLUDES
    assert "__pycache__" in ASSET_EXCLUDES


@pytest.mark.slow
def test_bundle_holds_the_code_and_lambda_platform_wheels(tmp_path: Path) -> None:
    source = assemble_source(tmp_path / "src", HANDLERS)
    out = tmp_path / "asset"
    assert PipLocalBundling(source).try_bundle(str(out)) is True
    assert (out / "sagemaker_async_results" / "runtime" / "entrypoint.py").exists()
    assert (out / "handlers" / "example.py").exists()
    assert not list(out.rglob("__pycache__"))
    assert list((out / "pydantic_core").glob("*.cpython-314-aarch64-linux-gnu.so"))
    assert (out / "aws_lambda_powertools").is_dir()
