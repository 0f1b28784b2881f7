"""Chaos at CI size: both delivery modes under failing AWS calls, duplicates and poison (bench/soak.py).

300 notifications per mode; ``make soak`` runs 10,000. Faults hit 10% of the runtime's AWS attempts
(half after the call took effect, throttles and 5xx, with bursts long enough to exhaust botocore's
retries); 5% of notifications are delivered twice; 1% are poison.
"""

from __future__ import annotations

import pytest

from bench.soak import MODES, Accounting, SoakConfig, run


@pytest.fixture(scope="module")
def results() -> dict[str, Accounting]:
    return {r.mode: r for r in run(SoakConfig(count=300))}


@pytest.mark.parametrize("mode", MODES)
def test_nothing_lost_nothing_routed_twice_every_poison_dead_lettered(
    results: dict[str, Accounting], mode: str
) -> None:
    acct = results[mode]
    assert acct.faults_injected > 0, "the run had no chaos in it"
    assert acct.faults_after_effect > 0
    assert acct.duplicates_sent > 0
    assert acct.poison > 0
    outcome = {
        name: getattr(acct, name)
        for name in ("lost", "routed_twice", "good_dead_lettered", "poison_not_dead_lettered", "unhandled")
    }
    assert outcome == dict.fromkeys(outcome, 0), acct.examples
