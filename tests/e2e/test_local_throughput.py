"""CI-sized run of the local-throughput bench rows (``python -m bench --cases local_throughput`` runs
1,000 of each): every notification published is routed once, and the rows say what was measured."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.local_throughput import TARGET_BURST_P50_SECONDS, TARGET_RESULTS_PER_SECOND, burst, handler_path
from sagemaker_async_results.local.environment import LocalEnvironment


def test_handler_path_and_burst_rows_on_a_small_run(env: LocalEnvironment) -> None:
    if not any(hasattr(source, "subscription_arn") for source in env.sources):
        pytest.skip("the handler-path row measures direct delivery (SNS -> Lambda)")
    rows, extra = handler_path(env, 20, lambda _line: None, timeout=300)
    assert (extra["routed"], extra["unrouted"]) == (20, 0)
    rate, cpu = rows
    assert rate.unit == "results/s"
    assert rate.median > 0
    assert rate.met == (rate.median >= TARGET_RESULTS_PER_SECOND)
    assert cpu.unit == "ms"
    assert cpu.median > 0
    (waited,), burst_extra = burst(env, 5, lambda _line: None, timeout=300)
    assert burst_extra["results"] == 5
    assert not burst_extra["failures"]
    assert waited.n == 5
    assert waited.met == (waited.median <= TARGET_BURST_P50_SECONDS)


def test_with_the_emulator_in_its_own_process_the_projects_capacity_row_leaves_out_moto_and_the_publisher(
    tmp_path: Path,
) -> None:
    """As ``serve`` and ``demo`` run it: the emulator's CPU is measured in its own process, and the row
    held against the target is the rate the project's own CPU per result allows on this machine's cores."""
    from bench.local_throughput import run

    rows, extra = run(tmp_path, lambda _line: None, notifications=10, requests=0)
    path = extra["handlerPath"]
    assert (path["routed"], path["unrouted"], path["emulatorProcess"]) == (10, 0, True)
    by_process = path["cpuSecondsByProcess"]
    assert by_process["emulator"] > 0
    assert by_process["eventSources"] == pytest.approx(by_process["thisProcess"] - by_process["publisher"])
    (capacity,) = [r for r in rows if "the project's own code allows" in r.name]
    project_seconds = (by_process["eventSources"] + by_process["lambdaWorkers"]) / path["routed"]
    assert capacity.median == pytest.approx(path["cores"] / project_seconds)
    assert capacity.met == (capacity.median >= TARGET_RESULTS_PER_SECOND)
    (wall,) = [r for r in rows if r.unit == "results/s" and r is not capacity]
    assert wall.target == capacity.target
