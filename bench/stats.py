"""Small statistics and the row/check records every case returns (kept numpy-free on purpose)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method); ``q`` in [0, 100]."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50.0)


@dataclass
class Comparison:
    """One side-by-side result: this measurement against a baseline's, with its target."""

    baseline: str
    ratio: float
    #: How the ratio reads, e.g. "x lower" (baseline / this) or "x" (this / baseline).
    wording: str
    target: str
    met: bool | None

    def text(self) -> str:
        return f"{self.ratio:.1f}{self.wording} vs {self.baseline}"


@dataclass
class Row:
    """One measured approach of one case (a line of the results table)."""

    case: str
    name: str
    unit: str
    n: int
    median: float
    p95: float
    samples: list[float] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    #: A target on the value itself (no baseline), e.g. "<= 50 us".
    target: str | None = None
    met: bool | None = None
    note: str = ""
    #: Short name used when other rows compare against this one.
    key: str = ""

    @classmethod
    def of(cls, case: str, name: str, unit: str, samples: Sequence[float], **extra: Any) -> Row:
        values = [float(v) for v in samples]
        return cls(
            case=case,
            name=name,
            unit=unit,
            n=len(values),
            median=median(values),
            p95=percentile(values, 95.0),
            samples=values,
            **extra,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def lower_is_better(this: Row, baseline: Row, factor: float) -> Comparison:
    """``baseline.median / this.median`` against "at least ``factor`` times lower"."""
    ratio = baseline.median / this.median if this.median > 0 else math.inf
    return Comparison(
        baseline.key or baseline.name, ratio, "x lower", f">= {factor:g}x lower", ratio >= factor
    )


def higher_is_better(this: Row, baseline: Row, factor: float) -> Comparison:
    """``this.median / baseline.median`` against "at least ``factor`` times higher"."""
    ratio = this.median / baseline.median if baseline.median > 0 else math.inf
    return Comparison(baseline.key or baseline.name, ratio, "x", f">= {factor:g}x", ratio >= factor)


def at_most_times(this: Row, baseline: Row, factor: float) -> Comparison:
    """``this.median / baseline.median`` against "at most ``factor`` times the baseline"."""
    ratio = this.median / baseline.median if baseline.median > 0 else math.inf
    return Comparison(baseline.key or baseline.name, ratio, "x", f"<= {factor:g}x", ratio <= factor)
