"""The invocation's deadline: time kept for the runtime's own writes, and AWS retries bounded by it.

Lambda stops an invocation at its timeout without warning: a write cut off there is lost. The one
write whose loss repeats a user handler is the record of what completed (the completion, or the
failure with its resume steps): without it, the retry finds the lock expired and nothing recorded,
and runs every step again. So the lifecycle keeps a **margin** of the invocation's remaining time
(``context.get_remaining_time_in_millis()``, read at every check) for those writes:

* a record is not claimed, and no step (payload check, handler, destination) is started, with the
  margin or less left: the record fails with ``DeadlineReached`` (what completed is recorded) and is
  retried (buffered: named in ``batchItemFailures``; direct: the invocation raises);
* while a step runs, AWS retries stop when the next attempt could not end before the margin starts;
* the final writes (completion, failure) retry as long as the invocation lives, less
  :data:`FINAL_RESERVE_SECONDS` to return the response.

A handler that itself runs into the margin cannot be helped: one that runs past the deadline was
started and may have had its effect, and nothing can record that; one that returns with less than
the margin left leaves the write less time than was kept for it, and if the write does not land in
that time the retry runs the handler again. It is the one case of a repeat.

The margin is ``DEADLINE_MARGIN_SECONDS`` when set; by default :data:`DEFAULT_MARGIN_SHARE` of the
time the invocation had when it started (about the function timeout), at most
:data:`DEFAULT_MARGIN_CAP_SECONDS`.

Retries under a deadline are decided by a ``needs-retry`` hook on each runtime client (:func:`install`):
botocore's own standard checks (what is retryable, the client's attempt limit) and backoff (capped at
:data:`MAX_BACKOFF_SECONDS`, so a bounded retry loop gets more attempts rather than longer waits), plus
the deadline. Outside an invocation (no budget set) botocore's policy applies unchanged.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sagemaker_async_results.runtime.errors import DeadlineReachedError

#: Default margin: this share of the time the invocation had when it started.
DEFAULT_MARGIN_SHARE = 0.25
#: Default margin at most (a 900 s function keeps 10 s, not 225 s).
DEFAULT_MARGIN_CAP_SECONDS = 10.0
#: The runtime's clients give up on one attempt after this long (connect + read timeouts): a retry
#: that must end before the margin starts is made only when this much is left before it.
CONNECT_TIMEOUT_SECONDS = 2
READ_TIMEOUT_SECONDS = 3
ATTEMPT_SECONDS = float(CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS)
#: Left when the final writes stop retrying: the time to return the response.
FINAL_RESERVE_SECONDS = 0.2
#: The records of a batch are waited for until this many margins are left: the records done by then
#: get one margin for their notify-once destinations and one for their completion, whatever a slower
#: record's handler does; the slower one records what it completed itself when its steps end.
FRONTS_WAIT_MARGINS = 2
#: Longest wait between two attempts under a deadline (botocore's own cap is 20 s).
MAX_BACKOFF_SECONDS = 1
#: How a retry waits (a simulation replaces it to move its own clock instead).
sleep: Callable[[float], None] = time.sleep


class Deadline:
    """The invocation's remaining time, read from its Lambda context at every check.

    Parameters
    ----------
    context
        The Lambda context (``get_remaining_time_in_millis``); without one (a direct call, a test,
        a context that cannot say) the deadline is unknown: every check passes.
    margin_seconds
        Time kept for the runtime's writes; ``None``: the default (see the module).

    Example
    -------
    >>> from sagemaker_async_results.runtime.testing import LambdaContext
    >>> Deadline(LambdaContext(timeout_ms=30_000)).margin
    7.5
    """

    def __init__(self, context: Any, margin_seconds: float | None = None) -> None:
        self._remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
        at_start = self.remaining()
        if margin_seconds is not None:
            self.margin = float(margin_seconds)
        elif math.isinf(at_start):
            self.margin = 0.0
        else:
            self.margin = min(DEFAULT_MARGIN_CAP_SECONDS, DEFAULT_MARGIN_SHARE * at_start)

    @property
    def known(self) -> bool:
        """Whether the invocation's remaining time is known (a Lambda context)."""
        return not math.isinf(self.remaining())

    def remaining(self) -> float:
        """Seconds left before Lambda stops the invocation (infinite when unknown)."""
        if self._remaining_ms is None:
            return math.inf
        try:
            return float(self._remaining_ms()) / 1000
        except Exception:  # a context that cannot say: no deadline rather than a failed record
            return math.inf

    def check(self, step: str, *, inference_id: str | None) -> None:
        """Raise :class:`DeadlineReachedError` when ``step`` cannot start with the margin kept.

        Raises
        ------
        DeadlineReachedError
            The margin or less is left: the step is left to the retry.
        """
        left = self.remaining()
        if left > self.margin:
            return
        raise DeadlineReachedError(
            f"{left:.3f} s left, {self.margin:.3f} s kept for recording what completed: "
            f"{step} is left to the retry",
            received={"step": step, "remainingSeconds": round(left, 3), "marginSeconds": self.margin},
            expected="more than the margin left to start a step",
            inference_id=inference_id,
        )


@dataclass(frozen=True, slots=True)
class Budget:
    """AWS calls in this context end ``reserve`` seconds before the deadline (retries stop in time)."""

    deadline: Deadline
    reserve: float
    #: The longest one attempt may take before the reserve starts (0: the final writes, whose
    #: last attempt is worth making whatever is left).
    attempt_seconds: float

    def allows_attempt(self, after: float = 0.0) -> bool:
        """Whether an attempt started ``after`` seconds from now ends before the reserve."""
        return self.deadline.remaining() - after - self.attempt_seconds > self.reserve


_BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("deadline_budget", default=None)


def current() -> Budget | None:
    """The budget of the AWS calls made here (``None`` outside an invocation)."""
    return _BUDGET.get()


@contextmanager
def steps(deadline: Deadline) -> Iterator[Budget]:
    """The calls of the steps: their retries stop when an attempt could reach into the margin."""
    token = _BUDGET.set(Budget(deadline, deadline.margin, ATTEMPT_SECONDS))
    try:
        yield _BUDGET.get()  # type: ignore[misc]
    finally:
        _BUDGET.reset(token)


@contextmanager
def final_writes() -> Iterator[Budget | None]:
    """The completion and failure writes: they retry as long as the invocation lives."""
    budget = _BUDGET.get()
    if budget is None:
        yield None
        return
    token = _BUDGET.set(Budget(budget.deadline, FINAL_RESERVE_SECONDS, 0.0))
    try:
        yield _BUDGET.get()
    finally:
        _BUDGET.reset(token)


def install(client: Any) -> Any:
    """Bound ``client``'s retries by the current budget (once per client; returns the client).

    A client that is not a botocore client (a test double) is returned unchanged, untouched.
    """
    from botocore.client import BaseClient

    if not isinstance(client, BaseClient):
        return client
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    hook: Any = _RetryHook(client, service)  # botocore reads its answer (the stubs say handlers return None)
    events.register_first(f"needs-retry.{service}", hook, unique_id=f"deadline-retry-{service}")
    return client


class _RetryHook:
    """``needs-retry`` handler: botocore's standard decision and backoff, bounded by the budget.

    Registered first, its answer is the one botocore takes: ``None`` (no budget, or a response that
    is not an error: botocore's own policy), ``0`` after waiting the backoff (retry now), or it raises
    the error the caller would get (no retry). It never answers ``False``: older botocore (1.35, for
    one; the functions use the botocore their Lambda runtime ships) reads any answer but ``None`` as a
    delay, so ``False`` would retry every call, successful ones included, until the timeout.
    """

    def __init__(self, client: Any, service: str) -> None:
        from botocore.retries import standard

        retries = getattr(client.meta.config, "retries", None) or {}
        self._checker = standard.StandardRetryConditions(
            max_attempts=retries.get("total_max_attempts", standard.DEFAULT_MAX_ATTEMPTS)
        )
        try:
            self._backoff = standard.ExponentialBackoff(
                max_backoff=MAX_BACKOFF_SECONDS,
                service_name=service,
                throttling_detector=standard.ThrottlingErrorDetector(standard.RetryEventAdapter()),
            )
        except TypeError:  # botocore before per-service backoff (older Lambda runtimes ship it)
            self._backoff = standard.ExponentialBackoff(max_backoff=MAX_BACKOFF_SECONDS)
        self._context = standard.RetryContext
        self._exceptions = client.exceptions

    def __call__(
        self,
        attempts: int,
        response: Any = None,
        caught_exception: Any = None,
        operation: Any = None,
        request_dict: Any = None,
        **_: Any,
    ) -> float | None:
        budget = _BUDGET.get()
        if budget is None:
            return None
        http_response, parsed = response if response is not None else (None, None)
        context = self._context(
            attempt_number=attempts,
            operation_model=operation,
            parsed_response=parsed,
            http_response=http_response,
            caught_exception=caught_exception,
            request_context=(request_dict or {}).get("context", {}),
        )
        if not _is_error(http_response, parsed, caught_exception):
            return None
        if self._checker.is_retryable(context):
            delay = self._backoff.delay_amount(context)
            if budget.allows_attempt(after=delay):
                sleep(delay)
                return 0
        raise self._final_error(parsed, caught_exception, operation)

    def _final_error(self, parsed: Any, caught_exception: Any, operation: Any) -> Exception:
        """The exception botocore itself raises for this attempt when it is not retried."""
        if caught_exception is not None:
            return caught_exception
        error = (parsed or {}).get("Error", {})
        code = error.get("QueryErrorCode") or error.get("Code")
        return self._exceptions.from_code(code)(parsed, operation.name)


def _is_error(http_response: Any, parsed: Any, caught_exception: Any) -> bool:
    if caught_exception is not None:
        return True
    status = getattr(http_response, "status_code", None)
    return (status is not None and status >= 300) or bool((parsed or {}).get("Error"))
