"""Plugin loading: import the modules named in ``HANDLER_MODULES`` and collect their routers.

A plugin is a module with a module-level ``router = Router()`` (Chalice's blueprints, Powertools'
``include_router``): adding handlers never means editing the runtime.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.router import Router


def load_routers(module_names: Iterable[str]) -> list[Router]:
    """Import plugin modules and collect their module-level ``router``.

    A package name loads the package's own ``router`` (if any) and then every module in it,
    alphabetically (``pkgutil``); a module name loads that module, which must define ``router``.
    Import errors are configuration errors: the invocation fails loudly instead of dropping results.
    """
    routers: list[Router] = []
    problems: list[str] = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            problems.append(f"{name}: cannot import ({type(exc).__name__}: {exc})")
            continue
        found = isinstance(getattr(module, "router", None), Router)
        if found:
            routers.append(module.router)
        if hasattr(module, "__path__"):
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
                sub_name = f"{name}.{info.name}"
                try:
                    sub = importlib.import_module(sub_name)
                except Exception as exc:
                    problems.append(f"{sub_name}: cannot import ({type(exc).__name__}: {exc})")
                    continue
                if isinstance(getattr(sub, "router", None), Router):
                    routers.append(sub.router)
        elif not found:
            problems.append(f"{name}: defines no module-level `router = Router()`")
    if problems:
        raise ConfigurationError(
            "cannot load handler plugins: " + "; ".join(problems),
            received=list(module_names),
            expected="importable modules/packages whose modules define `router = Router()`",
        )
    return routers
