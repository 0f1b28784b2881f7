"""Shared prop validation: every construct reports all of its prop errors at once."""

from __future__ import annotations

from collections.abc import Iterable


class PropsError(ValueError):
    """Invalid construct props; lists every problem found."""

    def __init__(self, construct: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{construct}: invalid props:\n{lines}")


def check(construct: str, problems: list[str]) -> None:
    """Raise :class:`PropsError` when ``problems`` is not empty."""
    if problems:
        raise PropsError(construct, problems)


def exclusive(
    problems: list[str], existing_name: str, existing: object, props_name: str, props: object
) -> None:
    """Record a problem when both ``existing_x`` and ``x_props`` were given."""
    if existing is not None and props is not None:
        problems.append(f"give either {existing_name} or {props_name}, not both")


def prefix_problem(name: str, prefix: str) -> str | None:
    """An S3 prefix must not start with '/', must end with '/', and must not contain '//'."""
    if not prefix or prefix.startswith("/") or not prefix.endswith("/") or "//" in prefix:
        return f"{name}: expected a key prefix like 'async-inference/outputs/', received {prefix!r}"
    return None
