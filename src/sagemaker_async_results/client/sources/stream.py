"""The Kinesis results stream as a push source (``destinations.kinesis``; an option, not the default).

The result-handler functions put each result record on the stream; this source reads every shard
with ``GetRecords`` (each call returns every result written since the last one) and hands the records
of pending requests to the waiter. Kinesis' limits shape it (AWS Kinesis Data Streams quotas):

- every reader of a shard shares **5 GetRecords per second** and 2 MB/s: each client process reads
  each shard at most every :data:`MIN_STREAM_POLL_SECONDS`, so a few processes already exceed the
  quota. A refused call (``ProvisionedThroughputExceededException``) is counted and backed off;
- a shard iterator **expires 5 minutes** after it was returned: while nothing is pending the source
  makes no call and forgets its iterators; when a request is pending again it opens new ones at the
  oldest pending request (``AT_TIMESTAMP``, 5 s earlier for clock skew), never at the client's start,
  so a long-lived client never re-reads hours of stream. An iterator that expired while in use is
  re-opened after the last record read (``AFTER_SEQUENCE_NUMBER``);
- resharding closes shards: a closed shard's children are picked up on the next listing.

Every process reads every result of the stream (read cost grows with processes x results), and the
records carry ``customAttributes`` to every reader: the reply queue
(:mod:`~sagemaker_async_results.client.sources.reply_queue`) has neither problem.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.client.records import error_code
from sagemaker_async_results.client.sources import Backoff, is_throttled
from sagemaker_async_results.client.waiter import Pacer

if TYPE_CHECKING:
    from sagemaker_async_results.client.waiter import ResultWaiter

logger = logging.getLogger(__name__)

#: Kinesis allows five GetRecords per second per shard (shared by every reader of the shard).
MIN_STREAM_POLL_SECONDS = 0.2
#: Seconds before a stream read's wall-clock time that a re-opened iterator starts (clock skew).
OPEN_SLACK_SECONDS = 5.0


class StreamSource:
    """Reads the Kinesis results stream for the waiter's pending requests (see the module docstring).

    Parameters
    ----------
    stream_arn: the stream (stack output ``ResultsStreamArn``). kinesis: a boto3 Kinesis client.
    max_poll_interval: the longest pause between reads while requests are pending (seconds).
    """

    name = "stream"

    def __init__(self, stream_arn: str, kinesis: Any, *, max_poll_interval: float = 2.0) -> None:
        if kinesis is None:
            raise ValueError("a results stream needs a kinesis client")
        self.stream_arn = stream_arn
        self._kinesis = kinesis
        self.pacer = Pacer(MIN_STREAM_POLL_SECONDS, max_poll_interval)
        self._backoff = Backoff()
        #: Shard ID -> its iterator, and the sequence number of the last record read from it.
        self._iterators: dict[str, str] = {}
        self._last_sequence: dict[str, str] = {}
        self._healthy = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiter: ResultWaiter | None = None

    @property
    def healthy(self) -> bool:
        return self._healthy

    def start(self, waiter: ResultWaiter) -> None:
        self._waiter = waiter
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="async-results-stream", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        waiter = self._waiter
        assert waiter is not None
        while not self._stop.is_set():
            if not waiter.pending():
                # Idle: no call at all. The iterators would expire (5 min): forget them now.
                self._iterators.clear()
                self._last_sequence.clear()
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            started = time.monotonic()
            try:
                found = self.read(waiter)
            except Exception as error:
                pause = self._failed(waiter, error, "GetRecords")
            else:
                self._healthy = True
                self._backoff.reset()
                self.pacer.note(found)
                pause = self.pacer.pause(waiter.pending()) - (time.monotonic() - started)
            self._stop.wait(max(0.0, pause))

    def _failed(self, waiter: ResultWaiter, error: Exception, operation: str) -> float:
        """Count the failure and return the back-off; the store is read meanwhile if it is not a quota."""
        if is_throttled(error):
            waiter.stats.throttled[operation] += 1
        else:
            waiter.stats.errors[operation] += 1
            self._healthy = False
            self._iterators.clear()  # opened afresh (after the last record read) on the next read
            logger.warning(
                "results stream: %s failed (%s); the result store is read meanwhile", operation, error
            )
        return self._backoff.next()

    def read(self, waiter: ResultWaiter) -> int:
        """One ``GetRecords`` per open shard; the number of pending results found."""
        if not self._iterators:
            self._open_shards(waiter)
        found = 0
        for shard, iterator in list(self._iterators.items()):
            waiter.stats.calls["GetRecords"] += 1
            try:
                response = self._kinesis.get_records(
                    ShardIterator=iterator, Limit=10_000, StreamARN=self.stream_arn
                )
            except Exception as error:
                if error_code(error) != "ExpiredIteratorException":
                    raise
                waiter.stats.recovered["IteratorReopened"] += 1
                self._iterators[shard] = self._iterator(waiter, shard)
                continue
            next_iterator = response.get("NextShardIterator")
            if next_iterator:
                self._iterators[shard] = next_iterator
            else:  # a closed shard (resharding): its children are picked up on the next listing
                del self._iterators[shard]
                self._last_sequence.pop(shard, None)
                self._open_shards(waiter, known=set(self._iterators))
            for record in response.get("Records", []):
                self._last_sequence[shard] = record["SequenceNumber"]
                try:
                    item = json.loads(record["Data"])
                except (ValueError, TypeError):
                    continue
                if isinstance(item, dict) and waiter.deliver(item, self.name):
                    found += 1
        return found

    def _open_shards(self, waiter: ResultWaiter, known: set[str] | None = None) -> None:
        """Iterators for every open shard not ``known``."""
        waiter.stats.calls["ListShards"] += 1
        shards = self._kinesis.list_shards(StreamARN=self.stream_arn)["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            if known is not None and shard_id in known:
                continue
            if shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber"):
                continue  # closed: nothing new will be written to it
            self._iterators[shard_id] = self._iterator(waiter, shard_id)

    def _iterator(self, waiter: ResultWaiter, shard_id: str) -> str:
        """After the last record read from the shard, else from the oldest pending request (not before)."""
        waiter.stats.calls["GetShardIterator"] += 1
        last = self._last_sequence.get(shard_id)
        if last is not None:
            position: dict[str, Any] = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": last,
            }
        else:
            since = waiter.oldest_pending() or time.time()
            position = {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": since - OPEN_SLACK_SECONDS}
        return str(
            self._kinesis.get_shard_iterator(StreamARN=self.stream_arn, ShardId=shard_id, **position)[
                "ShardIterator"
            ]
        )
