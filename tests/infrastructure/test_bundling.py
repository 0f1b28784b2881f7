"""Local (Docker-free) bundling of the result-handler asset."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.bundling import BundlingError, PipLocalBundling


def test_failed_bundling_raises_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "requirements.txt").write_text("==not a requirement\n")
    with pytest.raises(BundlingError, match="no Docker fallback") as caught:
        PipLocalBundling(source).try_bundle(str(tmp_path / "out"))
    assert "manylinux2014_aarch64" in str(caught.value)


@pytest.mark.slow
def test_bundle_holds_the_code_and_lambda_platform_wheels(tmp_path: Path) -> None:
    out = tmp_path / "asset"
    assert PipLocalBundling().try_bundle(str(out)) is True
    assert (out / "entrypoint.py").exists()
    assert not list(out.rglob("__pycache__"))
    assert not (out / "tests").exists()
    assert list((out / "pydantic_core").glob("*.cpython-314-aarch64-linux-gnu.so"))
    assert (out / "aws_lambda_powertools").is_dir()
