"""Locations the infrastructure code shares with the Lambda code asset, and the shared env var names."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

#: Repository root (the folder holding app.py and cdk.json).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: The Lambda code asset root: deployed as is, plus the pins of its requirements.txt.
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
#: Handler string of both result-handler functions (ARCHITECTURE.md contract).
HANDLER = "entrypoint.handler"


def _load_env_names() -> ModuleType:
    """Load ``functions/async_results/env_names.py`` by path, without running the runtime package's
    ``__init__`` (the CDK app must not import the runtime's dependencies)."""
    name = "_async_results_env_names"
    if name in sys.modules:
        return sys.modules[name]
    path = FUNCTIONS_DIR / "async_results" / "env_names.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is part of the repo
        raise ImportError(f"cannot load the shared environment variable names from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from async_results import env_names
else:
    env_names = _load_env_names()

__all__ = ["FUNCTIONS_DIR", "HANDLER", "PROJECT_ROOT", "env_names"]
