"""Plugin loading: modules and packages found on the path, their routers in order, every problem at once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.plugins import load_routers
from sagemaker_async_results.runtime.router import Router

WITH_ROUTER = "from sagemaker_async_results.runtime.router import Router\nrouter = Router()\n"


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """A folder on ``sys.path`` and a name prefix no other test uses (imports are cached)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path, f"plug_{uuid.uuid4().hex[:8]}"


def _write(folder: Path, relative: str, text: str) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_module_gives_its_router(plugins: tuple[Path, str]) -> None:
    folder, prefix = plugins
    _write(folder, f"{prefix}_one.py", WITH_ROUTER)
    (router,) = load_routers([f"{prefix}_one"])
    assert isinstance(router, Router)
    assert router is __import__(f"{prefix}_one").router


def test_a_package_gives_its_own_router_then_its_modules_alphabetically(plugins: tuple[Path, str]) -> None:
    folder, prefix = plugins
    _write(folder, f"{prefix}/__init__.py", WITH_ROUTER)
    for name in ("zeta", "alpha", "mid"):
        _write(folder, f"{prefix}/{name}.py", WITH_ROUTER)
    _write(folder, f"{prefix}/helpers.py", "VALUE = 1\n")  # no router: skipped, not a problem
    _write(folder, f"{prefix}/fake.py", "router = 'not a Router'\n")
    routers = load_routers([prefix])
    package = __import__(prefix, fromlist=["alpha", "mid", "zeta"])
    assert routers == [package.router, package.alpha.router, package.mid.router, package.zeta.router]


def test_a_package_without_its_own_router_gives_its_modules(plugins: tuple[Path, str]) -> None:
    folder, prefix = plugins
    _write(folder, f"{prefix}/__init__.py", "")
    _write(folder, f"{prefix}/only.py", WITH_ROUTER)
    routers = load_routers([prefix])
    assert routers == [__import__(f"{prefix}.only", fromlist=["router"]).router]


def test_every_problem_is_reported_at_once(plugins: tuple[Path, str]) -> None:
    folder, prefix = plugins
    _write(folder, f"{prefix}_norouter.py", "router = None\n")
    _write(folder, f"{prefix}_pkg/__init__.py", "")
    _write(folder, f"{prefix}_pkg/broken.py", "raise ValueError('bad plugin')\n")
    _write(folder, f"{prefix}_pkg/good.py", WITH_ROUTER)
    _write(folder, f"{prefix}_pkg/worse.py", "raise KeyError('worse')\n")
    names = [f"{prefix}_missing", f"{prefix}_norouter", f"{prefix}_pkg"]
    with pytest.raises(ConfigurationError) as caught:
        load_routers(names)
    error = caught.value
    assert error.message == (
        "cannot load handler plugins: "
        f"{prefix}_missing: cannot import (ModuleNotFoundError: No module named '{prefix}_missing'); "
        f"{prefix}_norouter: defines no module-level `router = Router()`; "
        f"{prefix}_pkg.broken: cannot import (ValueError: bad plugin); "
        f"{prefix}_pkg.worse: cannot import (KeyError: 'worse')"
    )
    assert error.received == str(names)
    assert error.expected == "importable modules/packages whose modules define `router = Router()`"


def test_no_module_no_router() -> None:
    assert load_routers([]) == []
