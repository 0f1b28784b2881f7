"""Subprocess of the memory case: routes one S3-resident result and reports its own peak RSS.

``python -m bench.memory_worker BUCKET KEY SIZE``; the emulator comes from ``AWS_ENDPOINT_URL``. The
user handler streams ``result.open()`` in 1 MiB chunks into a SHA-256 (fair for any size: payloads
above ``MAX_PAYLOAD_BYTES`` are handed over by stream, never read whole). Prints one JSON line.
"""

from __future__ import annotations

import hashlib
import json
import resource
import sys
import time
from typing import Any

import bench  # noqa: F401 - puts functions/ on sys.path

CHUNK = 1 << 20


def _peak_rss_bytes() -> int:
    """This process image's peak RSS: ``VmHWM``. (``ru_maxrss`` would also count the parent's peak:
    Linux carries it across the ``exec`` that started this interpreter.)"""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv: list[str]) -> None:
    bucket, key, size = argv[0], argv[1], int(argv[2])
    from sagemaker_async_results.runtime.app import ResultsApp
    from sagemaker_async_results.runtime.router import Router
    from sagemaker_async_results.runtime.settings import S3Prefix, Settings
    from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event

    router = Router()
    seen: dict[str, Any] = {}

    @router.on_success("*")
    def stream(result: Any) -> None:
        """Reads the whole payload in chunks, holding one chunk at a time."""
        digest, total = hashlib.sha256(), 0
        with result.open() as body:
            while chunk := body.read(CHUNK):
                digest.update(chunk)
                total += len(chunk)
        seen.update(bytes=total, sha256=digest.hexdigest())

    app = ResultsApp(
        settings=Settings(
            results_bucket=bucket,
            readable_locations=(S3Prefix.parse(f"s3://{bucket}/{key.rsplit('/', 1)[0]}/"),),
        ),
        routers=[router],
    )
    event = sqs_event(
        [notification(output_location=f"s3://{bucket}/{key}", content_type="application/octet-stream")]
    )
    before = _peak_rss_bytes()
    started = time.perf_counter()
    response = app(event, lambda_context())
    elapsed = time.perf_counter() - started
    if response["batchItemFailures"] or seen.get("bytes") != size:
        raise SystemExit(f"routing failed: {response}, read {seen.get('bytes')} of {size} bytes")
    report = {"peakRssBytes": _peak_rss_bytes(), "peakRssBeforeBytes": before, "seconds": elapsed, **seen}
    sys.__stdout__.write(json.dumps(report) + "\n")  # type: ignore[union-attr]


if __name__ == "__main__":
    main(sys.argv[1:])
