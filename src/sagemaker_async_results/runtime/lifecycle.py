"""The record lifecycle: what happens to one record, from its message to its outcome.

1. parse and validate the message (a ``TestNotification`` is acknowledged and ignored);
2. **exactly-once guard** (:mod:`~sagemaker_async_results.runtime.guard`): take the result's lock,
   or learn it was routed already (``duplicate``), or that another attempt holds it (the record
   fails and is retried later);
3. **payload check**: the location is allowed and the object exists (``HeadObject``, no body read);
4. **destinations before handlers** (the result store), then **user handlers**, then the
   **notify-once destinations**, each step recorded when it returns;
5. **routing state** on the result record (:mod:`~sagemaker_async_results.runtime.routing_state`):
   ``InProgress`` before step 4, ``Routed`` after it, ``Failed`` with the error and the step's name
   when a step raised; the lock is then completed, or released so the retry can route.

Handler error policy: an exception from a user handler goes to the exception handler registered
for its class, if any (returning normally marks it handled, and the handler counts as completed);
otherwise it fails the record as ``HandlerFailed`` (a structured error the handler raised, such as
``UndecodableContent``, keeps its reason). Every failure is logged once, structured, counted in the
``RecordErrors`` metric, and raised as a :class:`~sagemaker_async_results.runtime.errors.ResultError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from sagemaker_async_results.contract import ROUTED_TO_ATTRIBUTE
from sagemaker_async_results.runtime.envelopes import parse_message
from sagemaker_async_results.runtime.errors import (
    DestinationError,
    HandlerError,
    PayloadNotFoundError,
    ResultError,
)
from sagemaker_async_results.runtime.guard import AlreadyRouted, lock_seconds
from sagemaker_async_results.runtime.models import InferenceResultNotification, TestNotification
from sagemaker_async_results.runtime.observability import emit, logger, tracer
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload, decode_inline
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Route

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sagemaker_async_results.runtime.destinations import Destination
    from sagemaker_async_results.runtime.guard import ExactlyOnceGuard
    from sagemaker_async_results.runtime.router import Router
    from sagemaker_async_results.runtime.routing_state import RoutingState
    from sagemaker_async_results.runtime.settings import Settings

#: Fields of a TestNotification worth logging (its extra fields are the sender's, of any size).
DECLARED_TEST_FIELDS = {"event_name", "event_source", "event_version"}
_LOG_KEYS = ["correlation_id", "inference_id", "endpoint_name", "status"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one record (returned by direct-mode invocations, useful in tests)."""

    inference_id: str | None
    outcome: Literal["routed", "duplicate", "test"]
    #: What ran to completion (``routed``), or what the earlier attempt reported (``duplicate``).
    routed_to: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"inferenceId": self.inference_id, "outcome": self.outcome, "routedTo": self.routed_to}


class RecordLifecycle:
    """Routes one record at a time (safe to call from several threads at once).

    Parameters
    ----------
    settings
        Payload limit and metrics namespace.
    router
        The merged router of every plugin.
    before, after
        Destinations that run before and after the user handlers.
    locations
        Guard applied before any S3 read.
    s3_client
        Callable returning the S3 client (called only when a payload is in S3).
    exactly_once
        The exactly-once guard; ``None`` without a results table (duplicates are routed again).
    routing_state
        Writer of the result record's routing state; ``None`` unless the result store is active.
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
        exactly_once: ExactlyOnceGuard | None,
        routing_state: RoutingState | None,
    ) -> None:
        self.settings = settings
        self.router = router
        self.before = before
        self.after = after
        self.locations = locations
        self._s3_client = s3_client
        self.exactly_once = exactly_once
        self.routing_state = routing_state

    # -- one record -----------------------------------------------------------------------------
    def process(self, extract: Callable[[], Any], context: Any = None) -> Outcome:
        """Process one record; ``extract`` returns its message (raising on a bad envelope)."""
        inference_id: str | None = None
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
            outcome = self._route_once(result, context)
            self._emit_result_metrics(result, outcome)
            return outcome
        except ResultError as err:
            err.inference_id = err.inference_id or inference_id
            logger.error(f"record failed: {err.message}", extra=err.to_log())
            self._emit(
                {"endpointName": endpoint, "reason": err.reason}, {"RecordErrors": (1, MetricUnit.Count)}
            )
            raise
        except Exception as exc:
            unexpected = ResultError(
                f"unexpected {type(exc).__name__}: {exc}",
                received=repr(exc),
                expected="no unexpected error",
                inference_id=inference_id,
            )
            logger.exception(f"record failed: {unexpected.message}", extra=unexpected.to_log())
            self._emit(
                {"endpointName": endpoint, "reason": unexpected.reason},
                {"RecordErrors": (1, MetricUnit.Count)},
            )
            raise unexpected from exc
        finally:
            logger.thread_safe_remove_keys(_LOG_KEYS)

    def build_result(self, notification: InferenceResultNotification) -> InferenceResult:
        """The result object for a notification (nothing is read yet)."""
        inline: bytes | None = None
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

    # -- exactly once ---------------------------------------------------------------------------
    def _route_once(self, result: InferenceResult, context: Any) -> Outcome:
        if self.exactly_once is None:
            return Outcome(result.inference_id, "routed", self._route(result))
        claim = self.exactly_once.acquire(
            result.inference_id, result.status, lock_seconds=lock_seconds(context)
        )
        if isinstance(claim, AlreadyRouted):
            logger.info(
                "duplicate notification: already routed, skipped", extra={"routed_to": claim.routed_to}
            )
            return Outcome(result.inference_id, "duplicate", claim.routed_to)
        try:
            routed_to = self._route(result)
        except BaseException:
            self.exactly_once.release(claim)
            raise
        try:
            self.exactly_once.complete(claim, routed_to)
        except ResultError as err:
            # The result went everywhere: failing the record now would route it again once the lock
            # expires. Keep the outcome and say loudly that a later duplicate may be routed again.
            logger.error("routed, but the exactly-once lock was not completed", extra=err.to_log())
        return Outcome(result.inference_id, "routed", routed_to)

    # -- routing --------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def _route(self, result: InferenceResult) -> list[str]:
        """Payload check, then every step in order; returns the names of the steps that completed."""
        if result.has_payload:
            result.size()  # location guard + existence check (HeadObject), no body read
        elif result.succeeded:
            raise PayloadNotFoundError(
                "a Completed notification without output",
                received="no responseBody and no responseParameters.outputLocation",
                expected="responseParameters.outputLocation or an inline responseBody",
                inference_id=result.inference_id,
            )
        routes = self.router.resolve(result)
        if not routes:
            logger.info("no user handler matches this result (not an error)")
        steps: list[Destination | Route] = [
            *(d for d in self.before if d.applies(result)),
            *routes,
            *(d for d in self.after if d.applies(result)),
        ]
        routed_to: list[str] = []  # only what ran to completion
        if self.routing_state is not None:
            self.routing_state.in_progress(result.inference_id)
        for step in steps:
            try:
                if isinstance(step, Route):
                    self._run_handler(step, result)
                else:
                    self._send(step, result, routed_to)
            except ResultError as err:
                self._record_failure(result, routed_to, err, step.name)
                raise
            routed_to.append(step.name)
        if self.routing_state is not None:
            try:
                self.routing_state.routed(result.inference_id, routed_to)
            except ResultError as err:
                # Everything ran: failing the record would run it all again. The record keeps saying
                # InProgress; the log line says why.
                logger.error(
                    "routed, but the result record's routing state was not updated", extra=err.to_log()
                )
        logger.info("result routed", extra={"routed_to": routed_to})
        return routed_to

    def _send(self, destination: Destination, result: InferenceResult, routed_to: list[str]) -> None:
        """One destination; ``routedTo`` in the record it gets is what completed before it."""
        record = {**result.to_record(), ROUTED_TO_ATTRIBUTE: list(routed_to)}
        try:
            destination.send(result, record)
        except ResultError:
            raise
        except Exception as exc:
            raise DestinationError(
                f"destination {destination.name} raised {type(exc).__name__}: {exc}",
                received=repr(exc),
                expected="the destination returns normally or raises a structured error",
                inference_id=result.inference_id,
            ) from exc

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

    def _record_failure(
        self, result: InferenceResult, routed_to: list[str], err: ResultError, step: str
    ) -> None:
        if self.routing_state is None:
            return
        try:
            self.routing_state.failed(result.inference_id, routed_to, err, step)
        except ResultError as again:  # the record's own error is what gets reported
            logger.error("cannot record the routing failure on the result record", extra=again.to_log())

    # -- metrics --------------------------------------------------------------------------------
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
