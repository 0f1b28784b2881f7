"""Futures of submitted inferences: what a caller holds while the waiter resolves it.

A future knows how to wait and how to read its output, not how it was submitted nor how results
arrive: it imports neither the client nor the waiter (as ``s3transfer.futures`` imports nothing of
its manager). The waiter (:mod:`~sagemaker_async_results.client.waiter`) sets its result.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from sagemaker_async_results.client.errors import (
    InferenceError,
    InferenceExpiredError,
    InferenceFailedError,
)
from sagemaker_async_results.client.records import InferenceRecord, Submission

__all__ = [
    "BodyReader",
    "InferenceError",
    "InferenceExpiredError",
    "InferenceFailedError",
    "InferenceFuture",
    "as_completed",
]


class BodyReader(Protocol):
    """Reads a result's output (the client: inline from the record, else one S3 ``GetObject``)."""

    def fetch_body(self, record: InferenceRecord) -> bytes | None: ...


class InferenceFuture(Future[InferenceRecord]):
    """The result of one submitted inference: a :class:`concurrent.futures.Future`.

    ``result(timeout)`` returns the :class:`~sagemaker_async_results.client.InferenceRecord` of a
    Completed inference and raises :class:`InferenceFailedError` / :class:`InferenceExpiredError`
    otherwise (``exception()`` returns them); ``concurrent.futures.TimeoutError`` when ``timeout``
    passes first (the request itself goes on). ``cancel()`` stops waiting for it (SageMaker has no
    way to cancel a queued request: it still runs and its result is still routed).
    ``asyncio.wrap_future`` makes it awaitable.
    """

    def __init__(self, client: BodyReader, submission: Submission) -> None:
        super().__init__()
        self.client = client
        self.submission = submission

    @property
    def inference_id(self) -> str:
        return self.submission.inference_id

    def body(self, timeout: float | None = None) -> bytes:
        """The output bytes (inline when the result store kept them, else one S3 ``GetObject``)."""
        return self.client.fetch_body(self.result(timeout)) or b""

    def json(self, timeout: float | None = None) -> Any:
        """The output decoded as JSON."""
        return json.loads(self.body(timeout))

    def __repr__(self) -> str:
        return f"<InferenceFuture {self.inference_id} {self._state.lower()}>"


def as_completed(futures: Iterable[Future[Any]], timeout: float | None = None) -> Iterator[Future[Any]]:
    """Yield the futures as they finish (completed, failed, expired or cancelled), like the stdlib's."""
    from concurrent.futures import as_completed as stdlib_as_completed

    return stdlib_as_completed(list(futures), timeout=timeout)
