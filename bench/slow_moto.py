"""A moto server that answers every request after a fixed delay, standing in for AWS's network latency.

On loopback the emulator answers in about a millisecond of network time and is bound by its own CPU;
AWS's in-region API calls take several milliseconds each. The throughput case runs once on the bare
emulator and once on this one, so the effect of overlapping calls (records of a batch routed
concurrently) shows where it matters. Run as ``python -m bench.slow_moto PORT LATENCY_MS``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    port, latency = int(sys.argv[1]), float(sys.argv[2]) / 1000
    app = DomainDispatcherApplication(create_backend_app)

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(latency)
        return app(environ, start_response)

    run_simple("127.0.0.1", port, delayed, threaded=True)


if __name__ == "__main__":
    main()
