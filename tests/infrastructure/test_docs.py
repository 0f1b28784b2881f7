"""The README and docs/ are the tested user's guide: the README's construct example is the example app,
docs/configure.md's context table is the one the configuration model renders, and the docs site (the
README as its home page, docs/ as its pages) builds with --strict, so a broken link or anchor fails."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from sagemaker_async_results.cdk.config import context_reference_markdown
from sagemaker_async_results.runtime import ResultsApp, Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sns_event
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


def test_readme_pipeline_example_synthesizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's existing-endpoint snippet, in a stack of its own, synthesizes the pipeline it names."""
    (block,) = [b for b in _python_blocks() if "AsyncResultsPipeline(" in b]
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(tmp_path))
    stack = cdk.Stack(app, "ScorerResults")
    monkeypatch.chdir(EXAMPLE)  # a folder with a handlers/ package, as the snippet's handlers_dir expects
    exec(compile(block, "README.md", "exec"), {"__name__": "readme", "stack": stack})
    app.synth()
    template = (tmp_path / "ScorerResults.template.json").read_text()
    assert '"TopicName": "scorer-results-success"' in template
    assert "MySageMakerExecutionRole" in template


def test_context_reference_is_generated_from_the_model() -> None:
    start, end = "<!-- context-reference:start -->", "<!-- context-reference:end -->"
    assert start in CONFIGURE
    assert end in CONFIGURE
    table = CONFIGURE[CONFIGURE.index(start) + len(start) : CONFIGURE.index(end)]
    assert table.strip() == context_reference_markdown().strip(), (
        "docs/configure.md context table is stale: paste context_reference_markdown()'s output between the markers"
    )


#: The landing page stays a landing page; the guide lives in docs/.
README_MAX_LINES = 250
#: Entries of the checkout the site build does not read (or that are too big to matter).
_NOT_FOR_THE_SITE = {".git", ".build", "node_modules", "README.md", "mkdocs.yml", "docs"}


def _build_site(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``root``'s mkdocs.yml into ``site`` (outside the checkout).

    Never with ``--quiet``: MkDocs 1.6 then stops counting warnings and a strict build passes anyway.
    """
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner, not a build warning
    config = ["--config-file", str(root / "mkdocs.yml"), "--site-dir", str(site)]
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", *config],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_readme_is_a_landing_page_whose_commands_are_true() -> None:
    lines = DOC.splitlines()
    assert len(lines) <= README_MAX_LINES, f"README has {len(lines)} lines; move guide text into docs/"
    assert "make demo" in DOC
    assert "make test" in DOC
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", DOC, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), f"README runs `make {target}`: no such target"
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    wheels = set(re.findall(r"sagemaker_async_results-([\w.]+)-py3-none-any\.whl", DOC))
    assert wheels == {version}, f"README installs wheel version(s) {wheels}; `make dist` writes {version}"


def test_docs_site_builds_strictly(tmp_path: Path) -> None:
    result = _build_site(PROJECT_ROOT, tmp_path / "site")
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    home = (tmp_path / "site" / "index.html").read_text()
    assert 'href="handlers/"' in home, "the README's docs/ links did not become site links"
    for page in ("handlers", "local-run", "await-results", "adopt-existing-endpoint", "deploy", "configure"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    for page in ("destinations", "failure-handling", "benchmarks", "architecture", "security"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    plot = tmp_path / "site" / "repo" / "bench" / "results" / "time_to_result.png"
    assert plot.is_file(), "a repository file a page shows is served under repo/"


#: One broken link of each kind, and the page it is put in: the strict build must name every one.
BROKEN_LINKS = {
    "no-such-page.md": ("docs/handlers.md", "[a page](no-such-page.md)"),
    "#no-such-section": ("docs/handlers.md", "[an anchor](configure.md#no-such-section)"),
    "no-such-file.py": ("README.md", "[a file](examples/no-such-file.py)"),
}


def test_docs_site_build_fails_on_broken_links(tmp_path: Path) -> None:
    """The strict build catches broken links and unlisted pages: a copy of the docs with some fails, naming each."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copytree(PROJECT_ROOT / "docs", root / "docs")
    shutil.copy(PROJECT_ROOT / "mkdocs.yml", root)
    shutil.copy(PROJECT_ROOT / "README.md", root)
    for entry in PROJECT_ROOT.iterdir():
        if entry.name not in _NOT_FOR_THE_SITE and not entry.name.startswith(".venv"):
            (root / entry.name).symlink_to(entry)
    for page, link in BROKEN_LINKS.values():
        with (root / page).open("a") as doc:
            doc.write(f"\nSee {link}.\n")
    (root / "docs" / "not-in-nav.md").write_text("# A page nobody can reach from the navigation\n")
    result = _build_site(root, tmp_path / "site")
    assert result.returncode != 0, "broken links passed the strict build"
    output = result.stdout + result.stderr
    for named in [*BROKEN_LINKS, "not-in-nav.md"]:
        assert named in output, f"the strict build did not report the broken link {named}:\n{output}"


def _example_handlers() -> Any:
    """The example app's handler module, loaded by path under its own name (the sample app's plugin
    package is also called ``handlers``)."""
    spec = importlib.util.spec_from_file_location("example_sentiment", EXAMPLE / "handlers" / "sentiment.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: Imported at collection, as a user's test module imports its handlers: the logger exists before capsys.
EXAMPLE_HANDLERS = _example_handlers()


def test_handler_logs_are_in_caplog_not_capsys(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/handlers.md tells users to assert on handler logs with caplog: true for the example's handler."""
    app = ResultsApp(settings=Settings(), routers=[EXAMPLE_HANDLERS.router])
    body = [{"label": "POSITIVE", "score": 0.9}]
    app(sns_event([notification(endpoint_name="sentiment-async", body=body)]), lambda_context())
    records = [r for r in caplog.records if r.getMessage() == "sentiment"]
    assert len(records) == 1
    assert getattr(records[0], "label", None) == "POSITIVE"  # the extra field, as a record attribute
    assert '"message":"sentiment"' not in capsys.readouterr().out
    assert "caplog" in (PROJECT_ROOT / "docs" / "handlers.md").read_text()
