"""Sample counts and delays for a full run and for the ``--quick`` smoke run.

The full run keeps every baseline's real delay (15 s waiter, 2 s polling loop) and trades sample counts
for a run of about ten minutes on a 2-core machine. ``--quick`` scales the baselines' delays down
(``delay_scale``): its numbers are labelled as such and say nothing about the real ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

#: The SageMaker Python SDK's ``WaiterConfig`` default delay between ``object_exists`` checks.
SDK_WAITER_DELAY_S = 15.0
SDK_WAITER_MAX_ATTEMPTS = 60
#: The polling loop of AWS's "Check prediction results" page sleeps this long between ``GetObject``s.
DOCS_POLL_DELAY_S = 2.0

CASES = ("time_to_result", "throughput", "cold_start", "memory", "await_at_scale", "local_throughput")


@dataclass(frozen=True)
class Counts:
    """How much of each case to run."""

    quick: bool = False
    #: Multiplies the baselines' polling delays; 1.0 except in ``--quick`` (never in reported numbers).
    delay_scale: float = 1.0
    ttr_project: int = 30
    ttr_project_s3: int = 10
    ttr_poll: int = 30
    ttr_waiter: int = 12
    #: Output size of the S3-resident variant: above SageMaker's 128 KB inline limit.
    s3_output_bytes: int = 200_000
    throughput_batches: int = 40
    batch_size: int = 10
    cpu_rounds: int = 7
    cpu_notifications: int = 1000
    cold_runs: int = 20
    memory_small_bytes: int = 1 << 20
    memory_large_bytes: int = 1 << 30
    memory_runs: int = 2
    seed: int = 5
    #: Requests awaited at once (await_at_scale); the quick run skips its 15 s / 2 s baselines.
    scale_requests: int = 1000

    @property
    def waiter_delay(self) -> float:
        return SDK_WAITER_DELAY_S * self.delay_scale

    @property
    def poll_delay(self) -> float:
        return DOCS_POLL_DELAY_S * self.delay_scale


FULL = Counts()
QUICK = Counts(
    quick=True,
    delay_scale=0.1,
    ttr_project=3,
    ttr_project_s3=2,
    ttr_poll=3,
    ttr_waiter=2,
    throughput_batches=3,
    cpu_rounds=2,
    cpu_notifications=100,
    cold_runs=2,
    memory_runs=1,
    memory_large_bytes=16 << 20,
    scale_requests=20,
)


def with_overrides(counts: Counts, **overrides: int | float | None) -> Counts:
    """``counts`` with the given (non-``None``) fields replaced."""
    changes: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    return replace(counts, **changes)
