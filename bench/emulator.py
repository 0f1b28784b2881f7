"""A moto server in its own process, for the cases that measure one process in isolation.

The throughput and memory cases time or measure a handler process; a moto server in that same process
(or in the bench process) would share its CPU, GIL or memory. A separate process keeps the emulator's
costs out, as AWS's own are. It listens on loopback only and is reset on start.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.config import Config

from sagemaker_async_results.local.emulator import DEFAULT_REGION, FAKE_CREDENTIALS, free_port


@contextmanager
def moto_process(startup_timeout: float = 30.0, latency_ms: float = 0.0) -> Iterator[str]:
    """Start ``python -m moto.server`` on ``127.0.0.1:<free port>``; yields its URL, stops it after.

    ``latency_ms`` > 0 starts :mod:`bench.slow_moto` instead: every answer comes that much later.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = (
        [sys.executable, "-m", "bench.slow_moto", str(port), str(latency_ms)]
        if latency_ms > 0
        else [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    )
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                urllib.request.urlopen(
                    urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=2
                )
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def aws_environment(url: str) -> dict[str, str]:
    """Environment variables pointing a subprocess's boto3 at the emulator."""
    return {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": url,
        "AWS_DEFAULT_REGION": DEFAULT_REGION,
        "AWS_REGION": DEFAULT_REGION,
    }


def client(url: str, service: str) -> object:
    """A boto3 client on the emulator (the bench's own setup calls)."""
    session = boto3.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=DEFAULT_REGION,
    )
    return session.client(service, endpoint_url=url, config=Config(retries={"mode": "standard"}))  # type: ignore[call-overload]
