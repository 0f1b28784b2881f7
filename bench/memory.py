"""Case 4: peak RSS of the handler process routing a 1 MiB output vs a 1 GiB output.

The objects live in a moto server in its own process (standing in for S3, which holds them in AWS).
The large one is created by multipart upload from a generator, one 64 MiB part at a time, so the bench
never holds it either. Each routing runs in a fresh worker process (:mod:`bench.memory_worker`) whose
user handler streams ``result.open()``; the worker reports its ``VmHWM`` (peak RSS of its process image,
imports included) and the SHA-256 of what it read, checked here against what was uploaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import FUNCTIONS, ROOT
from bench.config import Counts
from bench.emulator import aws_environment, client, moto_process
from bench.stats import Row

CASE = "memory"
BUCKET = "bench-memory"
PREFIX = "async-inference/outputs/"
PART = 64 << 20
MIB = 1 << 20
TARGET_MIB = 32
Log = Callable[[str], None]


def _parts(size: int) -> Iterator[bytes]:
    """Deterministic content, one part at a time (a 64 MiB buffer at most)."""
    pattern = bytes(range(256))
    left = size
    while left > 0:
        length = min(PART, left)
        yield (pattern * (length // 256 + 1))[:length]
        left -= length


def upload(s3: Any, key: str, size: int) -> str:
    """Create ``key`` of ``size`` bytes (multipart above one part); returns its SHA-256."""
    digest = hashlib.sha256()
    if size <= PART:
        body = next(_parts(size))
        digest.update(body)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return digest.hexdigest()
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    parts = []
    for number, chunk in enumerate(_parts(size), start=1):
        digest.update(chunk)
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk)[
            "ETag"
        ]
        parts.append({"PartNumber": number, "ETag": etag})
        del chunk
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    return digest.hexdigest()


def _route(url: str, key: str, size: int) -> dict[str, Any]:
    env = {
        **os.environ,
        **aws_environment(url),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(FUNCTIONS)]),
        "POWERTOOLS_SERVICE_NAME": "sagemaker-async-results",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "bench.memory_worker", BUCKET, key, str(size)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory worker failed:\n{completed.stderr[-3000:]}{completed.stdout[-2000:]}")
    line = next(line for line in reversed(completed.stdout.splitlines()) if '"peakRssBytes"' in line)
    report: dict[str, Any] = json.loads(line)
    return report


def _label(size: int) -> str:
    return f"{size / (1 << 30):g} GiB" if size >= 1 << 30 else f"{size / MIB:g} MiB"


def run(counts: Counts, log: Log) -> tuple[list[Row], dict[str, Any]]:
    sizes = {"small": counts.memory_small_bytes, "large": counts.memory_large_bytes}
    reports: dict[str, list[dict[str, Any]]] = {name: [] for name in sizes}
    with moto_process() as url:
        s3: Any = client(url, "s3")
        s3.create_bucket(Bucket=BUCKET)
        digests = {}
        for name, size in sizes.items():
            started = time.perf_counter()
            digests[name] = upload(s3, f"{PREFIX}{name}.out", size)
            log(
                f"memory: {_label(size)} output created in the emulator in {time.perf_counter() - started:.1f} s"
            )
        for index in range(counts.memory_runs):
            for name in sizes if index % 2 == 0 else reversed(list(sizes)):
                report = _route(url, f"{PREFIX}{name}.out", sizes[name])
                if report["sha256"] != digests[name]:
                    raise RuntimeError(f"memory: the handler read different bytes for {name}")
                reports[name].append(report)
                log(
                    f"memory: routed {_label(sizes[name])} in {report['seconds']:.1f} s, "
                    f"peak RSS {report['peakRssBytes'] / MIB:.1f} MiB"
                )
    rows = []
    for name, size in sizes.items():
        rows.append(
            Row.of(
                CASE,
                f"peak RSS, handler routing a {_label(size)} output (streamed)",
                "MiB",
                [r["peakRssBytes"] / MIB for r in reports[name]],
                note=f"peak RSS before routing: {reports[name][0]['peakRssBeforeBytes'] / MIB:.1f} MiB",
            )
        )
    differences = [
        large["peakRssBytes"] / MIB - small["peakRssBytes"] / MIB
        for small, large in zip(reports["small"], reports["large"], strict=True)
    ]
    difference = Row.of(
        CASE,
        f"difference {_label(sizes['large'])} - {_label(sizes['small'])}",
        "MiB",
        differences,
        target=f"<= {TARGET_MIB} MiB",
    )
    difference.met = difference.median <= TARGET_MIB
    rows.append(difference)
    return rows, {"sizes": sizes, "reports": reports}
