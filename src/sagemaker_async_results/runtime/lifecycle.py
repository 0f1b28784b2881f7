"""The record lifecycle: what happens to the records of one event, from their messages to their outcomes.

Per record (the records of an SQS batch concurrently, ``BATCH_CONCURRENCY``):

1. parse and validate the message (a ``TestNotification`` is acknowledged and ignored); the
   payload's location is checked against ``READABLE_LOCATIONS`` (no S3 call): a refused location
   or a ``Completed`` notification without output fails the record before anything is written;
2. **exactly-once claim** (:mod:`~sagemaker_async_results.runtime.record_guard`): one conditional
   ``UpdateItem`` takes the lock and, with the result store on (the default), stores the result
   record with ``routing = InProgress``; without it, the lock lives on a lock record. The claim
   says: go on (skipping the steps a failed earlier attempt completed), ``duplicate`` (routed
   already), or another attempt holds it (the record fails and is retried later). Two copies of
   one result in one batch: the second waits for the first and takes its outcome;
3. **payload check** (``PAYLOAD_CHECK``): ``lazy`` (default) reads nothing here, the payload is
   read when a handler asks for it; ``head`` checks that an S3-resident object exists (``HeadObject``);
4. **user handlers** (and any other before-handlers destination).

Then, for the records of the event that got through step 4, together:

5. **notify-once destinations**, one destination after the other, each with its batch API where it
   has one (SQS ``SendMessageBatch``, EventBridge ``PutEvents``, Kinesis ``PutRecords``); an entry
   the service refused fails only its own record;
6. **completion**: ``routing = Routed`` with ``routedTo`` and the lock completed, for the whole
   batch in one ``TransactWriteItems`` (one ``UpdateItem`` for a lone record). A record never counts
   as routed before every one of its sends returned.

A step that raised writes ``routing = Failed`` with the error, the step's name and the steps that
completed, and gives the lock up so the retry can route.

Deadline (:mod:`~sagemaker_async_results.runtime.deadline`): with a Lambda context, a margin of the
invocation's time is kept for steps 6 and the failure write. No record is claimed and no step (payload
check, handler, destination) is started with the margin or less left: the record fails with
``DeadlineReached`` after recording what completed, and the retry resumes from there. AWS retries
during the steps stop before the margin; the final writes retry until just before the deadline. A
handler that itself runs into the margin (past the deadline, or returning with too little time for
the write after it to land) is the one case where a step can run twice.

Handler error policy: an exception from a user handler goes to the exception handler registered
for its class, if any (returning normally marks it handled, and the handler counts as completed);
otherwise it fails the record as ``HandlerFailed`` (a structured error the handler raised, such as
``UndecodableContent``, keeps its reason). Every failure is logged once, structured, counted in the
``RecordErrors`` metric, and returned as a :class:`~sagemaker_async_results.runtime.errors.ResultError`.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from sagemaker_async_results.contract import (
    ROUTED_TO_ATTRIBUTE,
    ROUTING_ATTRIBUTE,
    ROUTING_IN_PROGRESS,
    result_key,
)
from sagemaker_async_results.runtime import deadline as deadlines
from sagemaker_async_results.runtime.deadline import Deadline
from sagemaker_async_results.runtime.envelopes import parse_message
from sagemaker_async_results.runtime.errors import (
    DeadlineReachedError,
    DestinationError,
    DuplicateInProgressError,
    HandlerError,
    PayloadNotFoundError,
    ResultError,
)
from sagemaker_async_results.runtime.models import InferenceResultNotification, TestNotification
from sagemaker_async_results.runtime.observability import emit, logger, tracer
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload, decode_inline
from sagemaker_async_results.runtime.record_guard import AlreadyRouted, Lock, lock_seconds
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Route

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sagemaker_async_results.runtime.destinations import Destination, ResultStore
    from sagemaker_async_results.runtime.record_guard import RecordGuard
    from sagemaker_async_results.runtime.router import Router
    from sagemaker_async_results.runtime.settings import Settings

#: Fields of a TestNotification worth logging (its extra fields are the sender's, of any size).
DECLARED_TEST_FIELDS = {"event_name", "event_source", "event_version"}
#: Step name in ``routingError.handler`` when the ``head`` payload check failed.
PAYLOAD_CHECK_STEP = "payloadCheck"
_LOG_KEYS = ["correlation_id", "inference_id", "endpoint_name", "status"]
_T = TypeVar("_T")  # pragma: no mutate (a type variable: only the type checker reads it)
_R = TypeVar("_R")  # pragma: no mutate (a type variable: only the type checker reads it)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one record (returned by direct-mode invocations, useful in tests)."""

    inference_id: str | None
    outcome: Literal["routed", "duplicate", "test"]
    #: What ran to completion (``routed``), or what the earlier attempt reported (``duplicate``).
    routed_to: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"inferenceId": self.inference_id, "outcome": self.outcome, "routedTo": self.routed_to}


@dataclass(slots=True)
class _Routing:
    """A record whose handlers returned, waiting for the batch's notify-once destinations."""

    result: InferenceResult
    lock: Lock | None
    routed_to: list[str]


@dataclass(frozen=True, slots=True)
class _Stopped:
    """A record's front that raised a BaseException: reported as ``error``, ``exc`` raised after the batch."""

    exc: BaseException
    error: ResultError


#: A record whose steps ended after the batch stopped waiting for it: it finishes alone.
_BEHIND = object()


@dataclass(frozen=True, slots=True)
class _Copy:
    """A second copy of a result earlier in the same batch: it takes that copy's outcome."""

    leader: int
    result: InferenceResult


class RecordLifecycle:
    """Routes the records of one event (safe to call from several threads at once).

    Parameters
    ----------
    settings
        Payload limit, payload check, metrics namespace, batch concurrency.
    router
        The merged router of every plugin.
    before, after
        Destinations that run before and after the user handlers.
    locations
        Guard applied before any S3 read.
    s3_client
        Callable returning the S3 client (called only when a payload is in S3).
    record_guard
        The exactly-once guard; ``None`` without a results table (duplicates are routed again).
    store
        The result store, whose record the claim writes (with a guard; without one, it is an
        ordinary step); ``None`` when it is off.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        router: Router,
        before: Sequence[Destination],
        after: Sequence[Destination],
        locations: LocationGuard,
        s3_client: Callable[[], S3Client],
        record_guard: RecordGuard | None = None,
        store: ResultStore | None = None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.before = before
        self.after = after
        self.locations = locations
        self._s3_client = s3_client
        self.record_guard = record_guard
        self.store = store if record_guard is not None else None
        self._pool: ThreadPoolExecutor | None = None  # pragma: no mutate (annotation only)
        self._pool_lock = threading.Lock()

    # -- the event ------------------------------------------------------------------------------
    def process(self, extract: Callable[[], Any], context: Any = None) -> Outcome:
        """Process one record; ``extract`` returns its message (raising on a bad envelope)."""
        (outcome,) = self.process_batch([extract], context)
        if isinstance(outcome, ResultError):
            raise outcome
        return outcome

    def process_batch(
        self, extracts: Sequence[Callable[[], Any]], context: Any = None, *, concurrent: bool = True
    ) -> list[Outcome | ResultError]:
        """Process the records of one event; returns one outcome or structured error per record, in order."""
        deadline = Deadline(context, self.settings.deadline_margin_seconds)
        if not deadline.known:  # no Lambda context: botocore's retries as they are, no step refused
            return self._process_batch(extracts, context, deadline, concurrent=concurrent)
        with deadlines.steps(deadline):
            return self._process_batch(extracts, context, deadline, concurrent=concurrent)

    def _process_batch(
        self, extracts: Sequence[Callable[[], Any]], context: Any, deadline: Deadline, *, concurrent: bool
    ) -> list[Outcome | ResultError]:
        leaders: dict[tuple[str, str], int] = {}
        leaders_lock = threading.Lock()

        def front(item: tuple[int, Callable[[], Any]]) -> Outcome | ResultError | _Routing | _Copy:
            index, extract = item
            return self._front(index, extract, context, deadline, leaders, leaders_lock)

        items = list(enumerate(extracts))
        late: list[Future[Any]] = []
        if deadline.known and concurrent and min(self.settings.batch_concurrency, len(items)) > 1:
            fronts, late = self._fronts_until_margin(front, items, deadline)
        else:
            fronts = self._map(front, items, concurrent=concurrent)
        stopped = next((f.exc for f in fronts if isinstance(f, _Stopped)), None)
        fronts = [f.error if isinstance(f, _Stopped) else f for f in fronts]
        routing = [(i, f) for i, f in enumerate(fronts) if isinstance(f, _Routing)]
        finished = self._finish([f for _, f in routing], deadline, concurrent=concurrent)
        outcomes = list(fronts)
        for (index, _), done in zip(routing, finished, strict=True):  # pragma: no mutate (equal lengths)
            outcomes[index] = done
        if late:  # they record what they completed themselves: give them until the deadline
            wait(late, timeout=max(0.0, deadline.remaining() - deadlines.FINAL_RESERVE_SECONDS))
        if stopped is not None:  # the others are finished and recorded: now the invocation stops
            raise stopped
        return [self._copy_outcome(o, outcomes) if isinstance(o, _Copy) else o for o in outcomes]

    def _fronts_until_margin(
        self,
        front: Callable[[tuple[int, Callable[[], Any]]], Any],
        items: list[tuple[int, Any]],
        deadline: Deadline,
    ) -> tuple[list[Any], list[Future[Any]]]:
        """The records' fronts, concurrently, waited for until twice the margin is left (at most).

        The records whose handlers returned by then are finished together (destinations in the
        first margin, completion in the second) without waiting for a slower one: a handler running
        past the deadline must not take the others' completion down with it. A record whose steps
        end later (by the invocation's clock, as its own thread sees it) is reported failed
        (``DeadlineReached``, so the batch's response does not wait for it) and finishes alone on its
        thread: its destinations if more than the margin is left, then its completion, or the failure
        with what completed; its redelivery is then a duplicate, or resumes. The invocation returns
        once those are done, or just before the deadline. A front stopped by a BaseException (e.g.
        ``KeyboardInterrupt``) is returned as :class:`_Stopped`: the others are finished before it is
        raised.
        """
        done: dict[int, Any] = {}
        changed = threading.Condition()
        cut = False  # pragma: no mutate (set below before any read that matters)
        wait_until = deadlines.FRONTS_WAIT_MARGINS * deadline.margin

        def run(item: tuple[int, Callable[[], Any]]) -> None:
            index = item[0]
            try:
                outcome = front(item)
            except BaseException as exc:
                outcome = _Stopped(
                    exc, ResultError("interrupted", received=repr(exc), expected="the step returns")
                )
            behind = isinstance(outcome, _Routing) and deadline.remaining() <= wait_until
            with changed:
                if not cut:
                    done[index] = _BEHIND if behind else outcome
                    changed.notify_all()
                    if not behind:
                        return
            if isinstance(outcome, _Routing):  # the batch is finished without it: it finishes alone
                self._finish([outcome], deadline, concurrent=False)
            elif isinstance(outcome, _Stopped):
                raise outcome.exc

        pool = self._get_pool()
        futures = [pool.submit(contextvars.copy_context().run, run, item) for item in items]
        with changed:
            while len(done) < len(items):
                left = deadline.remaining() - wait_until
                if left <= 0:
                    break
                changed.wait(timeout=left)
            cut = True
            ready = dict(done)
        fronts: list[Any] = []
        late: list[Future[Any]] = []
        for (index, _), future in zip(items, futures, strict=True):  # pragma: no mutate (equal lengths)
            if index in ready and ready[index] is not _BEHIND:
                fronts.append(ready[index])
                continue
            late.append(future)
            fronts.append(
                self._failed(
                    DeadlineReachedError(
                        "the record's steps were still running when the batch was finished: "
                        "it finishes alone, or is retried",
                        received={"remainingSeconds": round(deadline.remaining(), 3)},
                        expected=f"the steps end with more than {wait_until:.3f} s left",
                    ),
                    None,
                    "",
                )
            )
        return fronts, late

    def build_result(self, notification: InferenceResultNotification) -> InferenceResult:
        """The result object for a notification (nothing is read yet)."""
        inline: bytes | None = None  # pragma: no mutate (annotation only)
        body = notification.response_body
        if body is not None and body.content is not None:
            inline = decode_inline(body.content, body.encoding, inference_id=notification.inference_id)
        rp = notification.response_parameters
        if notification.invocation_status == "Completed":
            location = rp.output_location if rp else None
        else:
            location = rp.failure_location if rp else None
        payload = Payload(
            inline=inline,
            location=location,
            guard=self.locations,
            s3_client=self._s3_client,
            max_bytes=self.settings.max_payload_bytes,
            inference_id=notification.inference_id,
        )
        return InferenceResult(notification, payload)

    # -- one record, up to its handlers ----------------------------------------------------------
    def _front(
        self,
        index: int,
        extract: Callable[[], Any],
        context: Any,
        deadline: Deadline,
        leaders: dict[tuple[str, str], int],
        leaders_lock: threading.Lock,
    ) -> Outcome | ResultError | _Routing | _Copy:
        inference_id: str | None = None  # pragma: no mutate (annotation only)
        endpoint = ""
        try:
            notification = parse_message(extract())
            if isinstance(notification, TestNotification):
                logger.info(  # declared fields only: extra ones are whatever the sender put there
                    "test notification acknowledged and ignored",
                    extra={
                        "notification": notification.model_dump(by_alias=True, include=DECLARED_TEST_FIELDS)
                    },
                )
                self._emit({}, {"TestNotifications": (1, MetricUnit.Count)})
                return Outcome(None, "test")
            inference_id = notification.inference_id
            endpoint = notification.request_parameters.endpoint_name or ""
            # Thread-local keys: records of a batch may be processed concurrently.
            logger.thread_safe_append_keys(
                correlation_id=inference_id,
                inference_id=inference_id,
                endpoint_name=endpoint,
                status=notification.invocation_status,
            )
            result = self.build_result(notification)
            if self.record_guard is not None:
                with leaders_lock:
                    leader = leaders.setdefault((result.inference_id, result.status), index)
                if leader != index:
                    return _Copy(leader, result)
            self._check_reference(result)
            return self._claim_and_handle(result, context, deadline)
        except ResultError as err:
            return self._failed(err, inference_id, endpoint)
        except Exception as exc:
            return self._unexpected(exc, inference_id, endpoint)
        finally:
            logger.thread_safe_remove_keys(_LOG_KEYS)

    def _check_reference(self, result: InferenceResult) -> None:
        """What needs no AWS call: an allowed location, and an output for a Completed result."""
        if result.has_payload:
            if not result.payload.is_inline and result.payload.location is not None:
                self.locations.check(result.payload.location, inference_id=result.inference_id)
        elif result.succeeded:
            raise PayloadNotFoundError(
                "a Completed notification without output",
                received="no responseBody and no responseParameters.outputLocation",
                expected="responseParameters.outputLocation or an inline responseBody",
                inference_id=result.inference_id,
            )

    # X-Ray only (off outside Lambda); capture_response=False keeps result payloads out of traces.
    @tracer.capture_method(capture_response=False)  # pragma: no mutate (not observable without X-Ray)
    def _claim_and_handle(
        self, result: InferenceResult, context: Any, deadline: Deadline
    ) -> Outcome | _Routing:
        routed_to: list[str] = []
        claim: Lock | AlreadyRouted | None = None  # pragma: no mutate (annotation only)
        deadline.check("claim", inference_id=result.inference_id)  # nothing written yet: just retried
        seconds = lock_seconds(context)
        if self.record_guard is not None:
            values = None
            if self.store is not None:  # the claim stores the result record
                values = self.store.attribute_values(result, result.to_record())
                routed_to.append(self.store.name)
            claim = self.record_guard.claim(
                result.inference_id, result.status, values, lock_seconds=seconds, routed_to=routed_to
            )
        if isinstance(claim, AlreadyRouted):
            logger.info(
                "duplicate notification: already routed, skipped", extra={"routed_to": claim.routed_to}
            )
            outcome = Outcome(result.inference_id, "duplicate", claim.routed_to)
            self._emit_result_metrics(result, outcome)
            return outcome
        if isinstance(claim, Lock) and claim.key == result_key(result.inference_id):
            result.submitted = claim.item  # the claim returned the request's record: no second read
        routing = _Routing(result, claim, routed_to)
        resume = set(claim.resume) if isinstance(claim, Lock) else set()
        if resume:
            logger.info(
                "an earlier attempt failed: steps it completed are not run again",
                extra={"resume": sorted(resume)},
            )
        step = PAYLOAD_CHECK_STEP
        try:
            if self.settings.payload_check == "head" and result.has_payload:
                deadline.check(step, inference_id=result.inference_id)
                result.size()  # HeadObject: the object exists (and its size), no body read
            routes = self.router.resolve(result)
            if not routes:
                logger.info("no user handler matches this result (not an error)")
            steps: list[Destination | Route] = [  # pragma: no mutate (annotation only)
                *(d for d in self.before if d.applies(result) and d is not self.store),
                *routes,
            ]
            for current in steps:
                step = current.name
                if step in resume:
                    routing.routed_to.append(step)
                    continue
                deadline.check(step, inference_id=result.inference_id)
                if isinstance(current, Route):
                    self._run_handler(current, result)
                else:
                    error = self._send_one(current, result, routing.routed_to)
                    if error is not None:
                        raise error
                routing.routed_to.append(current.name)
        except BaseException as exc:
            error = exc if isinstance(exc, ResultError) else None
            self._abandon(routing, error, step)
            raise
        return routing

    # -- the batch, after its handlers ----------------------------------------------------------
    def _finish(
        self, routings: list[_Routing], deadline: Deadline, *, concurrent: bool
    ) -> list[Outcome | ResultError]:
        """Notify-once destinations and completion for every record that got through its handlers."""
        errors: dict[int, ResultError] = {}
        for destination in self.after:
            group: list[int] = []
            for i, routing in enumerate(routings):
                if i in errors:
                    continue
                if routing.lock is not None and destination.name in routing.lock.resume:
                    routing.routed_to.append(destination.name)
                    continue
                try:
                    if destination.applies(routing.result):
                        group.append(i)
                except Exception as exc:
                    errors[i] = self._destination_error(destination, routing.result, exc)
                    self._abandon(routing, errors[i], destination.name)
            if not group:
                continue
            try:
                deadline.check(destination.name, inference_id=None)
            except ResultError as late:
                for i in group:
                    errors[i] = _for_record(late, routings[i].result)
                    self._abandon(routings[i], errors[i], destination.name)
                continue
            sent = self._send_many(destination, [routings[i] for i in group], concurrent=concurrent)
            for i, error in zip(group, sent, strict=True):  # pragma: no mutate (equal lengths)
                if error is None:
                    routings[i].routed_to.append(destination.name)
                else:
                    errors[i] = error
                    self._abandon(routings[i], error, destination.name)
        done = [routing for i, routing in enumerate(routings) if i not in errors]
        self._complete(done)
        outcomes: list[Outcome | ResultError] = []  # pragma: no mutate (annotation only)
        for i, routing in enumerate(routings):
            result = routing.result
            with _record_keys(result):
                if i in errors:
                    outcomes.append(self._failed(errors[i], result.inference_id, result.endpoint_name))
                    continue
                logger.info("result routed", extra={"routed_to": routing.routed_to})
                outcome = Outcome(result.inference_id, "routed", routing.routed_to)
                self._emit_result_metrics(result, outcome)
                outcomes.append(outcome)
        return outcomes

    def _complete(self, done: list[_Routing]) -> None:
        """Mark routed: never fails a record (everything ran; failing would run it all again)."""
        if self.record_guard is not None:
            with deadlines.final_writes():
                self.record_guard.complete_many([(r.lock, r.routed_to) for r in done if r.lock is not None])

    def _abandon(self, routing: _Routing, error: ResultError | None, step: str) -> None:
        """A step failed: record it and what completed, and give the lock up so the retry can route."""
        # The lock is None exactly when there is no guard: "and" would do the same.
        if self.record_guard is None or routing.lock is None:  # pragma: no mutate (see above)
            return
        if error is None:  # not a structured error (e.g. KeyboardInterrupt): still give the lock up
            error = ResultError("interrupted", received=step, expected="the step returns")
        with deadlines.final_writes():
            self.record_guard.fail(routing.lock, routing.routed_to, error, step)

    def _copy_outcome(self, copy: _Copy, outcomes: Sequence[Any]) -> Outcome | ResultError:
        leader = outcomes[copy.leader]
        result = copy.result
        with _record_keys(result):
            if isinstance(leader, Outcome):
                logger.info(
                    "duplicate notification: the same result earlier in this batch, skipped",
                    extra={"routed_to": leader.routed_to},
                )
                outcome = Outcome(result.inference_id, "duplicate", list(leader.routed_to))
                self._emit_result_metrics(result, outcome)
                return outcome
            error = DuplicateInProgressError(
                "the same result earlier in this batch failed: this copy is retried with it",
                received={"failedWith": leader.reason},
                expected="the first copy of the result routed",
                inference_id=result.inference_id,
            )
            return self._failed(error, result.inference_id, result.endpoint_name)

    # -- destinations and handlers --------------------------------------------------------------
    def _send_many(
        self, destination: Destination, routings: list[_Routing], *, concurrent: bool
    ) -> list[ResultError | None]:
        """One destination for several records: its batch API when it has one, else one send each."""
        send_batch = getattr(destination, "send_batch", None)
        if send_batch is None or len(routings) == 1:
            return self._map(
                lambda r: self._send_one(destination, r.result, r.routed_to), routings, concurrent=concurrent
            )
        items = [(r.result, self._record(r.result, r.routed_to)) for r in routings]
        try:
            answers = send_batch(items)
        except Exception as exc:
            return [self._destination_error(destination, r.result, exc) for r in routings]
        return [
            a
            if a is None or isinstance(a, ResultError)
            else self._destination_error(destination, r.result, a)
            for a, r in zip(answers, routings, strict=True)  # pragma: no mutate (equal lengths)
        ]

    def _send_one(
        self, destination: Destination, result: InferenceResult, routed_to: list[str]
    ) -> ResultError | None:
        """One destination for one record; ``routedTo`` in the record it gets is what completed before it."""
        try:
            destination.send(result, self._record(result, routed_to))
        except Exception as exc:
            return self._destination_error(destination, result, exc)
        return None

    @staticmethod
    def _record(result: InferenceResult, routed_to: list[str]) -> dict[str, Any]:
        """The record a destination gets: routing is still under way (the client reads ``routing`` as
        ``InProgress`` and ``routedTo`` as what completed before this destination)."""
        return {
            **result.to_record(),
            ROUTED_TO_ATTRIBUTE: list(routed_to),
            ROUTING_ATTRIBUTE: ROUTING_IN_PROGRESS,
        }

    @staticmethod
    def _destination_error(destination: Destination, result: InferenceResult, exc: Any) -> ResultError:
        if isinstance(exc, ResultError):
            return exc
        error = DestinationError(
            f"destination {destination.name} raised {type(exc).__name__}: {exc}",
            received=repr(exc),
            expected="the destination returns normally or raises a structured error",
            inference_id=result.inference_id,
        )
        if isinstance(exc, BaseException):
            error.__cause__ = exc
        return error

    def _run_handler(self, route: Route, result: InferenceResult) -> None:
        try:
            route.handler(result)
        except Exception as exc:
            exception_handler = self.router.find_exception_handler(exc)
            if exception_handler is None:
                if isinstance(exc, ResultError):  # e.g. undecodable content, refused location
                    raise
                raise HandlerError(
                    f"handler {route.name} raised {type(exc).__name__}: {exc}",
                    received=repr(exc),
                    expected="the handler returns normally",
                    inference_id=result.inference_id,
                ) from exc
            try:
                exception_handler(exc, result)
            except Exception as again:
                raise HandlerError(
                    f"exception handler for {type(exc).__name__} raised {type(again).__name__}: {again}",
                    received=repr(again),
                    expected="the exception handler returns normally (or no exception)",
                    inference_id=result.inference_id,
                ) from again
            logger.warning(
                "handler error handled by exception handler",
                extra={"handler": route.name, "error_type": type(exc).__name__, "error": str(exc)},
            )

    # -- failures, metrics, threads -------------------------------------------------------------
    def _failed(self, err: ResultError, inference_id: str | None, endpoint: str) -> ResultError:
        err.inference_id = err.inference_id or inference_id
        logger.error(f"record failed: {err.message}", extra=err.to_log())
        self._emit({"endpointName": endpoint, "reason": err.reason}, {"RecordErrors": (1, MetricUnit.Count)})
        return err

    def _unexpected(self, exc: Exception, inference_id: str | None, endpoint: str) -> ResultError:
        unexpected = ResultError(
            f"unexpected {type(exc).__name__}: {exc}",
            received=repr(exc),
            expected="no unexpected error",
            inference_id=inference_id,
        )
        unexpected.__cause__ = exc
        logger.exception(f"record failed: {unexpected.message}", extra=unexpected.to_log())
        self._emit(
            {"endpointName": endpoint, "reason": unexpected.reason}, {"RecordErrors": (1, MetricUnit.Count)}
        )
        return unexpected

    def _emit_result_metrics(self, result: InferenceResult, outcome: Outcome) -> None:
        dimensions = {"endpointName": result.endpoint_name, "status": result.status}
        if outcome.outcome == "duplicate":
            self._emit(dimensions, {"Duplicates": (1, MetricUnit.Count)})
            return
        values: dict[str, tuple[float, MetricUnit]] = {"Results": (1, MetricUnit.Count)}
        if result.latency is not None:
            values["NotificationLatency"] = (result.latency.total_seconds() * 1000, MetricUnit.Milliseconds)
        if result.payload.known_size is not None:
            values["PayloadBytes"] = (result.payload.known_size, MetricUnit.Bytes)
        self._emit(dimensions, values)

    def _emit(self, dimensions: dict[str, str], values: dict[str, tuple[float, MetricUnit]]) -> None:
        """A metric never changes a record's outcome: it neither fails a routed one nor masks an error."""
        try:
            emit(self.settings.metrics_namespace, dimensions, values)
        except Exception:
            logger.exception("cannot emit metrics", extra={"metrics": list(values)})

    def _map(self, fn: Callable[[_T], _R], items: Sequence[_T], *, concurrent: bool) -> list[_R]:
        """``fn`` over ``items``, up to ``BATCH_CONCURRENCY`` at once when ``concurrent``."""
        if not concurrent or min(self.settings.batch_concurrency, len(items)) <= 1:
            return [fn(item) for item in items]
        pool = self._get_pool()
        # Each item in a copy of this thread's context: the deadline's budget goes with it.
        runs = [(contextvars.copy_context(), item) for item in items]
        return list(pool.map(lambda run: run[0].run(fn, run[1]), runs))

    def _get_pool(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.settings.batch_concurrency, thread_name_prefix="record")
            return self._pool


def _for_record(error: ResultError, result: InferenceResult) -> ResultError:
    """A copy of ``error`` naming ``result`` (one error per record: each is logged and reported alone)."""
    copy = type(error)(error.message, received=error.received, expected=error.expected)
    copy.inference_id = result.inference_id
    return copy


class _record_keys:
    """The record's log keys on this thread for a block (the batch steps run outside the record's thread)."""

    def __init__(self, result: InferenceResult) -> None:
        self._result = result

    def __enter__(self) -> None:
        logger.thread_safe_append_keys(
            correlation_id=self._result.inference_id,
            inference_id=self._result.inference_id,
            endpoint_name=self._result.endpoint_name,
            status=self._result.status,
        )

    def __exit__(self, *exc: object) -> None:
        logger.thread_safe_remove_keys(_LOG_KEYS)
