"""Reading one destination's environment variables: text and on/off flags, with precise errors."""

from __future__ import annotations

from collections.abc import Mapping

from sagemaker_async_results.runtime.errors import ConfigurationError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def text(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's stripped value, or ``None`` when absent or blank (blank means switched off)."""
    value = environ.get(name, "").strip()
    return value or None


def flag(environ: Mapping[str, str], name: str, *, default: bool) -> bool:
    """An on/off variable; anything but a recognised spelling is a configuration error naming it."""
    raw = environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigurationError(
        f"{name}={raw!r}: expected true or false", received=raw, expected="true or false"
    )
