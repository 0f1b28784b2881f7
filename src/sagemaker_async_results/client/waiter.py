"""One waiter per client: resolves every pending future from push sources, with the store as safety net.

Why one waiter: polling the result store per request costs one read per request per poll (1,000
requests in flight at 100 ms: 10,000 reads a second). The waiter of a client watches every pending
request at once:

- **push sources** (:mod:`~sagemaker_async_results.client.sources`), each in its own thread: the
  caller's own reply queue (the default stack's, :mod:`.sources.reply_queue`) or the Kinesis results
  stream (:mod:`.sources.stream`). A source hands each result record it receives to
  :meth:`ResultWaiter.deliver`;
- **batched reads of the result store** (always): ``BatchGetItem`` of up to 100 pending records per
  call (consistent reads). Without a healthy push source it is the only source, paced so that a call
  finds several results; with one it is a rare safety net (after ``safety_sweep_seconds``, then at
  doubling intervals) for results whose push never came. A push source that fails (or a reply queue
  that was lost) does not stop it: the requests it should have pushed are read at the pace of a
  store-only waiter until they resolve.

The waiter imports neither the client nor the sources: it is given a store reader and the sources.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sagemaker_async_results import contract
from sagemaker_async_results.client.errors import InferenceExpiredError, InferenceFailedError
from sagemaker_async_results.client.futures import InferenceFuture
from sagemaker_async_results.client.records import InferenceRecord, InferenceStatus, record_from_json
from sagemaker_async_results.client.store import BATCH_GET_LIMIT

logger = logging.getLogger(__name__)

#: How many of the latest pushed results :attr:`ResultWaiter.shortest_push_seconds` looks at.
LATENCY_SAMPLES = 64

#: Results a read should find when results are few: 0.2 AWS calls per result is the budget, and a
#: sixth leaves room for the reads that find nothing (before the first result, after the last).
RESULTS_PER_READ = 6.0


class StoreReader(Protocol):
    """What the waiter reads the result store with (:class:`~.store.ResultStoreReader`)."""

    def batch_status(
        self, inference_ids: list[str], calls: Counter[str] | None = None
    ) -> dict[str, InferenceRecord]: ...


class PushSource(Protocol):
    """A source of result records, run in its own thread (see :mod:`~sagemaker_async_results.client.sources`)."""

    #: Counted in :attr:`WaiterStats.resolved` for the results it delivered.
    name: str

    @property
    def healthy(self) -> bool:
        """False while the source cannot deliver (the store is then read for everything pending)."""
        ...

    def start(self, waiter: ResultWaiter) -> None: ...

    def wake(self) -> None:
        """Something is pending again (an idle source waits for this instead of calling AWS)."""
        ...

    def close(self) -> None: ...


@dataclass
class WaiterStats:
    """AWS calls the waiter and its sources made, by operation; results resolved, by source; trouble met.

    ``throttled``: calls AWS refused for a quota (each then backed off); ``errors``: other failed calls,
    by operation; ``recovered``: what a source repaired (``IteratorReopened``, ``QueueRecreated``...).
    """

    calls: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    recovered: Counter[str] = field(default_factory=Counter)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class Pacer:
    """Seconds between reads: short for a few requests, longer when a read would find few results.

    The aim is several results per call: the pause lets :data:`RESULTS_PER_READ` results per call
    accumulate at the rate recently seen, never shorter than ``shortest`` nor longer than ``longest``.
    """

    def __init__(self, shortest: float, longest: float, per_read: float = RESULTS_PER_READ) -> None:
        self.shortest, self.longest, self.per_read = shortest, longest, per_read
        #: Results per second recently found (exponentially weighted).
        self.rate = 0.0
        self.last_update = time.monotonic()

    def note(self, found: int) -> None:
        """Rise at once to the rate a read saw, decay with about a 2 s memory.

        Why at once: when results start arriving, an average that rises slowly says "few results",
        so the next read would wait the longest pause while the results pile up.
        """
        now = time.monotonic()
        window = max(1e-3, now - self.last_update)
        self.last_update = now
        seen = found / window
        weight = min(1.0, window / 2.0)
        self.rate = max(seen, (1 - weight) * self.rate + weight * seen)

    def pause(self, pending: int, calls_per_read: int = 1) -> float:
        if pending <= 1 or self.rate <= 0:
            return self.shortest * max(1, calls_per_read)
        return min(self.longest, max(self.shortest, self.per_read * calls_per_read / self.rate))


@dataclass
class _Watch:
    future: InferenceFuture
    since: float
    next_check: float
    checks: int = 0
    #: Resolve only once the handlers are done too (``routing`` no longer ``InProgress``).
    routed: bool = False
    #: The result is in (pushed) and only the routing state is awaited from the store.
    confirming: int = 0
    #: A push source will deliver it (False: its push was lost, the store is read at full pace).
    pushed: bool = True


class ResultWaiter:
    """One background thread resolving every pending future of a client (see the module docstring).

    Parameters
    ----------
    store:
        Reads the result store (``batch_status``).
    sources:
        Push sources, each started with the waiter's thread; none: batched reads only.
    poll_interval, max_poll_interval:
        Shortest and longest pause between reads of the result store when nothing is pushed (seconds).
    safety_sweep_seconds:
        With a push source: a pending request is also looked up in the result store after this long,
        and then at doubling intervals (a lost push still resolves, at a few reads per request).
    """

    def __init__(
        self,
        store: StoreReader,
        *,
        sources: Sequence[PushSource] = (),
        poll_interval: float = 0.1,
        max_poll_interval: float = 2.0,
        safety_sweep_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self.sources = tuple(sources)
        self._pacer = Pacer(poll_interval, max_poll_interval)
        self._last_read = 0.0
        self._safety_sweep = safety_sweep_seconds
        #: Inference ID -> its watches (several callers may wait for the same request).
        self._pending: dict[str, list[_Watch]] = {}
        self._lock = threading.Lock()
        #: Sources and the store sweep may settle the same future at once: one settles it.
        self._settle_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = WaiterStats()
        #: Seconds from watch (submit) to push delivery of the latest results (see shortest_push_seconds).
        self._push_seconds: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    @property
    def shortest_push_seconds(self) -> float | None:
        """The shortest watch-to-delivery time among the latest pushed results (``None``: none yet).

        Why: it is the best measure this process has of a lone request's time (model, SageMaker, the
        functions, the reply); a push source bounds how long it may hold results back by it.
        """
        samples = list(self._push_seconds)
        return min(samples) if samples else None

    @property
    def push(self) -> bool:
        """Whether a healthy push source delivers results (else only batched reads of the result store)."""
        return any(source.healthy for source in self.sources)

    # -- watching ---------------------------------------------------------------------------------------
    def watch(
        self,
        future: InferenceFuture,
        *,
        routed: bool = False,
        check_by: float | None = None,
        pushed: bool | None = None,
    ) -> None:
        """Resolve ``future`` when its result is known; starts the waiter thread on first use.

        ``routed``: only once the result handlers are done with it too. ``check_by``: a
        ``time.monotonic()`` moment by which the result store is read for it at the latest (e.g. its
        expiry moment, so that an expired request is reported then, not at the next safety sweep).
        ``pushed``: whether a push source will deliver it (default: whether one is healthy); ``False``
        for a request whose result goes elsewhere (e.g. submitted by another process with its own reply
        queue): the store is then read for it at the store-only pace.
        """
        now = time.monotonic()
        pushed = self.push if pushed is None else pushed and self.push
        first = now + (self._safety_sweep if pushed else 0.0)
        if check_by is not None:
            first = min(first, max(now, check_by))
        with self._lock:
            self._pending.setdefault(future.inference_id, []).append(
                _Watch(future, now, first, routed=routed, pushed=pushed)
            )
            self._start()
        future.add_done_callback(self._forget)
        self._wake.set()
        for source in self.sources:
            source.wake()

    def _start(self) -> None:
        """Start the thread and the sources (the caller holds the lock)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="async-results-waiter", daemon=True)
            self._thread.start()
            for source in self.sources:
                source.start(self)

    def _forget(self, future: Any) -> None:
        if isinstance(future, InferenceFuture):
            with self._lock:
                self._drop(future)

    def _drop(self, future: InferenceFuture) -> None:
        """Remove ``future``'s watch (the caller holds the lock)."""
        watches = self._pending.get(future.inference_id)
        if watches is None:
            return
        watches[:] = [w for w in watches if w.future is not future]
        if not watches:
            del self._pending[future.inference_id]

    def pending(self) -> int:
        """Requests still awaited (each counted once, however many callers wait for it)."""
        with self._lock:
            return len(self._pending)

    def oldest_pending(self) -> float | None:
        """``time.time()`` when the oldest pending request was watched (``None``: nothing pending)."""
        with self._lock:
            since = [w.since for watches in self._pending.values() for w in watches]
        if not since:
            return None
        return time.time() - (time.monotonic() - min(since))

    def push_lost(self) -> None:
        """A source lost what it pushes from (e.g. its queue): read the store for everything pending now."""
        now = time.monotonic()
        with self._lock:
            for watches in self._pending.values():
                for watch in watches:
                    watch.pushed = False
                    watch.next_check = now
        self._wake.set()

    def close(self) -> None:
        """Stop the thread and the sources; futures still pending stay pending."""
        self._stop.set()
        self._wake.set()
        for source in self.sources:
            source.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    # -- what the sources hand over ---------------------------------------------------------------------
    def deliver(self, item: dict[str, Any], source: str) -> bool:
        """Resolve the futures of one pushed result record; whether one was pending."""
        inference_id = str(item.get("inferenceId", ""))
        with self._lock:
            watches = list(self._pending.get(inference_id, ()))
        if not watches:
            return False
        record = record_from_json(inference_id, item)
        if record.status not in (InferenceStatus.COMPLETED, InferenceStatus.FAILED):
            return False
        now = time.monotonic()
        for watch in watches:
            if watch.routed:
                # The push says the result is in; the routing state is in the store: read it now.
                watch.confirming = max(1, watch.confirming)
                watch.next_check = now
                self._wake.set()
            else:
                self._push_seconds.append(now - watch.since)
                self._settle(watch.future, record, source)
        return True

    # -- the loop: batched reads of the result store -----------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.pending():
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            # Reads at most once per shortest pause however often new waits wake the loop: a burst of
            # waits is read together in the next batch, not one batch per wait.
            since = time.monotonic() - self._last_read
            if since < self._pacer.shortest and self._stop.wait(self._pacer.shortest - since):
                break
            started = self._last_read = time.monotonic()
            self._wake.clear()  # before the read: a wake-up during it is not lost
            push = self.push
            try:
                found, unpushed = self._sweep(push=push)
            except Exception as error:
                self.stats.errors["BatchGetItem"] += 1
                logger.warning("result waiter: reading the result store failed (%s); retrying", error)
                found, unpushed = 0, self.pending()
                self._stop.wait(1.0)
            self._pacer.note(found)
            if push and not unpushed:
                pause = min(1.0, self._next_due() - time.monotonic())
            else:
                pause = self._pacer.pause(unpushed, -(-unpushed // BATCH_GET_LIMIT))
                pause -= time.monotonic() - started  # paced from the start of one read to the next
            self._wake.wait(max(0.0, pause))

    def _next_due(self) -> float:
        with self._lock:
            return min(
                (w.next_check for watches in self._pending.values() for w in watches),
                default=time.monotonic() + 1.0,
            )

    def _sweep(self, *, push: bool) -> tuple[int, int]:
        """Read the due pending records, 100 per ``BatchGetItem``; resolve those done or expired.

        Due: everything without a healthy push source; else the requests whose push was lost, those
        whose safety check is due, and those pushed but awaiting their routing state. Returns the
        results found and how many of the due requests are read at the store's pace (not pushed).
        """
        now = time.monotonic()
        # Safety checks due soon are read with those due now: one call for a caller's whole batch of
        # requests (submitted over a few seconds), not one call each as each comes due.
        soon = now + self._safety_sweep / 3
        with self._lock:
            due = {
                inference_id: list(watches)
                for inference_id, watches in self._pending.items()
                if not push or any(not w.pushed or w.next_check <= now for w in watches)
            }
            if due and push:
                for inference_id, watches in self._pending.items():
                    if inference_id not in due and any(w.next_check <= soon for w in watches):
                        due[inference_id] = list(watches)
        unpushed = sum(1 for watches in due.values() if not push or any(not w.pushed for w in watches))
        found = 0
        ids = list(due)
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            chunk = ids[start : start + BATCH_GET_LIMIT]
            records = self._store.batch_status(chunk, self.stats.calls)
            for inference_id in chunk:
                record = records.get(inference_id)
                for watch in due[inference_id]:
                    in_progress = (
                        record is not None and watch.routed and record.routing == contract.ROUTING_IN_PROGRESS
                    )
                    if record is not None and record.done and not in_progress:
                        self._settle(watch.future, record, "store")
                        found += 1
                    elif watch.confirming or (record is not None and record.done):
                        # Only the handlers are awaited: read again soon (0.1 s, doubling, at most 2 s).
                        watch.confirming += 1
                        watch.next_check = now + min(2.0, 0.1 * 2 ** (watch.confirming - 1))
                    elif push and watch.pushed:
                        watch.checks += 1
                        watch.next_check = now + self._safety_sweep * (2**watch.checks)
        return found, unpushed

    def _settle(self, future: InferenceFuture, record: InferenceRecord, source: str) -> None:
        with self._settle_lock:
            if future.done():
                return
            self.stats.resolved[source] += 1
            self._set(future, record)
        with self._lock:
            self._drop(future)

    @staticmethod
    def _set(future: InferenceFuture, record: InferenceRecord) -> None:
        with contextlib.suppress(Exception):  # cancelled meanwhile
            if record.status == InferenceStatus.COMPLETED:
                future.set_result(record)
            elif record.status == InferenceStatus.FAILED:
                future.set_exception(
                    InferenceFailedError(
                        f"inference {record.inference_id} failed: {record.failure_reason}", record
                    )
                )
            else:
                future.set_exception(
                    InferenceExpiredError(
                        f"inference {record.inference_id} expired: no result by {record.expires_by} and "
                        "nothing in S3",
                        record,
                    )
                )
