"""Smoke test of the benchmarks: ``python -m bench --quick`` runs every case and writes well-formed results.

Timing is never asserted (benchmarks are not tests). ``--quick`` uses tiny counts and scales the
baselines' polling delays down (x0.1, labelled in the output); it only proves the harness works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_quick_bench_writes_json_markdown_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out), "--workdir", str(tmp_path / "work")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]

    document = json.loads((out / "latest.json").read_text())
    assert document["meta"]["quick"] is True
    assert document["meta"]["errors"] == {}
    assert document["meta"]["machine"]["nproc"] >= 1
    cases = {row["case"] for row in document["rows"]}
    assert cases == {
        "time_to_result",
        "throughput",
        "cpu_cost",
        "cold_start",
        "memory",
        "await_at_scale",
        "local_throughput",
    }
    for row in document["rows"]:
        assert row["n"] >= 1, row
        assert row["median"] == row["median"], row  # not NaN
        assert row["unit"], row
    ttr = document["cases"]["time_to_result"]
    assert set(ttr["samples"]) == {"project", "project_s3", "poll_2s", "waiter_15s"}
    assert all(ttr["samples"][name] for name in ttr["samples"])
    # Scaled baseline delays never count as a met or missed target.
    project = next(r for r in document["rows"] if r["name"].startswith("this project (inline"))
    assert [c["met"] for c in project["comparisons"]] == [None, None]
    assert any("scaled" in r["name"] for r in document["rows"])

    markdown = (out / "latest.md").read_text()
    assert markdown.count("\n| ") >= len(document["rows"]) + 1
    assert "QUICK" in markdown
    assert "| Case | Approach | n | Median | p95 | vs baseline | Target | Met |" in markdown

    png = (out / "time_to_result.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 10_000
