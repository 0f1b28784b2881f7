"""The README: the construct example runs, and the context reference lists every key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_async_results.cdk.config import default_context
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING

DOC = (PROJECT_ROOT / "README.md").read_text()


def test_context_reference_lists_every_key() -> None:
    for key in default_context():
        assert f"`{key}`" in DOC, key


def test_construct_example_synthesizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", DOC, re.S) if "cdk.App()" in block]
    real_app = cdk.App
    monkeypatch.setattr(cdk, "App", lambda: real_app(context=SKIP_BUNDLING, outdir=str(tmp_path)))
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert (tmp_path / "MyInference.template.json").exists()
