"""Chaos at CI size: both delivery modes under failing AWS calls, duplicates and poison (bench/soak.py).

300 notifications per mode; ``make soak`` runs 10,000. Faults hit 10% of the runtime's AWS attempts
(half after the call took effect, throttles and 5xx, with bursts long enough to exhaust botocore's
retries); 5% of notifications are delivered twice; 1% are poison. Invocations time out: 5% of AWS
attempts are slow (up to the clients' attempt timeout), 5% of handler calls take 4-36 s of a 30 s
invocation, so records are refused by the deadline margin, handlers and AWS calls are cut off at the
deadline, and writes fail near it. A handler that ran into the margin (returned with less than the
margin left, or was cut off) may repeat (the documented case, counted apart); nothing else may.
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
    outcome = {
        name: getattr(acct, name)
        for name in ("lost", "routed_twice", "good_dead_lettered", "poison_not_dead_lettered", "unhandled")
    }
    assert outcome == dict.fromkeys(outcome, 0), acct.examples
    assert acct.faults_injected > 0, "the run had no chaos in it"
    assert acct.faults_after_effect > 0
    assert acct.duplicates_sent > 0
    assert acct.poison > 0
    assert acct.handlers_into_margin > 0, "no handler ran into the margin"
    assert acct.deadline_refusals > 0, "no record was left to the retry by the margin"
    assert acct.documented_repeats <= acct.handlers_into_margin


def test_aws_calls_met_the_deadline(results: dict[str, Accounting]) -> None:
    """Writes near the deadline, some of them failing, some cut off in flight (over both modes)."""
    assert sum(r.attempts_near_deadline for r in results.values()) > 0
    assert sum(r.faults_near_deadline for r in results.values()) > 0
    # Cut-offs at the deadline are rarer than refusals: at 300 per mode one mode may have none.
    cut_off = sum(r.timeouts + r.handler_overruns for r in results.values())
    assert cut_off > 0, "nothing was cut off by the deadline"
