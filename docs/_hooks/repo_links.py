"""MkDocs hook: the README is the site's home page, and links to repository files work on the site.

The README links to ``docs/<page>.md`` and the pages link to ``../<file>`` (plots, example code): both
resolve on GitHub and in a clone. MkDocs only knows ``docs/``, so this hook generates ``index.md`` from
the README (one home for the landing page) and serves each repository file a page links to under
``repo/<path>``, rewriting the link. A link to a file that does not exist is left alone, so the strict
build still fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

#: A Markdown inline link or image target: ``](target)`` or ``](target "title")``.
_LINK = re.compile(r"\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
_REPO_PREFIX = "repo/"


def _root(config: Any) -> Path:
    return Path(config["config_file_path"]).resolve().parent


def _is_relative(target: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.I)


def _repo_path(target: str, page_dir: str) -> str | None:
    """The repository path a relative link from a docs page leads to, if it leaves ``docs/``."""
    path = target.split("#", 1)[0]
    if not path or not _is_relative(target):
        return None
    joined = posixpath.normpath(posixpath.join("docs", page_dir, path))
    return None if joined.startswith(("docs/", "../")) or joined == "docs" else joined


def readme_as_index(readme: str) -> str:
    """The README with its links made relative to ``docs/`` (``docs/x.md`` -> ``x.md``, files -> ``../x``)."""

    def rewrite(match: re.Match[str]) -> str:
        target, title = match["target"], match["title"] or ""
        if _is_relative(target):
            target = target.removeprefix("docs/") if target.startswith("docs/") else "../" + target
        return f"]({target}{title})"

    return _LINK.sub(rewrite, readme)


def on_files(files: Files, config: Any) -> Files:
    """Add the README as ``index.md`` and every existing repository file the pages link to."""
    root = _root(config)
    index = readme_as_index((root / "README.md").read_text())
    files.append(File.generated(config, "index.md", content=index))
    sources = [
        (f.src_uri, Path(f.abs_src_path).read_text()) for f in files.documentation_pages() if f.abs_src_path
    ]
    sources.append(("index.md", index))
    wanted: set[str] = set()
    for src_uri, text in sources:
        for match in _LINK.finditer(text):
            path = _repo_path(match["target"], posixpath.dirname(src_uri))
            if path and (root / path).is_file():
                wanted.add(path)
    for path in sorted(wanted):
        files.append(File.generated(config, _REPO_PREFIX + path, abs_src_path=str(root / path)))
    return files


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    """Point links that leave ``docs/`` at the served copy under ``repo/``."""
    page_dir = posixpath.dirname(page.file.src_uri)

    def rewrite(match: re.Match[str]) -> str:
        target, title = match["target"], match["title"] or ""
        path = _repo_path(target, page_dir)
        if path and files.get_file_from_path(_REPO_PREFIX + path) is not None:
            anchor = target[len(target.split("#", 1)[0]) :]
            target = posixpath.relpath(_REPO_PREFIX + path, page_dir or ".") + anchor
        return f"]({target}{title})"

    return _LINK.sub(rewrite, markdown)
