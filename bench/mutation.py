"""Mutation testing of the runtime modules with mutmut (``make mutation``; not in CI: it takes minutes per module).

mutmut changes source files in place while it runs, so this runs it in a copy of the repository
(``src/``, ``tests/``, ``functions/``, ``bench/``, ``pyproject.toml``) in a temporary folder: the
working tree, which other processes may be importing, is never mutated. Each module is mutated
against the fast tests that exercise it (the mapping below); the score is killed / (killed +
survived), with mutants that timed out counted as killed (mutmut's own convention) and reported apart.

Each run's results replace that module's entry in ``bench/results/mutation.json`` (the other modules'
are kept); ``--readme`` rewrites the table in docs/development.md from the whole file, and prints it.

Python's bytecode cache is off in the copy: mutmut writes each mutant over the module, and a mutant of
the same size written within the same second as the one before has the same mtime and size, so a
cached ``.pyc`` of the previous mutant would be run instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import ROOT

RUNTIME = "src/sagemaker_async_results/runtime"
#: Killed mutants per module the runtime is held to.
TARGET_PERCENT = 85.0
#: module -> the tests that exercise it (fast ones first: each mutant runs them).
MODULES: dict[str, list[str]] = {
    f"{RUNTIME}/destinations/_batch.py": ["tests/unit/test_batch_send.py", "tests/unit/test_dest_batch.py"],
    f"{RUNTIME}/destinations/sqs.py": ["tests/unit/test_dest_batch.py"],
    f"{RUNTIME}/destinations/eventbridge.py": ["tests/unit/test_dest_batch.py"],
    f"{RUNTIME}/destinations/kinesis.py": ["tests/unit/test_dest_batch.py"],
    f"{RUNTIME}/destinations/stepfunctions.py": ["tests/unit/test_dest_stepfunctions.py"],
    f"{RUNTIME}/destinations/result_store.py": ["tests/unit/test_dest_result_store.py"],
    f"{RUNTIME}/destinations/__init__.py": ["tests/unit/test_destination_registry.py"],
    f"{RUNTIME}/plugins.py": ["tests/unit/test_plugins.py"],
    f"{RUNTIME}/clients.py": ["tests/unit/test_clients.py"],
    f"{RUNTIME}/observability.py": ["tests/unit/test_observability.py"],
    f"{RUNTIME}/app.py": ["tests/integration/test_app_wiring.py"],
    f"{RUNTIME}/recovery.py": [
        "tests/unit/test_recovery_names.py",
        "tests/integration/test_recovery_calls.py",
    ],
    f"{RUNTIME}/dispatch.py": ["tests/unit/test_dispatch.py"],
    f"{RUNTIME}/router.py": ["tests/unit/test_router.py"],
    f"{RUNTIME}/settings.py": ["tests/unit/test_settings.py"],
    f"{RUNTIME}/envelopes.py": ["tests/unit/test_envelopes.py", "tests/unit/test_models.py"],
    f"{RUNTIME}/payloads.py": ["tests/unit/test_payloads.py", "tests/unit/test_payloads_errors.py"],
    f"{RUNTIME}/models.py": ["tests/unit/test_models.py", "tests/unit/test_envelopes.py"],
    f"{RUNTIME}/result.py": ["tests/unit/test_result.py"],
    f"{RUNTIME}/errors.py": ["tests/unit/test_errors.py"],
    f"{RUNTIME}/record_guard.py": [
        "tests/unit/test_record_guard_calls.py",
        "tests/integration/test_record_guard.py",
    ],
    f"{RUNTIME}/entrypoint.py": ["tests/unit/test_entrypoint_app.py"],
    f"{RUNTIME}/testing.py": ["tests/unit/test_event_builders.py"],
    f"{RUNTIME}/destinations/_env.py": ["tests/unit/test_destination_env.py"],
    f"{RUNTIME}/lifecycle.py": [
        "tests/unit/test_lifecycle_signals.py",
        "tests/unit/test_lifecycle.py",
        "tests/integration/test_routing_state.py",
        "tests/integration/test_exactly_once_app.py",
    ],
}


def _copy(into: Path) -> None:
    for name in ("src", "tests", "functions", "bench"):
        shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__", "results"))
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")


def mutate(module: str, tests: list[str], workdir: Path, python: str) -> dict[str, Any]:
    """Run mutmut on one module in ``workdir``; returns its counts."""
    (workdir / ".mutmut-cache").unlink(missing_ok=True)
    runner = f"{python} -m pytest -x -q -p no:cacheprovider -p no:randomly " + " ".join(tests)
    started = time.monotonic()
    subprocess.run(
        [python, "-m", "mutmut", "run", "--paths-to-mutate", module, "--runner", runner, "--no-progress"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    junit = subprocess.run(
        [python, "-m", "mutmut", "junitxml"], cwd=workdir, capture_output=True, text=True, check=False
    ).stdout
    total = len(re.findall(r"<testcase ", junit))
    failures = len(re.findall(r"<failure", junit))  # survived (and suspicious)
    skipped = len(re.findall(r"<skipped", junit))
    killed = total - failures - skipped
    return {
        "module": module.removeprefix("src/"),
        "tests": tests,
        "mutants": total,
        "killed": killed,
        "survived": failures,
        "skipped": skipped,
        "killedPercent": round(100 * killed / (killed + failures), 1) if killed + failures else None,
        "seconds": round(time.monotonic() - started),
    }


def run_all(chosen: dict[str, list[str]], *, jobs: int) -> list[dict[str, Any]]:
    """Each module in its own copy of the tree (mutmut keeps its state in the working folder)."""

    def one(module: str) -> dict[str, Any]:
        tests = chosen[module]
        with tempfile.TemporaryDirectory(prefix="mutation-") as folder:
            workdir = Path(folder)
            _copy(workdir)
            print(f"mutating {module} against {' '.join(tests)} ...", file=sys.stderr, flush=True)
            result = mutate(module, tests, workdir, sys.executable)
        print(f"{module}: {result['killedPercent']}% killed", file=sys.stderr, flush=True)
        return result

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(one, chosen))


TABLE_PAGE = ROOT / "docs" / "development.md"  # the docs page that holds the mutation table
TABLE_START, TABLE_END = "<!-- mutation-table:start -->", "<!-- mutation-table:end -->"


def merge(path: Path, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results in ``path`` with this run's modules replaced; sorted by module."""
    kept = json.loads(path.read_text())["results"] if path.exists() else []
    fresh = {r["module"] for r in results}
    merged = [r for r in kept if r["module"] not in fresh] + results
    return sorted(merged, key=lambda r: str(r["module"]))


def table(results: list[dict[str, Any]]) -> str:
    """The docs table: one row per module, and whether it meets the target."""
    lines = [
        f"  | Module | Mutants | Killed | Survived | Killed % | ≥ {TARGET_PERCENT:g}% |",
        "  |---|--:|--:|--:|--:|:-:|",
    ]
    for r in results:
        module = str(r["module"]).removeprefix("sagemaker_async_results/runtime/")
        percent = r["killedPercent"]
        met = "yes" if percent is not None and percent >= TARGET_PERCENT else "**no**"
        lines.append(f"  | {module} | {r['mutants']} | {r['killed']} | {r['survived']} | {percent} | {met} |")
    return "\n".join(lines)


def write_readme(results: list[dict[str, Any]], readme: Path = TABLE_PAGE) -> None:
    text = readme.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    readme.write_text(text[:start] + "\n" + table(results) + "\n  " + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modules", nargs="+", help="module paths (default: all in the mapping)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mutation.json")
    parser.add_argument(
        "--readme", action="store_true", help="rewrite the table in docs/development.md from --out"
    )
    parser.add_argument("--no-run", action="store_true", help="run nothing (with --readme: the table only)")
    parser.add_argument("--jobs", type=int, default=1, help="modules mutated at once, each in its own copy")
    args = parser.parse_args(argv)
    chosen = {
        m: t for m, t in MODULES.items() if not args.modules or any(m.endswith(x) for x in args.modules)
    }
    results = [] if args.no_run else run_all(chosen, jobs=args.jobs)
    lines = [
        "| Module | Mutants | Killed | Survived | Killed % | Tests | Seconds |",
        "|---|--:|--:|--:|--:|---|--:|",
    ]
    for r in results:
        lines.append(
            f"| {r['module']} | {r['mutants']} | {r['killed']} | {r['survived']} | {r['killedPercent']} "
            f"| {', '.join(r['tests'])} | {r['seconds']} |"
        )
    if results:
        print("\n".join(lines))
    merged = merge(args.out, results)
    args.out.write_text(json.dumps({"targetPercent": TARGET_PERCENT, "results": merged}, indent=2) + "\n")
    if args.readme:
        write_readme(merged)
        print(table(merged))
    below = [r["module"] for r in merged if (r["killedPercent"] or 0) < TARGET_PERCENT]
    print(
        f"{len(merged) - len(below)} of {len(merged)} modules at or above {TARGET_PERCENT}% killed",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
