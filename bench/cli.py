"""Command line of ``python -m bench`` (``make bench BENCH_ARGS="..."``).

Runs the chosen cases (all by default), prints the table, and writes the results. Timing never makes it
fail: missed targets are reported as missed. It exits non-zero only when a case could not run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ROOT
from bench.config import CASES, FULL, QUICK, Counts, with_overrides
from bench.report import machine, table, write
from bench.stats import Row

#: Added to every emulator answer in the second throughput run: in-region AWS API calls take a few ms.
AWS_LIKE_LATENCY_MS = 10.0
ALIASES = {
    "ttr": "time_to_result",
    "tp": "throughput",
    "cold": "cold_start",
    "mem": "memory",
    "scale": "await_at_scale",
    "local": "local_throughput",
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny counts, baseline delays scaled x0.1 (labelled; not comparable)",
    )
    parser.add_argument(
        "--cases",
        nargs="+",
        metavar="CASE",
        help=f"cases to run (default all): {', '.join(CASES)} (aliases {', '.join(ALIASES)}); commas allowed",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results folder")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".build", help="synth output and logs")
    parser.add_argument("--samples", type=int, help="time-to-result samples of this project and the 2 s loop")
    parser.add_argument("--waiter-samples", type=int, help="time-to-result samples of the 15 s SDK waiter")
    parser.add_argument("--batches", type=int, help="throughput: timed batches of 10 per handler")
    parser.add_argument("--cold-runs", type=int, help="cold start: fresh interpreters per variant")
    parser.add_argument("--memory-large-mib", type=int, help="memory: size of the large output in MiB")
    parser.add_argument("--seed", type=int, help="seed of the shuffled model run times")
    parser.add_argument("--scale-requests", type=int, help="await at scale: requests awaited at once")
    parser.add_argument(
        "--delivery",
        choices=("direct", "buffered"),
        default="direct",
        help="time to result: the stack's delivery mode (default direct, the cdk.json default)",
    )
    return parser.parse_args(argv)


def counts_from(args: argparse.Namespace) -> Counts:
    base = QUICK if args.quick else FULL
    return with_overrides(
        base,
        ttr_project=args.samples,
        ttr_poll=args.samples,
        ttr_waiter=args.waiter_samples,
        throughput_batches=args.batches,
        cold_runs=args.cold_runs,
        memory_large_bytes=args.memory_large_mib << 20 if args.memory_large_mib else None,
        seed=args.seed,
        scale_requests=args.scale_requests,
    )


def selected_cases(args: argparse.Namespace) -> list[str]:
    if not args.cases:
        return list(CASES)
    names = [ALIASES.get(n.strip(), n.strip()) for item in args.cases for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    return [c for c in CASES if c in names]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    counts = counts_from(args)
    cases = selected_cases(args)
    args.workdir.mkdir(parents=True, exist_ok=True)
    started, clock = datetime.now(UTC), time.monotonic()
    if counts.quick:
        _log("QUICK run: tiny counts and baseline delays scaled x0.1; the numbers are NOT comparable")
    runners: dict[str, Callable[[], tuple[list[Row], dict[str, Any]]]] = {}
    from bench import (
        await_at_scale,
        cold_start,
        cost,
        fake_aws,
        local_throughput,
        memory,
        throughput,
        time_to_result,
    )

    runners["cold_start"] = lambda: cold_start.run(counts, _log)
    runners["throughput"] = lambda: _combine(
        handlers=throughput.run_throughput(counts, _log),
        handlers_with_latency=throughput.run_throughput(counts, _log, latency_ms=AWS_LIKE_LATENCY_MS),
        fake_aws=fake_aws.run(counts, _log),
        cpu=throughput.run_cpu(counts, _log),
    )
    runners["memory"] = lambda: memory.run(counts, _log)
    runners["time_to_result"] = lambda: time_to_result.run(counts, args.workdir, _log, args.delivery)
    runners["await_at_scale"] = lambda: await_at_scale.run(
        args.workdir,
        _log,
        requests=counts.scale_requests,
        lone_samples=2 if counts.quick else 10,
        baselines=not counts.quick,
        plot_path=args.out / "await_at_scale.png",
    )

    runners["local_throughput"] = lambda: local_throughput.run(
        args.workdir,
        _log,
        notifications=20 if counts.quick else 1000,
        requests=5 if counts.quick else 1000,
    )

    rows: list[Row] = []
    extras: dict[str, Any] = {}
    errors: dict[str, str] = {}
    durations: dict[str, float] = {}
    for case in sorted(cases, key=lambda c: list(runners).index(c)):
        case_started = time.monotonic()
        try:
            case_rows, extra = runners[case]()
        except Exception as exc:  # report the rest; a broken case is still a failure (exit 1)
            errors[case] = f"{type(exc).__name__}: {exc}"
            _log(f"{case} FAILED:\n{traceback.format_exc()}")
            continue
        finally:
            durations[case] = round(time.monotonic() - case_started, 1)
        rows.extend(case_rows)
        extras[case] = extra
    if "throughput" in extras:  # derived from the measured counts: no run of its own
        try:
            # A table in latest.md and the JSON's cases.cost (not rows: no samples, no target).
            _, extras["cost"] = cost.run(
                extras["throughput"]["fake_aws"], _ttr_rows(rows) if "time_to_result" in extras else None
            )
        except Exception as exc:
            errors["cost"] = f"{type(exc).__name__}: {exc}"
            _log(f"cost FAILED:\n{traceback.format_exc()}")
    meta = {
        "started": started.isoformat(timespec="seconds"),
        "seconds": time.monotonic() - clock,
        "quick": counts.quick,
        "cases": cases,
        "delivery": args.delivery,
        "caseSeconds": durations,
        "counts": counts.__dict__,
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "errors": errors,
    }
    order = {case: index for index, case in enumerate(CASES)}
    rows.sort(key=lambda row: order.get("throughput" if row.case in ("cpu_cost", "cost") else row.case, 99))
    write(args.out, rows, meta, extras)
    print(table(rows))
    return 1 if errors else 0


def _ttr_rows(rows: list[Row]) -> dict[str, Any]:
    return {"rows": [row.to_json() for row in rows if row.case == "time_to_result"]}


def _combine(**parts: tuple[list[Row], dict[str, Any]]) -> tuple[list[Row], dict[str, Any]]:
    return [row for rows, _ in parts.values() for row in rows], {
        name: extra for name, (_, extra) in parts.items()
    }
