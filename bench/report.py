"""Writes the results: ``latest.json`` (everything, samples included), ``latest.md`` (the table for
docs/benchmarks.md) and ``time_to_result.png`` (the distributions behind case 1's medians)."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.stats import Row

CASE_TITLES = {
    "time_to_result": "1. Time to result",
    "throughput": "2. Handler throughput",
    "cpu_cost": "2. CPU per notification",
    "cold_start": "3. Cold start",
    "memory": "4. Memory",
    "cost": "5. Cost per million results",
}


def machine() -> dict[str, Any]:
    """What the numbers came from."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        memory_gib: float | None = round(psutil.virtual_memory().total / (1 << 30), 1)
    except ImportError:  # pragma: no cover - psutil is a dev requirement
        memory_gib = None
    versions: dict[str, str | None] = {}
    for package in ("boto3", "moto", "aws-lambda-powertools", "pydantic"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memoryGiB": memory_gib,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def _value(value: float, unit: str) -> str:
    if math.isnan(value):
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "requests":
        return f"{value:g}"
    if unit == "notifications/s":
        return f"{value:.0f}/s"
    if unit == "us/notification":
        return f"{value:.1f} µs"
    if unit == "USD per million results":
        return f"${value:,.2f}"
    if unit == "calls":
        return f"{value:g}"
    if unit == "ms":
        return f"{value:.0f} ms"
    if unit == "MiB":
        return f"{abs(value):.1f} MiB" if abs(value) < 0.05 else f"{value:.1f} MiB"
    return f"{value:g} {unit}"


def _met(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")


def table(rows: list[Row]) -> str:
    lines = [
        "| Case | Approach | n | Median | p95 | vs baseline | Target | Met |",
        "|---|---|--:|--:|--:|---|---|---|",
    ]
    for row in rows:
        if row.comparisons:
            versus = "; ".join(f"{c.ratio:.1f}{c.wording} vs {c.baseline}" for c in row.comparisons)
            target = "; ".join(f"{c.target} vs {c.baseline}" for c in row.comparisons)
            met = "; ".join(_met(c.met) for c in row.comparisons)
        else:
            versus = ""
            target = row.target or ""
            met = _met(row.met) if row.target else ""
        cells = [
            CASE_TITLES.get(row.case, row.case),
            row.name,
            str(row.n),
            _value(row.median, row.unit),
            _value(row.p95, row.unit),
            versus,
            target,
            met,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def markdown(rows: list[Row], meta: dict[str, Any], extras: dict[str, Any] | None = None) -> str:
    m = meta["machine"]
    header = [
        "<!-- written by `python -m bench`; do not edit -->",
        f"Run: {meta['started']} ({'QUICK smoke run: tiny counts, baseline delays scaled down, not comparable' if meta['quick'] else 'full run'}), "
        f"{meta['seconds']:.0f} s. Machine: {m['nproc']} x {m['cpu']}, {m['memoryGiB']} GiB, Python {m['python']}.",
        "",
        table(rows),
        "",
        "Notes:",
        "",
    ]
    notes = [f"- {row.name}: {row.note}" for row in rows if row.note]
    errors = [f"- **{case} failed**: {error}" for case, error in meta.get("errors", {}).items()]
    cost = (extras or {}).get("cost")
    tail = ["", "Cost per million results:", "", cost["markdown"], "", cost["note"]] if cost else []
    return "\n".join(header + notes + errors + tail) + "\n"


def plot(path: Path, ttr: dict[str, Any], quick: bool) -> None:
    """Time-to-result distributions (log scale): one box + the samples per approach."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    labels: dict[str, str] = ttr["labels"]
    samples: dict[str, list[dict[str, Any]]] = ttr["samples"]
    names = [name for name in labels if samples.get(name)]
    data = [[s["seconds"] for s in samples[name]] for name in names]
    figure, axes = plt.subplots(figsize=(10, 1.2 + 0.9 * len(names)))
    axes.boxplot(data, vert=False, widths=0.5, showfliers=False)
    for position, values in enumerate(data, start=1):
        offsets = [position + ((i * 37) % 21 - 10) / 60 for i in range(len(values))]
        axes.scatter(values, offsets, s=12, alpha=0.6)
        ordered = sorted(values)
        middle = (
            ordered[len(ordered) // 2]
            if len(ordered) % 2
            else sum(ordered[len(ordered) // 2 - 1 : len(ordered) // 2 + 1]) / 2
        )
        axes.annotate(
            f"median {middle * 1000:.0f} ms" if middle < 1 else f"median {middle:.2f} s",
            (middle, position + 0.3),
            fontsize=8,
            ha="center",
        )
    axes.set_yticks(range(1, len(names) + 1), [labels[name] for name in names], fontsize=8)
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x * 1000:g} ms" if x < 1 else f"{x:g} s"))
    axes.set_xlabel("time to result: output object written -> caller holds the result (log scale)")
    title = "Time to result: pushed (this project) vs polling S3"
    if ttr.get("delivery"):
        title += f" ({ttr['delivery']} delivery)"
    if quick:
        title += "\nQUICK smoke run: baseline delays scaled down, not comparable"
    axes.set_title(title, fontsize=10)
    axes.grid(axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(out: Path, rows: list[Row], meta: dict[str, Any], extras: dict[str, Any]) -> list[Path]:
    """Write the three files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "rows": [row.to_json() for row in rows], "cases": extras}
    paths = [out / "latest.json", out / "latest.md"]
    paths[0].write_text(json.dumps(document, indent=2, default=str) + "\n")
    paths[1].write_text(markdown(rows, meta, extras))
    if "time_to_result" in extras:
        png = out / "time_to_result.png"
        plot(png, extras["time_to_result"], bool(meta["quick"]))
        paths.append(png)
    print(f"wrote {', '.join(str(p) for p in paths)}", file=sys.stderr)
    return paths
