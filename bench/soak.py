"""Chaos soak: the runtime under failing AWS calls, duplicates and poison, in both delivery modes.

Everything runs in this process on moto (``mock_aws``); Lambda's and SQS's delivery semantics are
simulated around the real :class:`~sagemaker_async_results.runtime.app.ResultsApp`, on a simulated
clock (the exactly-once guard reads it too, so lock expiry follows simulated time):

* **buffered** (SNS -> SQS -> Lambda): batches of up to 10 visible messages; a record named in
  ``batchItemFailures`` (or every record, when the invocation raises) becomes visible again after the
  visibility timeout; at ``maxReceiveCount`` receives it moves to the dead-letter queue;
* **direct** (SNS -> Lambda, asynchronous invocation): one SNS event per notification; an invocation
  that raises is retried twice (1 and 2 minutes later), then the event goes to the on-failure
  destination.

Faults are injected at the botocore boundary of the runtime's clients (DynamoDB, SQS, S3): each
attempt fails with probability ``fault_rate``, half of them **after** the call took effect (moto
applies it, the client is answered with the error), as a throttle or a 5xx; now and then a **burst**
fails every attempt for a while, long enough to exhaust botocore's retries. A share of notifications
is delivered twice (duplicates), and a share is poison: a message that is not JSON, or a result whose
handler always raises.

**Timeouts**: every invocation has :data:`FUNCTION_TIMEOUT_MS` of simulated time, and time passes
with the work: each AWS attempt takes a few milliseconds, a share of them is **slow** (up to the
clients' per-attempt timeout, after which the attempt fails as a read timeout, again half of them
after taking effect), a share of handlers is **slow** (seconds), a share returns **at the edge** (within two margins of
the deadline, so the writes after them meet the slow and failing attempts there), and botocore's
backoff waits. Each
record of a batch runs on its own thread with its own time, from the moment its thread started (the
runtime hands each record a copy of its context, where the simulated time lives); the batch's own
steps after the records' run on the invocation's time. At the deadline the invocation is stopped as
Lambda stops it: whatever runs is cut off (an AWS attempt in flight takes effect or not, half and
half), nothing after it happens, and the invocation counts as failed (buffered: the whole batch comes
back; direct: Lambda retries it).
A handler cut off mid-run is counted as having had its effect (the worst case). A handler that
returns with less than the runtime's margin left (or is cut off) ate the time kept for recording it:
its result running again is the one documented repeat, counted apart from **routed twice**.

Accounting, per mode: **lost** (a good result whose handler never ran, whose record is not
``Routed``, or that never reached the results queue), **routed twice** (the user handler called more
than once for one inference ID and status, except after a handler that itself ran into the margin:
**documented repeats**), **good dead-lettered** (a copy of a good notification in
the dead-letter queue), **poison not dead-lettered**, **unhandled** (an invocation that raised what
it should not, or a record that failed with an unexpected error).

Run: ``make soak`` (10,000 notifications per mode, in rounds of 1,000 each on a fresh emulator) or
``python -m bench.soak --count 300``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MODES = ("buffered", "direct")
BUCKET = "soak-bucket"
TABLE = "soak-results"
OUTPUTS = f"s3://{BUCKET}/out/"
VISIBILITY_TIMEOUT = 60.0
MAX_RECEIVE_COUNT = 5
#: Lambda's asynchronous invocation: retries and their delays (seconds).
ASYNC_RETRY_DELAYS = (60.0, 120.0)
FUNCTION_TIMEOUT_MS = 30_000


class InvocationTimedOut(BaseException):
    """Lambda stopped the invocation at its timeout (a BaseException: nothing in the runtime catches it)."""


@dataclass
class SoakConfig:
    count: int = 300
    fault_rate: float = 0.10
    after_effect_share: float = 0.5
    duplicate_rate: float = 0.05
    poison_rate: float = 0.01
    #: Chance per attempt that a burst starts; a burst fails the next ``burst_length`` attempts.
    burst_rate: float = 0.002
    burst_length: int = 8
    #: Share of results whose response is only in S3 (the handler reads it with GetObject).
    s3_resident_rate: float = 0.2
    #: Share of AWS attempts that are slow: 0.5 s to 8 s, cut at the clients' per-attempt timeout.
    slow_attempt_rate: float = 0.05
    #: Share of handler calls that are slow, and how long they take (seconds).
    slow_handler_rate: float = 0.05
    slow_handler_seconds: tuple[float, float] = (4.0, 36.0)
    #: Share of handler calls that return close to the deadline: up to two margins before it, so the
    #: destinations, completion and failure writes after them meet the slow and failing attempts there.
    edge_handler_rate: float = 0.05
    seed: int = 7


@dataclass
class Accounting:
    mode: str
    notifications: int = 0
    good: int = 0
    poison: int = 0
    duplicates_sent: int = 0
    invocations: int = 0
    aws_attempts: int = 0
    faults_injected: int = 0
    faults_after_effect: int = 0
    slow_attempts: int = 0
    slow_handlers: int = 0
    edge_handlers: int = 0
    timeouts: int = 0
    deadline_refusals: int = 0
    handler_overruns: int = 0
    handlers_into_margin: int = 0
    attempts_near_deadline: int = 0
    faults_near_deadline: int = 0
    calls_cut_off: int = 0
    documented_repeats: int = 0
    lost: int = 0
    routed_twice: int = 0
    good_dead_lettered: int = 0
    poison_not_dead_lettered: int = 0
    unhandled: int = 0
    destination_duplicates: int = 0
    seconds: float = 0.0
    examples: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.routed_twice
            or self.good_dead_lettered
            or self.poison_not_dead_lettered
            or self.unhandled
        )


class SimClock:
    """Simulated epoch seconds: advanced by the driver, the AWS attempts, the handlers and the backoff.

    During an invocation, time is per context (a context variable): each record's thread runs in a
    copy of the invocation's context, so records of a batch spend their time side by side, as
    Lambda's threads do. ``deadline`` is the running invocation's (``None`` between invocations);
    ``latest`` the furthest any of its threads got. The invocation's own thread waits for its record
    threads until they are done or only twice the runtime's margin is left (``cutoff``, as the
    runtime does), whichever is first: its time is at least ``min(latest, cutoff)``.
    """

    def __init__(self, margin_seconds: float = 0.0) -> None:
        import contextvars

        from sagemaker_async_results.runtime.deadline import FRONTS_WAIT_MARGINS

        self.now = 1_800_000_000.0
        self.deadline: float | None = None
        self.latest = self.now
        self.margin = margin_seconds
        self._wait = FRONTS_WAIT_MARGINS * margin_seconds
        self._cutoff = self.now
        self._main: int | None = None
        self._here: contextvars.ContextVar[float | None] = contextvars.ContextVar("sim_now", default=None)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        here = self._here.get()
        if here is None:
            return self.now
        if threading.get_ident() == self._main:
            return max(here, min(self.latest, self._cutoff))
        return here

    def start(self, timeout_seconds: float) -> None:
        """An invocation starts now, in the caller's context (its thread is the invocation's own)."""
        self._here.set(self.now)
        self._main = threading.get_ident()
        self.latest = self.now
        self.deadline = self.now + timeout_seconds
        self._cutoff = self.deadline - self._wait

    def end(self) -> None:
        """The invocation ended: the driver's time moves to where it stopped (at most its deadline)."""
        assert self.deadline is not None
        self.now = min(self.latest, self.deadline)
        self._here.set(None)
        self.deadline = None

    def advance(self, seconds: float) -> None:
        if self._here.get() is None:
            self.now += seconds
            return
        later = self() + seconds
        self._here.set(later)
        with self._lock:
            self.latest = max(self.latest, later)

    def past_deadline(self) -> bool:
        return self.deadline is not None and self() >= self.deadline


def _margin(timeout_ms: int) -> float:
    """The runtime's default margin for an invocation of ``timeout_ms``."""
    from sagemaker_async_results.runtime.deadline import Deadline
    from sagemaker_async_results.runtime.testing import LambdaContext

    return Deadline(LambdaContext(timeout_ms=timeout_ms)).margin


def _sim_context(clock: SimClock) -> Any:
    """A Lambda context whose remaining time runs on the simulated clock."""
    from sagemaker_async_results.runtime.testing import LambdaContext

    class SimContext(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            deadline = clock.deadline
            return 0 if deadline is None else max(0, int((deadline - clock()) * 1000))

    return SimContext(timeout_ms=FUNCTION_TIMEOUT_MS)


class Chaos:
    """Fails attempts of the hooked clients at the botocore boundary, before or after moto applies them."""

    def __init__(self, config: SoakConfig, acct: Accounting, rng: random.Random, clock: SimClock) -> None:
        self._config = config
        self._acct = acct
        self._rng = rng
        self._clock = clock
        self._burst = 0
        self._lock = threading.Lock()
        self.enabled = True

    def install(self, client: Any) -> None:
        from moto.core.models import botocore_stubber

        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register_first("before-send", self._before_send)

    def _before_send(self, request: Any, event_name: str, **_: Any) -> Any:
        from botocore.exceptions import ReadTimeoutError
        from moto.core.models import botocore_stubber

        from sagemaker_async_results.runtime.deadline import ATTEMPT_SECONDS

        if self._clock.past_deadline():
            raise InvocationTimedOut("an AWS call after the deadline: never made")
        deadline = self._clock.deadline
        near = deadline is not None and deadline - self._clock() <= self._clock.margin
        with self._lock:
            self._acct.aws_attempts += 1
            self._acct.attempts_near_deadline += near
            latency = self._rng.uniform(0.005, 0.03)
            if self._rng.random() < self._config.slow_attempt_rate:
                latency = self._rng.uniform(0.5, 8.0)
                self._acct.slow_attempts += 1
            applies = self._rng.random() < self._config.after_effect_share
            fail = False
            if self.enabled:
                if self._burst > 0:
                    self._burst -= 1
                    fail = True
                elif self._rng.random() < self._config.burst_rate:
                    self._burst = self._config.burst_length - 1
                    fail = True
                else:
                    fail = self._rng.random() < self._config.fault_rate
            after = fail and self._rng.random() < self._config.after_effect_share
            throttle = self._rng.random() < 0.5
            if fail:
                self._acct.faults_injected += 1
                self._acct.faults_after_effect += after
                self._acct.faults_near_deadline += near
        self._clock.advance(min(latency, ATTEMPT_SECONDS))
        if self._clock.past_deadline():  # cut off in flight: it took effect or not
            with self._lock:
                self._acct.calls_cut_off += 1
            if applies:
                botocore_stubber(event_name, request)
            raise InvocationTimedOut("an AWS call in flight at the deadline")
        if latency >= ATTEMPT_SECONDS:  # the client gave up on the attempt (botocore retries it)
            if applies:
                botocore_stubber(event_name, request)
            raise ReadTimeoutError(endpoint_url=request.url)
        if not fail:
            return botocore_stubber(event_name, request)
        if after:
            botocore_stubber(event_name, request)  # applied; the answer is lost
        return _error_response(request, event_name, throttle=throttle)


def _error_response(request: Any, event_name: str, *, throttle: bool) -> Any:
    from botocore.awsrequest import AWSResponse
    from moto.core.botocore_stubber import MockRawResponse

    if ".s3." in event_name:
        code, status = ("SlowDown", 503) if throttle else ("InternalError", 500)
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>"
        return AWSResponse(request.url, status, {}, MockRawResponse(body))  # type: ignore[arg-type]
    code, status = ("ThrottlingException", 400) if throttle else ("InternalServerError", 500)
    body = json.dumps({"__type": f"com.amazonaws#{code}", "message": "injected"})
    headers = {"x-amzn-ErrorType": code, "x-amzn-query-error": f"{code};Sender"}
    return AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]


@dataclass
class Message:
    """One copy of a notification on its way to the function."""

    key: str  # the notification's key: inference ID (good, handler poison) or a poison ID
    body: str
    poison: bool
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receives: int = 0


def _notifications(config: SoakConfig, rng: random.Random, mode: str) -> list[Message]:
    from sagemaker_async_results.runtime.testing import notification, sns_envelope

    messages: list[Message] = []
    for i in range(config.count):
        inference_id = f"{mode}-{i}-{uuid.uuid4().hex[:8]}"
        roll = rng.random()
        if roll < config.poison_rate / 2:
            messages.append(Message(inference_id, "{not json", poison=True))
            continue
        poison = roll < config.poison_rate
        s3_resident = rng.random() < config.s3_resident_rate
        note = notification(
            inference_id=inference_id,
            output_location=f"{OUTPUTS}{inference_id}.out",
            body=None if s3_resident else {"i": i},
            custom_attributes="poison=yes" if poison else None,
        )
        body = json.dumps(sns_envelope(note)) if mode == "buffered" else json.dumps(note)
        messages.append(Message(inference_id, body, poison=poison))
    return messages


class Soak:
    """One mode's run: moto, the app with chaos on its clients, the delivery simulation, the accounting."""

    def __init__(self, mode: str, config: SoakConfig) -> None:
        self.mode = mode
        self.config = config
        self.rng = random.Random(f"{config.seed}-{mode}")
        self.acct = Accounting(mode)
        self.clock = SimClock(margin_seconds=_margin(FUNCTION_TIMEOUT_MS))
        self.handled: Counter[tuple[str, str]] = Counter()
        #: Results whose handler returned with less than the margin left, or was cut off by the
        #: deadline: it ate the time kept for recording it (a repeat of theirs is the documented case).
        self.overran: set[tuple[str, str]] = set()
        self.dead: list[Message] = []
        self._lock = threading.Lock()

    def run(self) -> Accounting:
        import boto3
        from moto import mock_aws

        started = time.perf_counter()
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET)
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            dynamodb.create_table(
                TableName=TABLE,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            sqs = boto3.client("sqs", region_name="us-east-1")
            self.results_url = sqs.create_queue(QueueName="results")["QueueUrl"]
            messages = _notifications(self.config, self.rng, self.mode)
            for m in messages:
                if not m.poison and m.body.find('"responseBody"') < 0:
                    s3.put_object(Bucket=BUCKET, Key=f"out/{m.key}.out", Body=b'{"s3": true}')
            self.app = self._app()
            deliveries = list(messages)
            for m in messages:
                if self.rng.random() < self.config.duplicate_rate:
                    deliveries.append(Message(m.key, m.body, m.poison))
                    self.acct.duplicates_sent += 1
            # duplicates arrive anywhere later than (or next to) their original
            self.rng.shuffle(deliveries)
            self.acct.notifications = len(messages)
            self.acct.poison = sum(m.poison for m in messages)
            self.acct.good = len(messages) - self.acct.poison
            if self.mode == "buffered":
                self._buffered(deliveries)
            else:
                self._direct(deliveries)
            self._account(messages, dynamodb, sqs)
        self.acct.seconds = round(time.perf_counter() - started, 1)
        return self.acct

    # -- the function -----------------------------------------------------------------------------
    def _app(self) -> Any:
        from sagemaker_async_results.runtime.app import ResultsApp
        from sagemaker_async_results.runtime.clients import Clients
        from sagemaker_async_results.runtime.errors import ResultError
        from sagemaker_async_results.runtime.router import Router
        from sagemaker_async_results.runtime.settings import S3Prefix, Settings

        router = Router()

        @router.on_result(name="soakHandler")
        def handle(result: Any) -> None:
            if self.clock.past_deadline():
                raise InvocationTimedOut("a handler after the deadline: never started")
            if result.attributes.get("poison"):
                raise RuntimeError("poison: this result's handler always fails")
            result.body()  # inline, or GetObject of an S3-resident response
            with self._lock:
                roll = self.rng.random()
                slow = roll < self.config.slow_handler_rate
                edge = not slow and roll < self.config.slow_handler_rate + self.config.edge_handler_rate
                seconds = self.rng.uniform(*self.config.slow_handler_seconds) if slow else 0.05
                if edge and self.clock.deadline is not None:
                    ends_before = self.rng.uniform(0, 2 * self.clock.margin)
                    seconds = max(0.05, self.clock.deadline - ends_before - self.clock())
                self.acct.slow_handlers += slow
                self.acct.edge_handlers += edge
            self.clock.advance(seconds)
            key = (result.inference_id, result.status)
            left = self.clock.deadline - self.clock() if self.clock.deadline is not None else math.inf
            with self._lock:
                self.handled[key] += 1  # its effect (when cut off: the worst case, it had it)
                if left < self.clock.margin:  # it ate the time kept for recording it
                    self.acct.handlers_into_margin += 1
                    self.overran.add(key)
                if left <= 0:
                    self.acct.handler_overruns += 1
            if self.clock.past_deadline():
                raise InvocationTimedOut("a handler running at the deadline")

        chaos = Chaos(self.config, self.acct, self.rng, self.clock)
        clients = Clients(region_name="us-east-1")
        for service in ("dynamodb", "sqs", "s3"):
            chaos.install(clients.client(service))
        self.chaos = chaos
        settings = Settings(
            readable_locations=(S3Prefix.parse(OUTPUTS),),
            results_table=TABLE,
            environment={"RESULTS_QUEUE_URL": self.results_url},
        )
        acct = self.acct

        class SoakApp(ResultsApp):
            def process_batch(
                self, extracts: Sequence[Any], context: Any = None, *, concurrent: bool = True
            ) -> list[Any]:
                outcomes = super().process_batch(extracts, context, concurrent=concurrent)
                for outcome in outcomes:
                    if isinstance(outcome, ResultError) and outcome.reason == "DeadlineReached":
                        acct.deadline_refusals += 1
                    if isinstance(outcome, ResultError) and outcome.reason == ResultError.reason:
                        acct.unhandled += 1
                        if len(acct.examples) < 5:
                            acct.examples.append(f"unexpected record error: {outcome}")
                return outcomes

        app = SoakApp(settings=settings, clients=clients, routers=[router])
        assert app.record_guard is not None
        app.record_guard._clock = self.clock  # lock expiry follows the simulated clock
        return app

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any] | BaseException:
        from sagemaker_async_results.runtime.errors import ResultError

        self.acct.invocations += 1
        self.clock.start(FUNCTION_TIMEOUT_MS / 1000)
        try:
            return dict(self.app(event, _sim_context(self.clock)))
        except ResultError as err:  # direct mode's way of failing: Lambda retries the event
            return err
        except InvocationTimedOut as timed_out:
            self.acct.timeouts += 1
            # Lambda ends the environment: the record threads still running stop at their next
            # step (the clock is past the deadline); wait for them before the next invocation.
            pool = self.app.lifecycle._pool
            if pool is not None:
                pool.shutdown(wait=True)
                self.app.lifecycle._pool = None
            return timed_out
        except BaseException as exc:
            self.acct.unhandled += 1
            if len(self.acct.examples) < 5:
                self.acct.examples.append(f"unhandled {type(exc).__name__}: {exc}")
            return exc
        finally:
            self.clock.end()

    # -- delivery ---------------------------------------------------------------------------------
    def _buffered(self, deliveries: list[Message]) -> None:
        """An SQS queue with a visibility timeout and a redrive policy, polled in batches of 10."""
        # (visible_at, order, message): a min-heap of the queue
        queue = [(self.clock.now, i, m) for i, m in enumerate(deliveries)]
        heapq.heapify(queue)
        order = len(queue)
        while queue:
            if queue[0][0] > self.clock.now:
                self.clock.now = queue[0][0]
            batch: list[Message] = []
            while queue and queue[0][0] <= self.clock.now and len(batch) < 10:
                batch.append(heapq.heappop(queue)[2])
            for m in batch:
                m.receives += 1
            event = {
                "Records": [
                    {"messageId": m.message_id, "body": m.body, "eventSource": "aws:sqs", "attributes": {}}
                    for m in batch
                ]
            }
            response = self._invoke(event)
            if isinstance(response, BaseException):
                failed = {m.message_id for m in batch}
            else:
                failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
                if "" in failed:
                    failed = {m.message_id for m in batch}
            self.clock.now += 1
            for m in batch:
                if m.message_id not in failed:
                    continue
                if m.receives >= MAX_RECEIVE_COUNT:
                    self.dead.append(m)
                else:
                    order += 1
                    heapq.heappush(queue, (self.clock.now + VISIBILITY_TIMEOUT, order, m))

    def _direct(self, deliveries: list[Message]) -> None:
        """Lambda's asynchronous invocation of an SNS event: two retries, then the on-failure destination."""
        from sagemaker_async_results.runtime.testing import sns_event

        queue = [(self.clock.now, i, 0, m) for i, m in enumerate(deliveries)]
        heapq.heapify(queue)
        order = len(queue)
        while queue:
            at, _, attempt, m = heapq.heappop(queue)
            self.clock.now = max(self.clock.now, at)
            if m.body.startswith("{not"):
                event: dict[str, Any] = {
                    "Records": [
                        {"EventSource": "aws:sns", "Sns": {"Message": m.body, "MessageId": m.message_id}}
                    ]
                }
            else:
                event = sns_event([json.loads(m.body)])
            response = self._invoke(event)
            self.clock.now += 1
            if not isinstance(response, BaseException):
                continue
            if attempt >= len(ASYNC_RETRY_DELAYS):
                self.dead.append(m)
            else:
                order += 1
                heapq.heappush(queue, (self.clock.now + ASYNC_RETRY_DELAYS[attempt], order, attempt + 1, m))

    # -- accounting -------------------------------------------------------------------------------
    def _account(self, messages: list[Message], dynamodb: Any, sqs: Any) -> None:
        acct = self.acct
        sent: Counter[str] = Counter()
        while True:
            batch = sqs.receive_message(QueueUrl=self.results_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                break
            for message in batch:
                sent[json.loads(message["Body"])["inferenceId"]] += 1
                sqs.delete_message(QueueUrl=self.results_url, ReceiptHandle=message["ReceiptHandle"])
        dead_keys = Counter(m.key for m in self.dead)
        for m in messages:
            if m.poison:
                if not dead_keys[m.key]:
                    acct.poison_not_dead_lettered += 1
                continue
            if dead_keys[m.key]:
                acct.good_dead_lettered += dead_keys[m.key]
            handled = self.handled[(m.key, "Completed")]
            item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"result#{m.key}"}}).get("Item", {})
            routing = item.get("routing", {}).get("S")
            if handled == 0 or routing != "Routed" or sent[m.key] == 0:
                acct.lost += 1
                if len(acct.examples) < 5:
                    acct.examples.append(
                        f"lost {m.key}: handled={handled} routing={routing} sent={sent[m.key]}"
                    )
            if handled > 1 and (m.key, "Completed") in self.overran:
                acct.documented_repeats += 1
            elif handled > 1:
                acct.routed_twice += 1
                if len(acct.examples) < 5:
                    acct.examples.append(f"routed twice {m.key}: handled={handled}")
            if sent[m.key] > 1:
                acct.destination_duplicates += 1


#: Notifications per round: each round has a fresh emulator, so memory stays flat however long the soak.
ROUND_SIZE = 1000
_DEVNULL: Any = None


def _merge(mode: str, rounds: Sequence[Accounting]) -> Accounting:
    total = Accounting(mode)
    for acct in rounds:
        for name, value in asdict(acct).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                setattr(total, name, round(getattr(total, name) + value, 1))
        total.examples.extend(acct.examples[: 5 - len(total.examples)])
    return total


def run(config: SoakConfig, modes: Sequence[str] = MODES) -> list[Accounting]:
    """Run every mode in rounds of :data:`ROUND_SIZE`; the runtime's logs go to /dev/null."""
    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Soak")
    from sagemaker_async_results.runtime import deadline

    original_sleep = deadline.sleep
    global _DEVNULL
    if _DEVNULL is None:  # kept open: Powertools' logger keeps the stream it found at its creation
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115
    stdout = sys.stdout
    try:
        sys.stdout = _DEVNULL
        results = []
        for mode in modes:
            rounds = []
            for start in range(0, config.count, ROUND_SIZE):
                part = replace(config, count=min(ROUND_SIZE, config.count - start), seed=config.seed + start)
                soak = Soak(mode, part)
                deadline.sleep = soak.clock.advance  # botocore's backoff, in simulated time
                rounds.append(soak.run())
            results.append(_merge(mode, rounds))
        return results
    finally:
        sys.stdout = stdout
        deadline.sleep = original_sleep


TABLE_COLUMNS = (
    ("notifications", "notifications"),
    ("good", "good"),
    ("poison", "poison"),
    ("duplicates_sent", "duplicates sent"),
    ("invocations", "invocations"),
    ("aws_attempts", "AWS attempts"),
    ("faults_injected", "faults injected"),
    ("faults_after_effect", "of them after effect"),
    ("slow_attempts", "slow AWS attempts"),
    ("slow_handlers", "slow handler calls (4-36 s)"),
    ("edge_handlers", "handler calls returning within two margins of the deadline"),
    ("timeouts", "invocations stopped at the deadline"),
    ("deadline_refusals", "records left to the retry by the deadline margin"),
    ("attempts_near_deadline", "AWS attempts within the margin of the deadline"),
    ("faults_near_deadline", "of them failed"),
    ("calls_cut_off", "AWS calls cut off in flight by the deadline"),
    ("handlers_into_margin", "handler calls that ran into the margin (ended with less left)"),
    ("handler_overruns", "of them cut off by the deadline"),
    ("documented_repeats", "repeats after a handler ran into the margin (documented)"),
    ("lost", "**lost**"),
    ("routed_twice", "**routed twice**"),
    ("good_dead_lettered", "**good dead-lettered**"),
    ("poison_not_dead_lettered", "**poison not dead-lettered**"),
    ("unhandled", "**unhandled exceptions**"),
    ("destination_duplicates", "results-queue duplicates (at-least-once, informative)"),
    ("seconds", "seconds"),
)


def table(results: Sequence[Accounting]) -> str:
    lines = ["| | " + " | ".join(r.mode for r in results) + " |", "|---|" + "---|" * len(results)]
    for attr, label in TABLE_COLUMNS:
        lines.append(f"| {label} | " + " | ".join(str(getattr(r, attr)) for r in results) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="notifications per mode")
    parser.add_argument("--fault-rate", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--json", help="also write the accounting here")
    args = parser.parse_args(argv)
    config = SoakConfig(count=args.count, fault_rate=args.fault_rate, seed=args.seed)
    results = run(config, args.modes)
    bad = sum(
        r.lost + r.routed_twice + r.good_dead_lettered + r.poison_not_dead_lettered + r.unhandled
        for r in results
    )
    print(table(results))
    for r in results:
        for example in r.examples:
            print(f"{r.mode}: {example}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"config": asdict(config), "results": [asdict(r) for r in results]}, out, indent=2)
    print(
        f"\nsoak: {bad} bad outcomes in {sum(r.notifications for r in results)} notifications "
        f"({'all targets met' if bad == 0 else 'TARGET MISSED'})"
    )
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
