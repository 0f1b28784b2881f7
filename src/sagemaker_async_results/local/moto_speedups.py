"""Make the embedded moto server's per-request costs constant: the same answers, computed once.

Profiled on the local run (py-spy and cProfile, 2 cores), two costs grew with nothing a request asks for:

- **Dispatch.** moto's server finds the service of each request by host name under one lock shared by
  every request thread: it lists moto's package folder (``os.listdir`` plus an ``isdir`` per service,
  about 180 stat calls) and then tries the URL pattern of every service. Both answers depend only on the
  host name, so they are remembered per host (about 8% of the emulator's CPU, and serialised requests).
- **SQS message clocks.** Every ``SendMessage`` reads the queue's attributes, which count visible,
  delayed and in-flight messages; each check of each message builds two ``datetime`` objects to read
  the clock (``unix_time_millis()``), so a send into a queue of 300 messages cost about 30 ms. The same
  milliseconds come from ``time.time()``.

Nothing here changes what moto answers; only the in-process server of a local run is patched.
"""

from __future__ import annotations

import threading
import time
from typing import Any

__all__ = ["speed_up_embedded_moto"]

_PATCHED = threading.Lock()


def speed_up_embedded_moto() -> None:
    """Patch this process's moto (idempotent): see the module docstring."""
    with _PATCHED:
        _remember_backends_per_host()
        _fast_sqs_clock()


def _remember_backends_per_host() -> None:
    from moto import backends
    from moto.moto_server import werkzeug_app

    dispatcher: Any = werkzeug_app.DomainDispatcherApplication
    if getattr(dispatcher, "_local_run_remembers_hosts", False):
        return
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: iter(modules)
    find = dispatcher.get_backend_for_host
    found: dict[str, Any] = {}

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host is None:
            return None
        try:
            return found[host]
        except KeyError:
            backend = found[host] = find(self, host)
            return backend

    dispatcher.get_backend_for_host = get_backend_for_host
    dispatcher._local_run_remembers_hosts = True


def _fast_sqs_clock() -> None:
    from moto.sqs import models

    current: Any = models.unix_time_millis
    if getattr(current, "_local_run_fast", False):
        return

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(current(dt))

    unix_time_millis._local_run_fast = True  # type: ignore[attr-defined]
    models.unix_time_millis = unix_time_millis
