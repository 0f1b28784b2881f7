"""``async-results demo`` on a user's app whose handler cannot load: it fails at start, before the first
inference is submitted, with one line on stderr naming the function and the reason, exit 9, and the
error with its traceback in that function's log file (not a 60 s wait per inference and a traceback)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "consumer-app"


@pytest.mark.slow
def test_demo_fails_fast_with_one_line_when_a_handler_cannot_load(tmp_path: Path) -> None:
    app = shutil.copytree(EXAMPLE, tmp_path / "app", ignore=shutil.ignore_patterns(".build", "cdk.out"))
    handler = app / "handlers" / "sentiment.py"
    future = "from __future__ import annotations\n"
    handler.write_text(
        handler.read_text().replace(future, f"{future}\nimport a_module_nobody_installed\n", 1)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    started = time.monotonic()
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "sagemaker_async_results.cli",
            "demo",
            "--no-bundle",
            "--no-summary",
            "--count",
            "4",
        ],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    took = time.monotonic() - started
    assert demo.returncode == 9, (demo.returncode, demo.stdout, demo.stderr)
    lines = [line for line in demo.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, demo.stderr
    assert "HandlerFunction" in lines[0]
    assert "cannot load" in lines[0]
    assert "handlers.sentiment: cannot import" in lines[0]
    assert "No module named 'a_module_nobody_installed'" in lines[0]
    assert "Traceback" not in demo.stdout + demo.stderr
    assert "Inferences" not in demo.stdout  # nothing was submitted
    logs = list((app / ".build" / "local-logs").glob("*SuccessHandler*.log"))
    assert logs, sorted((app / ".build").iterdir())
    log = logs[0].read_text()
    assert "[ERROR] ConfigurationError: " in log
    assert "cannot load handler plugins: handlers.sentiment: cannot import" in log
    assert "Traceback (most recent call last)" in log
    assert "KeyboardInterrupt" not in log
    print(f"failed in {took:.1f} s")
