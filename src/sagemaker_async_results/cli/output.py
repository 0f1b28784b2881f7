"""``--output json|table|text``: the same data printed for people (table), scripts (json) or shell tools (text)."""

from __future__ import annotations

import json
import sys
from typing import Any

FORMATS = ("json", "table", "text")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def emit(data: dict[str, Any] | list[dict[str, Any]], output: str, title: str | None = None) -> None:
    """Print ``data`` (an object or a list of objects) to stdout in ``output`` format.

    ``json`` is the data as is; ``text`` is tab-separated (``key<TAB>value`` lines for an object, a row
    of values per object for a list, like the AWS CLI); ``table`` is a rich table.
    """
    rows = data if isinstance(data, list) else [data]
    if output == "json":
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if output == "text":
        if isinstance(data, list):
            for row in rows:
                sys.stdout.write("\t".join(_cell(v) for v in row.values()) + "\n")
        else:
            for key, value in data.items():
                sys.stdout.write(f"{key}\t{_cell(value)}\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    if isinstance(data, list):
        columns = list(dict.fromkeys(key for row in rows for key in row))
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(column)) for column in columns))
    else:
        table.add_column("field")
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(key, _cell(value))
    Console(soft_wrap=False, width=max(100, Console().width)).print(table)
