"""Counting S3 requests per result, in every process, at the emulator.

The handler runs in worker subprocesses, so a botocore hook in the bench process cannot see its calls.
Every request of every process reaches the one moto server, though: :class:`ServerRequestLog` wraps
moto's WSGI dispatcher and records each ``GET``/``HEAD`` (the read methods; the endpoint's own writes are
``PUT``). A request is attributed to a result by its path (``/<bucket>/<output key>``, path-style as
boto3 uses against an IP endpoint) and to a caller by a ``bench/<role>`` user-agent tag the bench's
clients carry; an untagged read of an output key comes from the handler worker (the simulator only
writes outputs). :class:`ClientRequestCounter` cross-checks the tagged side with botocore's
``before-send`` hook (one event per HTTP attempt, retries included).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

_ROLE = re.compile(r"bench/([A-Za-z0-9_.-]+)")
HANDLER_ROLE = "handler"


@dataclass(frozen=True)
class ServerRequest:
    at: float
    method: str
    path: str
    role: str


class ServerRequestLog:
    """Records the emulator's read requests; install it before the moto server starts serving."""

    def __init__(self) -> None:
        self.requests: list[ServerRequest] = []
        self._lock = threading.Lock()

    def record(self, environ: dict[str, Any]) -> None:
        method = str(environ.get("REQUEST_METHOD", ""))
        if method not in ("GET", "HEAD"):
            return
        match = _ROLE.search(str(environ.get("HTTP_USER_AGENT", "")))
        request = ServerRequest(
            at=time.perf_counter(),
            method=method,
            path=unquote(str(environ.get("PATH_INFO", ""))),
            role=match.group(1) if match else HANDLER_ROLE,
        )
        with self._lock:
            self.requests.append(request)

    @contextmanager
    def installed(self) -> Iterator[ServerRequestLog]:
        """Wrap moto's dispatcher (class-wide, so a server created inside the block is covered)."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        original: Callable[..., Any] = DomainDispatcherApplication.__call__
        log = self

        def counting_call(app: Any, environ: dict[str, Any], start_response: Any) -> Any:
            log.record(environ)
            return original(app, environ, start_response)

        DomainDispatcherApplication.__call__ = counting_call  # type: ignore[method-assign, assignment]
        try:
            yield self
        finally:
            DomainDispatcherApplication.__call__ = original  # type: ignore[method-assign]

    def reads_of(self, bucket: str, key: str) -> Counter[str]:
        """``{role: count}`` of the GET/HEAD requests for ``s3://bucket/key``."""
        path = f"/{bucket}/{key}"
        with self._lock:
            return Counter(r.role for r in self.requests if r.path == path)


class ClientRequestCounter:
    """botocore ``before-send`` hook: counts the S3 read attempts a client sends, per object key."""

    def __init__(self) -> None:
        self.by_path: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send.s3", self._before_send)
        return client

    def _before_send(self, request: Any, **_: Any) -> None:
        if request.method in ("GET", "HEAD"):
            path = unquote(urlsplit(request.url).path)
            with self._lock:
                self.by_path[path] += 1

    def reads_of(self, bucket: str, key: str) -> int:
        with self._lock:
            return self.by_path[f"/{bucket}/{key}"]
