"""The Lambda entry point builds the app once per execution environment, lazily, and hands it each event."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagemaker_async_results.runtime import app as app_module
from sagemaker_async_results.runtime import entrypoint


class FakeApp:
    built = 0

    def __init__(self) -> None:
        FakeApp.built += 1
        self.events: list[tuple[Any, Any]] = []

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        self.events.append((event, context))
        return {"handled": event}


@pytest.fixture(autouse=True)
def fake_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    FakeApp.built = 0
    monkeypatch.setattr(app_module, "ResultsApp", FakeApp)
    entrypoint.reset_app()
    yield
    entrypoint.reset_app()


def test_the_app_is_built_on_first_use_and_reused_until_reset() -> None:
    assert FakeApp.built == 0
    first = entrypoint.get_app()
    assert entrypoint.get_app() is first
    assert FakeApp.built == 1
    entrypoint.reset_app()
    assert entrypoint.get_app() is not first
    assert FakeApp.built == 2


def test_the_handler_passes_the_event_and_context_to_the_one_app() -> None:
    context = object()
    assert entrypoint.handler({"Records": []}, context) == {"handled": {"Records": []}}
    assert entrypoint.handler({"n": 2}, None) == {"handled": {"n": 2}}
    app = entrypoint.get_app()
    assert isinstance(app, FakeApp)
    assert app.events == [({"Records": []}, context), ({"n": 2}, None)]
    assert FakeApp.built == 1


def test_importing_the_entry_point_does_not_load_the_app() -> None:
    """Cold start: the app (Powertools, pydantic, boto3) loads on the first event, not on import."""
    code = (
        "import sys; import sagemaker_async_results.runtime.entrypoint; "
        "print(sorted(m for m in ('sagemaker_async_results.runtime.app', 'boto3', 'pydantic') if m in sys.modules))"
    )
    source = Path(entrypoint.__file__).parents[2]  # the tree under test, not the installed one
    env = {**os.environ, "PYTHONPATH": str(source)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "[]"


def test_the_first_event_of_a_fresh_environment_builds_the_app() -> None:
    code = (
        "import sagemaker_async_results.runtime.app as app; app.ResultsApp = lambda: print; "
        "import sagemaker_async_results.runtime.entrypoint as e; e.handler('event', 'context')"
    )
    source = Path(entrypoint.__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(source)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "event context"
