"""The caller's own reply queue as a push source: the default stack's delivery to callers.

AWS's request-reply "temporary queue" pattern: each client process creates one SQS queue of its own
(the stack's name prefix, output ``ReplyQueuePrefix``, so that IAM can allow exactly those queues),
names it in each request's Submitted record (``replyTo``), and long-polls it. The result-handler
function, which reads that record when it claims the result, sends the result record there (several
records per message, ``SendMessageBatch``). So each process receives only its own results, at a cost
that does not grow with other processes' traffic, and within SQS's quotas at any number of processes
(a standard queue has no practical API rate limit for ``ReceiveMessage``).

Costs, from the SQS documentation: ``ReceiveMessage`` returns up to 10 messages and long-polls up to
20 s (returning as soon as one arrives): while requests are pending and nothing arrives, 3 calls per
minute; while nothing is pending, no receive at all, only the heartbeat (:data:`HEARTBEAT_SECONDS`).
Nothing is ever deleted: the queue keeps a message :data:`RETENTION_SECONDS` (60 s, SQS's minimum) and a
received message stays invisible :data:`VISIBILITY_SECONDS` (longer than that), so it never comes back and
expires on its own. A received result is used at once; one that is not (its caller crashed between
receive and use, or it was for no pending request) is in the result store, which the waiter reads as its
safety net. The price of no deletes: every message received in the last 60 s is "in flight", and a standard
queue allows about 120,000 in flight, so one caller can receive about 2,000 reply messages per second
(each holds up to 10 results); beyond that SQS refuses receives with ``OverLimit``, which is backed off
like throttling while the store is read.

Batching receives: a long poll returns as soon as one message is there, so with results arriving a few
per second each receive would bring one. While results arrive fast enough that a short wait gathers at
least two more, the source waits before the next receive, up to :data:`BATCH_WAIT_SECONDS` and never
longer than the shortest submit-to-result time it has measured for its own requests
(:attr:`~sagemaker_async_results.client.waiter.ResultWaiter.shortest_push_seconds`): a result waits
half the window on average, so the window adds at most half a lone request's time to the median (the
p50 target: at most 1.5x a lone request).

Leftovers: the queue carries a ``heartbeat`` tag (epoch seconds) refreshed every
:data:`HEARTBEAT_SECONDS`; the stack's sweeper deletes queues of its prefix whose heartbeat is older than
:data:`EXPIRY_SECONDS`, every :data:`SWEEP_MINUTES` minutes: a killed caller's queue is gone within
``EXPIRY_SECONDS + SWEEP_MINUTES`` minutes (+ up to 60 s that SQS takes to delete a queue). A closed
client deletes its queue at once (``close()``, or at interpreter exit).

What can go wrong, and what happens: the queue deleted under a live caller (e.g. a laptop asleep past
the expiry) -> ``QueueDoesNotExist``: counted, a new queue is created for the requests submitted from
then on, and the waiter reads the store for those already pending; a throttled or failed receive ->
counted, backed off, and the store is read meanwhile (``healthy`` false). A result sent to a queue that
is gone is only logged by the function: the result store has it.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.client.records import error_code
from sagemaker_async_results.client.sources import Backoff, is_throttled
from sagemaker_async_results.client.waiter import Pacer

if TYPE_CHECKING:
    from sagemaker_async_results.client.waiter import ResultWaiter

logger = logging.getLogger(__name__)

#: Tag holding the epoch seconds of the caller's last heartbeat.
HEARTBEAT_TAG = "heartbeat"
#: Seconds between heartbeats of a live caller (idle or not).
HEARTBEAT_SECONDS = 300
#: A queue whose heartbeat is older than this is a dead caller's (three missed heartbeats).
EXPIRY_SECONDS = 900
#: Minutes between two runs of the stack's sweeper.
SWEEP_MINUTES = 5
#: ``ReceiveMessage``'s longest long poll, and the most messages one call returns.
LONG_POLL_SECONDS = 20
RECEIVE_LIMIT = 10
#: Messages kept at most this long: SQS's minimum (the result store keeps every result anyway).
RETENTION_SECONDS = 60
#: A received message stays invisible this long: longer than it is kept, so it never reappears and needs
#: no ``DeleteMessage`` (it expires :data:`RETENTION_SECONDS` after it was sent).
VISIBILITY_SECONDS = 120
#: Longest wait between two receives that gathers results into one call (see the module docstring).
#: Derived from the shortest lone request modelled (a 0.25 s model run plus the hops to the reply, 0.33 s;
#: ``bench.await_callers``): a result waits half the window on average, so 0.3 s adds at most 0.15 s
#: to the median (p50 <= 1.5x lone needs <= half a lone request); a shorter measured submit-to-result
#: time shortens the window further.
BATCH_WAIT_SECONDS = 0.3
#: The SQS error codes of a queue that is gone.
_GONE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "NonExistentQueue"}


def queue_policy(queue_arn: str) -> str:
    """The queue's policy: TLS only (the account's IAM policies grant the rest)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": queue_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def queue_arn(queue_url: str, *, region: str, partition: str = "aws") -> str:
    """The ARN of the queue at ``queue_url`` (``https://<host>/<account>/<name>``) in ``region``."""
    path = queue_url.split("://", 1)[-1].partition("/")[2]
    account, _, name = path.partition("/")
    return f"arn:{partition}:sqs:{region}:{account}:{name.rstrip('/')}"


def records_of(body: str) -> list[dict[str, Any]]:
    """The result records of one reply message (``{"results": [...]}``; a bare record is accepted)."""
    try:
        decoded = json.loads(body)
    except ValueError:
        return []
    if isinstance(decoded, dict) and isinstance(decoded.get("results"), list):
        return [r for r in decoded["results"] if isinstance(r, dict)]
    return [decoded] if isinstance(decoded, dict) else []


class ReplyQueueSource:
    """The caller's reply queue (see the module docstring).

    Parameters
    ----------
    prefix:
        The stack's reply-queue name prefix (output ``ReplyQueuePrefix``); the queue is named
        ``<prefix><32 hex digits>`` (SQS names are at most 80 characters).
    sqs:
        A boto3 SQS client.
    kms_key:
        The customer managed key to encrypt the queue with (output ``ReplyQueueKeyArn``); ``None``:
        SQS-managed encryption (SSE-SQS).
    wait_seconds, heartbeat_seconds, clock:
        The long poll, the heartbeat period, and "now" in epoch seconds (a bench compresses time).
    batch_wait:
        Longest pause between two receives while results arrive fast enough to gather several per
        call (0: receive again at once). Default (``None``): :data:`BATCH_WAIT_SECONDS`, at most the
        shortest submit-to-result time measured. A value given is used as is: a caller that gets a
        few results per second and prefers fewer calls to latency sets a longer one (at 2 results/s,
        2.5 s gathers about 5 per receive and adds about 1.25 s to the median).
    """

    name = "replyQueue"

    def __init__(
        self,
        prefix: str,
        sqs: Any,
        *,
        kms_key: str | None = None,
        wait_seconds: int = LONG_POLL_SECONDS,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        batch_wait: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if sqs is None:
            raise ValueError("a reply queue needs an sqs client")
        if len(prefix) > 80 - 32:
            raise ValueError(f"reply queue prefix {prefix!r}: expected at most 48 characters")
        self.prefix = prefix
        self._sqs = sqs
        self._kms_key = kms_key
        self._wait_seconds = wait_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock
        self.batch_wait = batch_wait
        self.pacer = Pacer(0.0, BATCH_WAIT_SECONDS if batch_wait is None else batch_wait, RECEIVE_LIMIT)
        self._backoff = Backoff()
        self._url: str | None = None
        self._url_lock = threading.Lock()
        self._last_heartbeat = 0.0
        self._healthy = True
        #: The queue could not be created: no push for this client.
        self._disabled = False
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiter: ResultWaiter | None = None
        #: Calls made before the waiter exists (creating the queue at the first submit).
        self.setup_calls: dict[str, int] = {}

    @property
    def healthy(self) -> bool:
        return self._healthy

    @property
    def url(self) -> str | None:
        """The queue's URL once created."""
        return self._url

    # -- the queue ------------------------------------------------------------------------------------
    def address(self) -> str:
        """The queue's URL, creating the queue on first use (the client names it in each request)."""
        with self._url_lock:
            if self._url is None:
                self._url = self._create()
            return self._url

    def try_address(self) -> str | None:
        """:meth:`address`, or ``None`` when the queue cannot be created (e.g. the caller's IAM lacks
        ``sqs:CreateQueue``): then this source is off for good and results come from the store."""
        if self._disabled:
            return None
        try:
            return self.address()
        except Exception as error:
            self._disabled = True
            self._healthy = False
            logger.warning(
                "reply queue not created (%s): results are read from the result store instead; the "
                "stack's ReplyQueueCallerPolicyArn output names what the caller's IAM needs",
                error,
            )
            return None

    def _count(self, operation: str) -> None:
        if self._waiter is not None:
            self._waiter.stats.calls[operation] += 1
        else:
            self.setup_calls[operation] = self.setup_calls.get(operation, 0) + 1

    def _create(self) -> str:
        attributes = {
            "MessageRetentionPeriod": str(RETENTION_SECONDS),
            "VisibilityTimeout": str(VISIBILITY_SECONDS),
            "ReceiveMessageWaitTimeSeconds": str(self._wait_seconds),
        }
        if self._kms_key:
            attributes["KmsMasterKeyId"] = self._kms_key
        else:
            attributes["SqsManagedSseEnabled"] = "true"
        self._count("CreateQueue")
        now = self._clock()
        url = str(
            self._sqs.create_queue(
                QueueName=f"{self.prefix}{uuid.uuid4().hex}",
                Attributes=attributes,
                tags={HEARTBEAT_TAG: str(int(now))},
            )["QueueUrl"]
        )
        self._last_heartbeat = now
        self._count("SetQueueAttributes")
        meta = getattr(self._sqs, "meta", None)
        arn = queue_arn(
            url,
            region=getattr(meta, "region_name", None) or "us-east-1",
            partition=getattr(meta, "partition", None) or "aws",
        )
        self._sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(arn)})
        atexit.register(self._close_at_exit)
        logger.info("reply queue created: %s", url)
        return url

    def _close_at_exit(self) -> None:
        self.close()

    def _delete(self, url: str) -> None:
        try:
            self._sqs.delete_queue(QueueUrl=url)
        except Exception as error:  # the sweeper removes it within the documented bound
            logger.debug("reply queue %s not deleted: %s", url, error)

    def _replace(self, waiter: ResultWaiter) -> None:
        """The queue is gone: a new one for the requests from now on; the store for those pending."""
        waiter.stats.recovered["QueueRecreated"] += 1
        with self._url_lock:
            old, self._url = self._url, None
            if old is not None:
                atexit.unregister(self._close_at_exit)
        logger.warning("reply queue %s is gone; creating another, the result store is read meanwhile", old)
        waiter.push_lost()
        try:
            self.address()
        except Exception as error:
            waiter.stats.errors["CreateQueue"] += 1
            self._healthy = False
            logger.warning("reply queue: creating another failed (%s)", error)

    def _heartbeat(self, waiter: ResultWaiter) -> None:
        now = self._clock()
        url = self._url
        if url is None or now - self._last_heartbeat < self._heartbeat_seconds:
            return
        waiter.stats.calls["TagQueue"] += 1
        try:
            self._sqs.tag_queue(QueueUrl=url, Tags={HEARTBEAT_TAG: str(int(now))})
        except Exception as error:
            if error_code(error) in _GONE:
                self._replace(waiter)
                return
            waiter.stats.errors["TagQueue"] += 1
            logger.warning("reply queue: heartbeat failed (%s); retried next time", error)
            return
        self._last_heartbeat = now

    # -- the thread -----------------------------------------------------------------------------------
    def start(self, waiter: ResultWaiter) -> None:
        self._waiter = waiter
        for operation, count in self.setup_calls.items():
            waiter.stats.calls[operation] += count
        self.setup_calls.clear()
        if self._disabled:
            return
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="async-results-reply-queue", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, *, delete: bool = True) -> None:
        """Stop receiving; with ``delete`` (default) delete the queue (requests still pending resolve
        from the store only, by a later client)."""
        self._stop.set()
        self._wake.set()
        with self._url_lock:
            url, self._url = self._url, None
        if url is not None:
            atexit.unregister(self._close_at_exit)  # once closed, exit has nothing left to do
            if delete:
                self._delete(url)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1)

    def _run(self) -> None:
        waiter = self._waiter
        assert waiter is not None
        while not self._stop.is_set():
            self._heartbeat(waiter)
            url = self._url
            if not waiter.pending() or url is None:
                # Idle: no receive; wake up for a new request or for the next heartbeat.
                due = self._last_heartbeat + self._heartbeat_seconds - self._clock()
                self._wake.wait(max(0.01, min(1.0, due)))
                self._wake.clear()
                continue
            started = time.monotonic()
            try:
                received, found = self._receive(waiter, url)
            except Exception as error:
                pause = self._failed(waiter, error, url)
            else:
                self._healthy = True
                self._backoff.reset()
                self.pacer.note(found)
                pause = 0.0 if received >= RECEIVE_LIMIT else self._pause(waiter)
                pause -= time.monotonic() - started
            self._stop.wait(max(0.0, pause))

    def window(self, waiter: ResultWaiter) -> float:
        """The longest wait before a receive: ``batch_wait`` when given; else :data:`BATCH_WAIT_SECONDS`,
        at most the shortest submit-to-result time measured (0 until one is: nothing says yet how long
        a lone request takes)."""
        if self.batch_wait is not None:
            return self.batch_wait
        shortest = waiter.shortest_push_seconds
        return 0.0 if shortest is None else min(BATCH_WAIT_SECONDS, shortest)

    def _pause(self, waiter: ResultWaiter) -> float:
        """Wait before the next receive only when the wait gathers results (at least 2 more expected):
        long enough for a full receive (10) at the rate recently seen, at most :meth:`window`. (After a
        full receive there is no wait at all: more are likely waiting.)

        Why: at a low rate a pause finds no more results per receive, it only delays each one.
        """
        window, rate = self.window(waiter), self.pacer.rate
        expected = min(float(waiter.pending()), rate * window)
        if expected < 2:
            return 0.0
        return min(window, min(RECEIVE_LIMIT, waiter.pending()) / rate)

    def _failed(self, waiter: ResultWaiter, error: Exception, url: str) -> float:
        if error_code(error) in _GONE:
            if url == self._url:
                self._replace(waiter)
            return 0.0
        if is_throttled(error):
            waiter.stats.throttled["ReceiveMessage"] += 1
        else:
            waiter.stats.errors["ReceiveMessage"] += 1
            self._healthy = False
            logger.warning("reply queue: receive failed (%s); the result store is read meanwhile", error)
        return self._backoff.next()

    def _receive(self, waiter: ResultWaiter, url: str) -> tuple[int, int]:
        """One receive: the messages it brought, and the pending results they resolved."""
        waiter.stats.calls["ReceiveMessage"] += 1
        messages = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=RECEIVE_LIMIT,
            WaitTimeSeconds=self._wait_seconds,
            VisibilityTimeout=VISIBILITY_SECONDS,
        ).get("Messages", [])
        found = 0
        for message in messages:  # never deleted: invisible until it expires (see RETENTION_SECONDS)
            for record in records_of(message.get("Body", "")):
                if waiter.deliver(record, self.name):
                    found += 1
        return len(messages), found
