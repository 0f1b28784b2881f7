"""Shared test setup: fake AWS credentials (never real ones), moto imported before any client."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Before boto3 creates anything: fake credentials and region, no profile, tracing off.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "SageMakerAsyncResultsTest",
}.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import moto  # noqa: E402,F401  (must be imported before boto3 clients are created)
import pytest  # noqa: E402

EVENTS = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """A JSON fixture from tests/events/."""
    return json.loads((EVENTS / name).read_text())


class LogCapture(logging.Handler):
    """Collects the runtime's log records (Powertools loggers don't propagate to caplog)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]

    def reasons(self) -> list[str]:
        return [getattr(r, "reason", "") for r in self.errors()]


@pytest.fixture
def runtime_logs() -> Iterator[LogCapture]:
    """Log records of the ``sagemaker-async-results`` logger during the test."""
    from sagemaker_async_results.runtime.observability import SERVICE

    capture = LogCapture()
    logger = logging.getLogger(SERVICE)
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
