"""The README and docs/ are the tested user's guide: the README's construct example is the example app,
and docs/configure.md's context table is the one the configuration model renders."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_async_results.cdk.config import context_reference_markdown
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING

DOC = (PROJECT_ROOT / "README.md").read_text()
CONFIGURE = (PROJECT_ROOT / "docs" / "configure.md").read_text()
EXAMPLE = PROJECT_ROOT / "examples" / "consumer-app"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC, re.S)


def test_readme_construct_example_is_the_example_app() -> None:
    """What the README shows is what the consumer-app test installs from the wheel and runs."""
    app_code = (EXAMPLE / "app.py").read_text()
    body = app_code[app_code.index("from __future__") :]
    assert any(block.strip() == body.strip() for block in _python_blocks()), (
        "README's 'A new endpoint' block differs from examples/consumer-app/app.py"
    )
    handler_code = (EXAMPLE / "handlers" / "sentiment.py").read_text()
    handler_body = handler_code[handler_code.index("from __future__") :]
    assert any(block.strip() == handler_body.strip() for block in _python_blocks())


def test_example_app_synthesizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code = (EXAMPLE / "app.py").read_text()
    real_app = cdk.App
    monkeypatch.setattr(cdk, "App", lambda: real_app(context=SKIP_BUNDLING, outdir=str(tmp_path)))
    monkeypatch.chdir(EXAMPLE)  # handlers_dir="handlers" is relative to the app's folder
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, str(EXAMPLE / "app.py"), "exec"), namespace)
    template = tmp_path / "SentimentService.template.json"
    assert template.exists(), os.listdir(tmp_path)
    assert '"EndpointName": "sentiment-async"' in template.read_text()


def test_context_reference_is_generated_from_the_model() -> None:
    start, end = "<!-- context-reference:start -->", "<!-- context-reference:end -->"
    assert start in CONFIGURE
    assert end in CONFIGURE
    table = CONFIGURE[CONFIGURE.index(start) + len(start) : CONFIGURE.index(end)]
    assert table.strip() == context_reference_markdown().strip(), (
        "docs/configure.md context table is stale: paste context_reference_markdown()'s output between the markers"
    )
