"""Synthesize the CDK app into a cloud assembly, as the CDK CLI does, with context overrides.

The CLI runs ``app.py`` with the merged context in ``CDK_CONTEXT_JSON`` and the output folder in
``CDK_OUTDIR``; doing the same here lets the local run pick a delivery mode without editing cdk.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    context: dict[str, Any] = json.loads((ROOT / "cdk.json").read_text()).get("context", {})
    return context


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def synthesize(outdir: Path, overrides: dict[str, Any] | None = None, bundle: bool = True) -> float:
    """Run ``app.py`` into ``outdir``; returns the seconds it took. Raises with the app's output on failure."""
    context = _deep_merge(cdk_json_context(), overrides or {})
    if not bundle:
        context["aws:cdk:bundling-stacks"] = []
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "CDK_OUTDIR": str(outdir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603 - this interpreter running the repo's own app.py
        [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"synth failed (exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
        )
    return time.monotonic() - started


def lint_errors(outdir: Path) -> list[str]:
    """cfn-lint errors (not warnings) of every synthesized template in ``outdir``."""
    from cfnlint.api import lint

    errors = []
    for template in sorted(outdir.glob("*.template.json")):
        for match in lint(template.read_text(), regions=["us-east-1"]):
            if match.rule.id.startswith("E"):
                errors.append(f"{template.name}: {match.rule.id} {match.message}")
    return errors
