"""Push sources of the waiter, one module each: the caller's reply queue and the Kinesis results stream.

A source runs in its own thread, started by the waiter on its first watch, and hands each result
record it receives to :meth:`~sagemaker_async_results.client.waiter.ResultWaiter.deliver`. While
nothing is pending it makes no read at all (it waits for :meth:`wake`). A refused call is counted in
the waiter's statistics and backed off (:class:`Backoff`); while a source cannot deliver it says so
(``healthy``) and the waiter reads the result store for everything pending.
"""

from __future__ import annotations

import random

from sagemaker_async_results.client.records import error_code

#: Error codes with which AWS refuses a call for a quota (read again later, slower).
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "OverLimit",
    }
)


def is_throttled(error: Exception) -> bool:
    return error_code(error) in THROTTLING_CODES


class Backoff:
    """Exponential back-off with full jitter: ``first`` seconds, doubling to ``longest``; reset on success."""

    def __init__(self, first: float = 0.2, longest: float = 5.0) -> None:
        self.first, self.longest = first, longest
        self.failures = 0

    def next(self) -> float:
        """Seconds to wait after one more failure."""
        self.failures += 1
        ceiling = min(self.longest, self.first * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)

    def reset(self) -> None:
        self.failures = 0
