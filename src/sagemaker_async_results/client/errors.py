"""What the client raises: one home for every error a caller may catch.

Kept apart from the client and the futures so that each of them (and a caller's ``except``) imports
the errors without importing the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sagemaker_async_results.client.records import InferenceRecord


class InferenceTimeoutError(TimeoutError):
    """No result within the caller's wait timeout (the request itself may still complete)."""


class ResourcesNotFoundError(ValueError):
    """No deployed construct matches (or several do): the message says what was found and what to pass."""


class InferenceError(Exception):
    """The inference did not complete; ``record`` says what the result store knows."""

    def __init__(self, message: str, record: InferenceRecord) -> None:
        super().__init__(message)
        self.record = record


class InferenceFailedError(InferenceError):
    """SageMaker reported the inference Failed (``record.failure_reason``; body via ``fetch_body``)."""


class InferenceExpiredError(InferenceError):
    """No result by the request's expiry moment, and neither its output nor its failure is in S3."""
