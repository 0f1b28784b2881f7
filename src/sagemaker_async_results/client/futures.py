"""Futures for submitted inferences, fed by one waiter per client instead of one poll loop per request.

Why one waiter: polling the result store per request costs one read per request per poll (1,000 requests
in flight at 100 ms: 10,000 reads a second). The waiter of a client watches every pending request at once:

- **push** (when the stack has the Kinesis results stream, ``destinations.kinesis``): the result-handler
  functions put each result record on the stream; the waiter reads every shard with ``GetRecords``
  (each call returns every result written since the last one, up to 10,000) and resolves the futures
  whose inference IDs it holds. A stream is read, not consumed: any number of client processes read
  the same stream, each picking its own results, and nothing is deleted.
- **batched reads** (always, and alone without a stream): ``BatchGetItem`` of up to 100 pending result
  records per call (consistent reads). Without a stream it is the only source, paced so that a call
  finds several results; with a stream it is a rare safety net for results whose record was written
  but whose stream record never came (e.g. a destination failed).

Both paces adapt to how fast results arrive, so a lone request is answered within ~0.1-0.2 s of its
record and a thousand requests cost a fraction of a call each (see ``bench/await_at_scale.py``).

A request still ``Submitted`` after its expiry moment (TTL + invocation timeout) is checked once in S3
(its output and failure locations, known from the invoke response) before it is reported Expired: a
result whose notification never came is then reported as found, not as lost.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_async_results.client.client import AsyncInferenceClient, InferenceRecord, Submission

logger = logging.getLogger(__name__)

#: BatchGetItem reads at most this many keys per call.
BATCH_GET_LIMIT = 100
#: Kinesis allows five GetRecords per second per shard.
MIN_STREAM_POLL_SECONDS = 0.2
#: Results a read should find when results are few: 0.2 AWS calls per result is the budget, and a
#: sixth leaves room for the reads that find nothing (before the first result, after the last).
RESULTS_PER_READ = 6.0


class InferenceError(Exception):
    """The inference did not complete; ``record`` says what the result store knows."""

    def __init__(self, message: str, record: InferenceRecord) -> None:
        super().__init__(message)
        self.record = record


class InferenceFailedError(InferenceError):
    """SageMaker reported the inference Failed (``record.failure_reason``; body via ``fetch_body``)."""


class InferenceExpiredError(InferenceError):
    """No result by the request's expiry moment, and neither its output nor its failure is in S3."""


class InferenceFuture(Future["InferenceRecord"]):
    """The result of one submitted inference: a :class:`concurrent.futures.Future`.

    ``result(timeout)`` returns the :class:`~sagemaker_async_results.client.InferenceRecord` of a
    Completed inference and raises :class:`InferenceFailedError` / :class:`InferenceExpiredError`
    otherwise (``exception()`` returns them); ``concurrent.futures.TimeoutError`` when ``timeout``
    passes first (the request itself goes on). ``cancel()`` stops waiting for it (SageMaker has no
    way to cancel a queued request: it still runs and its result is still routed).
    ``asyncio.wrap_future`` makes it awaitable.
    """

    def __init__(self, client: AsyncInferenceClient, submission: Submission) -> None:
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


@dataclass
class _Watch:
    future: InferenceFuture
    since: float
    next_check: float
    checks: int = 0
    #: Resolve only once the handlers are done too (``routing`` no longer ``InProgress``).
    routed: bool = False
    #: The result is in (seen on the stream) and only the routing state is awaited from the store.
    confirming: int = 0


@dataclass
class WaiterStats:
    """AWS calls the waiter made, by operation, and results it resolved, by source."""

    calls: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class ResultWaiter:
    """One background thread resolving every pending future of a client (see the module docstring).

    Parameters
    ----------
    client:
        The client whose result store (and stream) it reads.
    stream_arn:
        The Kinesis results stream (stack output ``ResultsStreamArn``); ``None``: batched reads only.
    kinesis:
        A boto3 Kinesis client (needed with ``stream_arn``).
    poll_interval:
        Shortest pause between reads of the result store when there is no stream (seconds).
    safety_sweep_seconds:
        With a stream: a pending request is also looked up in the result store after this long, and
        then at doubling intervals (a lost stream record still resolves, at a few reads per request).
    """

    def __init__(
        self,
        client: AsyncInferenceClient,
        *,
        stream_arn: str | None = None,
        kinesis: Any = None,
        poll_interval: float = 0.1,
        max_poll_interval: float = 2.0,
        safety_sweep_seconds: float = 30.0,
    ) -> None:
        if stream_arn and kinesis is None:
            raise ValueError("a results stream needs a kinesis client")
        self._client = client
        self._stream_arn = stream_arn
        self._kinesis = kinesis
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._safety_sweep = safety_sweep_seconds
        #: Inference ID -> its watches (several callers may wait for the same request).
        self._pending: dict[str, list[_Watch]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._iterators: dict[str, str] = {}
        self._started_at: datetime | None = None
        #: Results per second recently found (exponentially weighted); paces the reads.
        self._rate = 0.0
        self._last_rate_update = time.monotonic()
        self._recent: deque[str] = deque(maxlen=10_000)
        self.stats = WaiterStats()

    @property
    def push(self) -> bool:
        """Whether results arrive from the stream (else only batched reads of the result store)."""
        return bool(self._stream_arn)

    # -- watching ---------------------------------------------------------------------------------------
    def watch(self, future: InferenceFuture, *, routed: bool = False, check_by: float | None = None) -> None:
        """Resolve ``future`` when its result is known; starts the waiter thread on first use.

        ``routed``: only once the result handlers are done with it too. ``check_by``: a
        ``time.monotonic()`` moment by which the result store is read for it at the latest (e.g. its
        expiry moment, so that an expired request is reported then, not at the next safety sweep).
        """
        now = time.monotonic()
        first = now + (self._safety_sweep if self.push else 0.0)
        if check_by is not None:
            first = min(first, max(now, check_by))
        with self._lock:
            self._pending.setdefault(future.inference_id, []).append(
                _Watch(future, now, first, routed=routed)
            )
            if self._thread is None or not self._thread.is_alive():
                self._started_at = self._started_at or datetime.now(UTC)
                self._thread = threading.Thread(target=self._run, name="async-results-waiter", daemon=True)
                self._thread.start()
        future.add_done_callback(self._forget)
        self._wake.set()

    def _forget(self, future: Future[Any]) -> None:
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

    def close(self) -> None:
        """Stop the thread; futures still pending stay pending."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- the loop -------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.pending():
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            started = time.monotonic()
            try:
                found = self._read_stream() if self.push else 0
                found += self._sweep(everything=not self.push)
            except Exception:
                logger.exception("result waiter: reading results failed; retrying")
                found = 0
                self._stop.wait(1.0)
            self._note_rate(found, time.monotonic() - started)
            # Paced from the start of one read to the next: the time a read takes is part of the pause.
            self._stop.wait(max(0.0, self._pause() - (time.monotonic() - started)))

    def _note_rate(self, found: int, elapsed: float) -> None:
        """Rise at once to the rate a read saw, decay with about a 2 s memory.

        Why at once: when results start arriving, an average that rises slowly says "few results",
        so the next read would wait the longest pause while the results pile up.
        """
        now = time.monotonic()
        window = max(1e-3, now - self._last_rate_update)
        self._last_rate_update = now
        seen = found / window
        weight = min(1.0, window / 2.0)
        self._rate = max(seen, (1 - weight) * self._rate + weight * seen)

    def _pause(self) -> float:
        """Seconds until the next read: short for a few requests, longer when a read would find few.

        The aim is several results per call: the pause lets :data:`RESULTS_PER_READ` results (stream)
        or that many per call of a sweep (result store) accumulate, never longer than
        ``max_poll_interval``. Measured from the start of the last read.
        """
        pending = self.pending()
        if self.push:
            if pending <= 1 or self._rate <= 0:
                return MIN_STREAM_POLL_SECONDS
            return min(self._max_poll_interval, max(MIN_STREAM_POLL_SECONDS, RESULTS_PER_READ / self._rate))
        calls_per_sweep = -(-pending // BATCH_GET_LIMIT)
        if pending <= 1 or self._rate <= 0:
            return self._poll_interval * max(1, calls_per_sweep)
        return min(
            self._max_poll_interval,
            max(self._poll_interval, RESULTS_PER_READ * calls_per_sweep / self._rate),
        )

    # -- push: the stream -----------------------------------------------------------------------------
    def _read_stream(self) -> int:
        if not self._iterators:
            self._open_shards()
        found = 0
        for shard, iterator in list(self._iterators.items()):
            self.stats.calls["GetRecords"] += 1
            response = self._kinesis.get_records(
                ShardIterator=iterator, Limit=10_000, StreamARN=self._stream_arn
            )
            next_iterator = response.get("NextShardIterator")
            if next_iterator:
                self._iterators[shard] = next_iterator
            else:  # a closed shard (resharding): its children are picked up on the next listing
                del self._iterators[shard]
                self._open_shards(known=set(self._iterators))
            for record in response.get("Records", []):
                try:
                    item = json.loads(record["Data"])
                except (ValueError, TypeError):
                    continue
                if isinstance(item, dict) and self._resolve_from_stream(item):
                    found += 1
        return found

    def _open_shards(self, known: set[str] | None = None) -> None:
        """Iterators for every open shard, from just before this waiter's first request."""
        assert self._started_at is not None
        self.stats.calls["ListShards"] += 1
        shards = self._kinesis.list_shards(StreamARN=self._stream_arn)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if known is not None and shard_id in known:
                continue
            if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
                continue  # closed: nothing new will be written to it
            self.stats.calls["GetShardIterator"] += 1
            self._iterators[shard_id] = self._kinesis.get_shard_iterator(
                StreamARN=self._stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AT_TIMESTAMP",
                Timestamp=self._started_at.timestamp() - 5,
            )["ShardIterator"]

    def _resolve_from_stream(self, item: dict[str, Any]) -> bool:
        from sagemaker_async_results.client.client import InferenceStatus, record_from_stream

        inference_id = str(item.get("inferenceId", ""))
        with self._lock:
            watches = list(self._pending.get(inference_id, ()))
        if not watches:
            return False
        record = record_from_stream(inference_id, item)
        if record.status not in (InferenceStatus.COMPLETED, InferenceStatus.FAILED):
            return False
        now = time.monotonic()
        for watch in watches:
            if watch.routed:
                # The stream says the result is in; the routing state is in the store: read it now.
                watch.confirming = max(1, watch.confirming)
                watch.next_check = now
            else:
                self._settle(watch.future, record, "stream")
        return True

    # -- batched reads of the result store --------------------------------------------------------------
    def _sweep(self, *, everything: bool) -> int:
        """Read the due pending records, 100 per ``BatchGetItem``; resolve those done or expired."""
        from sagemaker_async_results import contract

        now = time.monotonic()
        with self._lock:
            due = {
                inference_id: list(watches)
                for inference_id, watches in self._pending.items()
                if everything or any(w.next_check <= now for w in watches)
            }
        found = 0
        ids = list(due)
        for start in range(0, len(ids), BATCH_GET_LIMIT):
            chunk = ids[start : start + BATCH_GET_LIMIT]
            records = self._client.batch_status(chunk, self.stats)
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
                    elif not everything:
                        watch.checks += 1
                        watch.next_check = now + self._safety_sweep * (2**watch.checks)
        return found

    def _settle(self, future: InferenceFuture, record: InferenceRecord, source: str) -> None:
        from sagemaker_async_results.client.client import InferenceStatus

        if future.done():
            return
        self.stats.resolved[source] += 1
        self._recent.append(future.inference_id)
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
        with self._lock:
            self._drop(future)
