"""CI-sized run of the local-throughput bench rows (``python -m bench --cases local_throughput`` runs
1,000 of each): every notification published is routed once, and the rows say what was measured."""

from __future__ import annotations

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
