"""Synthesize a CDK app into a cloud assembly as the CDK CLI does, with context overrides.

Any CDK app that uses the construct works: the app folder's ``cdk.json`` gives the ``app`` command and
the context. Like the CLI, this runs the ``app`` command in the app folder with the merged context in
``CDK_CONTEXT_JSON`` and the output folder in ``CDK_OUTDIR``; doing the same here lets the local run
pick a delivery mode without editing ``cdk.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["CdkApp", "CdkAppError", "app_error_message", "deep_merge", "lint_errors"]


class CdkAppError(RuntimeError):
    """The app folder, its ``cdk.json`` or its synth is not usable; the message says what and where."""


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, nested objects key by key."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class CdkApp:
    """A CDK app folder: ``cdk.json`` (``app`` command and ``context``) and whatever the command runs.

    Parameters
    ----------
    directory:
        The folder holding ``cdk.json`` (default: the current directory).
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory or Path.cwd()).resolve()
        self.cdk_json = self.directory / "cdk.json"
        if not self.cdk_json.is_file():
            raise CdkAppError(
                f"no cdk.json in {self.directory}: run from a CDK app's folder or pass --app-dir "
                "(expected a cdk.json with an 'app' command, as `cdk init` writes it)"
            )
        try:
            settings = json.loads(self.cdk_json.read_text())
        except json.JSONDecodeError as error:
            raise CdkAppError(
                f"{self.cdk_json}:{error.lineno}:{error.colno}: not valid JSON ({error.msg})"
            ) from None
        if not isinstance(settings, dict) or not isinstance(settings.get("app"), str):
            raise CdkAppError(
                f"{self.cdk_json}: expected an object with an 'app' command string, "
                f"received {type(settings).__name__} with keys {sorted(settings) if isinstance(settings, dict) else []}"
            )
        self.command: str = settings["app"]
        context = settings.get("context", {})
        if not isinstance(context, dict):
            raise CdkAppError(f"{self.cdk_json}: expected 'context' to be an object, received {context!r}")
        self.context: dict[str, Any] = context

    def synthesize(self, outdir: Path, overrides: dict[str, Any] | None = None, bundle: bool = True) -> float:
        """Run the app into ``outdir``; returns the seconds it took. Raises :class:`CdkAppError` on failure."""
        context = deep_merge(self.context, overrides or {})
        if not bundle:
            context["aws:cdk:bundling-stacks"] = []
        # `python` in the app command means this interpreter, as in an activated virtual environment.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        env = {
            **os.environ,
            "PATH": path,
            "CDK_CONTEXT_JSON": json.dumps(context),
            "CDK_OUTDIR": str(outdir),
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # aws_cdk imports 3x faster with bytecode
        started = time.monotonic()
        completed = subprocess.run(  # noqa: S602 - the app's own command, as the CDK CLI runs it
            self.command,
            shell=True,
            cwd=self.directory,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            output = app_error_message(completed.stderr) or app_error_message(completed.stdout)
            raise CdkAppError(
                f"{self.cdk_json}: synth failed (`{self.command}` exited {completed.returncode}):\n{output}"
            )
        return time.monotonic() - started


def app_error_message(output: str) -> str:
    """What an app printed when its synth failed, without Python tracebacks or jsii's banners.

    A ``ConfigError`` printed by the app is kept as is; of a traceback only the exception line(s) at its
    end are kept, since the frames point into the CDK's and this library's code, not at the user's mistake.
    """
    kept: list[str] = []
    in_traceback = False
    for line in output.splitlines():
        if line.startswith("Traceback (most recent call last):"):
            in_traceback = True
            continue
        if in_traceback:
            if line.startswith((" ", "\t")) or not line.strip():
                continue
            in_traceback = False
        if line.startswith(("During handling of the above exception", "The above exception was")):
            kept.clear()  # a chained exception: the last one says what went wrong
            continue
        if line.strip() and not line.lstrip().startswith(("!!!", "jsii")):
            kept.append(line.rstrip())
    return "\n".join(kept[-20:])


def lint_errors(outdir: Path) -> list[str]:
    """cfn-lint errors (not warnings) of every synthesized template in ``outdir``."""
    from cfnlint.api import lint

    errors = []
    for template in sorted(outdir.glob("*.template.json")):
        for match in lint(template.read_text(), regions=["us-east-1"]):
            if match.rule.id.startswith("E"):
                errors.append(f"{template.name}: {match.rule.id} {match.message}")
    return errors
