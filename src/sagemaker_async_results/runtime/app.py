"""The resolver: :class:`ResultsApp` turns a Lambda event into routed results.

Per record: parse the envelope -> validate the notification -> (test notification: log, ignore)
-> exactly-once guard (:mod:`~sagemaker_async_results.runtime.guard`, key = inference ID + status)
-> check and stat the payload location -> routing state ``InProgress`` -> result store -> user
handlers -> notify-once destinations -> routing state ``Routed`` (or ``Failed`` with the error and
the step that raised; see :mod:`~sagemaker_async_results.runtime.routing_state`).

Failure behaviour follows the event shape (docs/ARCHITECTURE.md): an SQS event returns a partial
batch response (``batchItemFailures``, each failure named by its record's ``messageId``); an SNS
event or a bare notification raises after every record was tried, so Lambda retries and finally
sends the event to its on-failure destination.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from sagemaker_async_results.contract import ROUTED_TO_ATTRIBUTE
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import Destination, ResultStore, build_destinations
from sagemaker_async_results.runtime.envelopes import (
    detect,
    parse_message,
    sns_record_message,
    sqs_item,
)
from sagemaker_async_results.runtime.errors import (
    ConfigurationError,
    DestinationError,
    DuplicateInProgressError,
    HandlerError,
    PayloadNotFoundError,
    RecordsFailedError,
    ResultError,
)
from sagemaker_async_results.runtime.guard import AlreadyRouted, ExactlyOnceGuard, lock_seconds
from sagemaker_async_results.runtime.models import InferenceResultNotification, TestNotification
from sagemaker_async_results.runtime.observability import emit, logger, tracer
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload, decode_inline
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Route, Router
from sagemaker_async_results.runtime.routing_state import RoutingState
from sagemaker_async_results.runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one record (returned by direct-mode invocations, useful in tests)."""

    inference_id: str | None
    outcome: Literal["routed", "duplicate", "test"]
    routed_to: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"inferenceId": self.inference_id, "outcome": self.outcome, "routedTo": self.routed_to}


#: Fields of a TestNotification worth logging (its extra fields are the sender's, of any size).
DECLARED = {"event_name", "event_source", "event_version"}


def _raise(error: Exception) -> Any:
    raise error


def load_routers(module_names: Iterable[str]) -> list[Router]:
    """Import plugin modules and collect their module-level ``router``.

    A package name loads the package's own ``router`` (if any) and then every module in it,
    alphabetically (``pkgutil``); a module name loads that module, which must define ``router``.
    Import errors are configuration errors: the invocation fails loudly instead of dropping results.
    """
    routers: list[Router] = []
    problems: list[str] = []
    for name in module_names:
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            problems.append(f"{name}: cannot import ({type(exc).__name__}: {exc})")
            continue
        found = isinstance(getattr(module, "router", None), Router)
        if found:
            routers.append(module.router)
        if hasattr(module, "__path__"):
            for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
                sub_name = f"{name}.{info.name}"
                try:
                    sub = importlib.import_module(sub_name)
                except Exception as exc:
                    problems.append(f"{sub_name}: cannot import ({type(exc).__name__}: {exc})")
                    continue
                if isinstance(getattr(sub, "router", None), Router):
                    routers.append(sub.router)
        elif not found:
            problems.append(f"{name}: defines no module-level `router = Router()`")
    if problems:
        raise ConfigurationError(
            "cannot load handler plugins: " + "; ".join(problems),
            received=list(module_names),
            expected="importable modules/packages whose modules define `router = Router()`",
        )
    return routers


class ResultsApp:
    """Routes SageMaker async inference results to user handlers and built-in destinations.

    Parameters
    ----------
    settings
        Configuration; default :meth:`Settings.from_env`.
    clients
        AWS clients; default lazily created ones (see :class:`~sagemaker_async_results.runtime.clients.Clients`).
    routers
        Routers to include; default: loaded from ``settings.handler_modules``.

    Example
    -------
    .. code-block:: python

        app = ResultsApp(settings=Settings(readable_locations=(S3Prefix.parse("s3://b/out/"),)),
                         clients=Clients(s3=s3), routers=[my_router])
        app(sns_event([notification(...)]), lambda_context())
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clients: Clients | None = None,
        routers: Sequence[Router] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.from_env()
        self.clients = clients if clients is not None else Clients()
        self.router = Router()
        for router in routers if routers is not None else load_routers(self.settings.handler_modules):
            self.router.include_router(router)
        self.guard = LocationGuard(self.settings.readable_locations)
        self.before: list[Destination]
        self.after: list[Destination]
        self.before, self.after = build_destinations(self.settings, self.clients)
        self._pool: ThreadPoolExecutor | None = None
        #: ``None`` without a results table: duplicates are then routed again (documented).
        self.exactly_once = self._build_guard()
        #: Writes ``routing``/``routingError``/``routedTo`` when the result store is active.
        self.routing_state = self._build_routing_state()
        self._entry = logger.inject_lambda_context(clear_state=True)(
            tracer.capture_lambda_handler(self._dispatch)
        )

    # -- entry --------------------------------------------------------------------------------
    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """The Lambda handler: ``entrypoint.handler`` delegates here."""
        if context is None:
            return self._dispatch(event, None)
        response: dict[str, Any] = self._entry(event, context)
        return response

    def _dispatch(self, event: Any, context: Any) -> dict[str, Any]:
        try:
            kind = detect(event)
        except ResultError as err:  # reported like any failed record: logged, counted, raised
            kind = "notification"
            event = err
        if kind == "sqs":
            return self._handle_sqs(event, context)
        extractors: list[Callable[[], Any]]
        if kind == "sns":
            extractors = [functools.partial(sns_record_message, record) for record in event["Records"]]
        elif isinstance(event, ResultError):
            extractors = [functools.partial(_raise, event)]
        else:
            extractors = [lambda: event]
        outcomes: list[Outcome] = []
        failures: list[ResultError] = []
        for extract in extractors:
            try:
                outcomes.append(self.process(extract, context))
            except ResultError as err:
                failures.append(err)
        if len(failures) == 1 and len(extractors) == 1:
            raise failures[0]
        if failures:
            raise RecordsFailedError(failures)
        return {"results": [o.to_dict() for o in outcomes]}

    def _handle_sqs(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Records of a batch are independent (SQS standard queues promise no order) and their work is
        # waiting on AWS calls: route them concurrently. Each outcome is paired with its record's
        # messageId, which is what the partial batch response names.
        items = [sqs_item(record) for record in event["Records"]]
        outcomes = self._process_all([extract for _, extract in items], context)
        failures: list[dict[str, str]] = []
        for (message_id, _), outcome in zip(items, outcomes, strict=True):
            failure = {"itemIdentifier": message_id or ""}
            if isinstance(outcome, ResultError) and failure not in failures:
                failures.append(failure)
        return {"batchItemFailures": failures}

    def _process_all(
        self, extractors: Sequence[Callable[[], Any]], context: Any
    ) -> list[Outcome | ResultError]:
        """Process records, up to ``batch_concurrency`` at once; failures are returned, not raised."""

        def run(extract: Callable[[], Any]) -> Outcome | ResultError:
            try:
                return self.process(extract, context)
            except ResultError as err:
                return err

        workers = min(self.settings.batch_concurrency, len(extractors))
        if workers <= 1:
            return [run(extract) for extract in extractors]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.batch_concurrency, thread_name_prefix="record")
        outcomes = list(self._pool.map(run, extractors))
        # The same notification twice in one batch: the copy that met the other in progress is tried
        # again now that the first is done, so it is recognised as a duplicate instead of retried later.
        return [
            run(extract) if isinstance(outcome, DuplicateInProgressError) else outcome
            for extract, outcome in zip(extractors, outcomes, strict=True)
        ]

    # -- one record ---------------------------------------------------------------------------
    def process(self, extract: Callable[[], Any], context: Any = None) -> Outcome:
        """Process one record; ``extract`` returns its message (raising on a bad envelope).

        Every failure is logged once, structured, and re-raised as a :class:`ResultError`.
        """
        inference_id: str | None = None
        endpoint = ""
        try:
            notification = parse_message(extract())
            if isinstance(notification, TestNotification):
                logger.info(  # declared fields only: extra ones are whatever the sender put there
                    "test notification acknowledged and ignored",
                    extra={"notification": notification.model_dump(by_alias=True, include=DECLARED)},
                )
                emit(self.settings.metrics_namespace, {}, {"TestNotifications": (1, MetricUnit.Count)})
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
            outcome = self._route_idempotently(result, context)
            self._emit_result_metrics(result, outcome)
            return outcome
        except ResultError as err:
            err.inference_id = err.inference_id or inference_id
            logger.error(f"record failed: {err.message}", extra=err.to_log())
            self._emit_error(endpoint, err.reason)
            raise
        except Exception as exc:
            unexpected = ResultError(
                f"unexpected {type(exc).__name__}: {exc}",
                received=repr(exc),
                expected="no unexpected error",
                inference_id=inference_id,
            )
            logger.exception(f"record failed: {unexpected.message}", extra=unexpected.to_log())
            self._emit_error(endpoint, unexpected.reason)
            raise unexpected from exc
        finally:
            logger.thread_safe_remove_keys(["correlation_id", "inference_id", "endpoint_name", "status"])

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
            guard=self.guard,
            s3_client=lambda: self.clients.s3,
            max_bytes=self.settings.max_payload_bytes,
            inference_id=notification.inference_id,
        )
        return InferenceResult(notification, payload)

    # -- exactly once -------------------------------------------------------------------------
    def _build_guard(self) -> ExactlyOnceGuard | None:
        if not self.settings.idempotency_enabled:
            return None
        assert self.settings.results_table
        return ExactlyOnceGuard(
            table=self.settings.results_table,
            dynamodb=lambda: self.clients.dynamodb,
            ttl_seconds=self.settings.idempotency_ttl_seconds,
        )

    def _build_routing_state(self) -> RoutingState | None:
        if not any(d.name == ResultStore.name for d in (*self.before, *self.after)):
            return None
        assert self.settings.results_table
        return RoutingState(
            table=self.settings.results_table,
            dynamodb=lambda: self.clients.dynamodb,
            ttl_seconds=self.settings.result_ttl_days * 86400,
        )

    def _route_idempotently(self, result: InferenceResult, context: Any) -> Outcome:
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

    # -- routing ------------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def _route(self, result: InferenceResult) -> list[str]:
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
        destinations_before = [d for d in self.before if d.applies(result)]
        destinations_after = [d for d in self.after if d.applies(result)]
        if not routes:
            logger.info("no user handler matches this result (not an error)")
        steps: list[Destination | Route] = [*destinations_before, *routes, *destinations_after]
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

    def _record_failure(
        self, result: InferenceResult, routed_to: list[str], err: ResultError, step: str
    ) -> None:
        if self.routing_state is None:
            return
        try:
            self.routing_state.failed(result.inference_id, routed_to, err, step)
        except ResultError as again:  # the record's own error is what gets reported
            logger.error("cannot record the routing failure on the result record", extra=again.to_log())

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

    # -- metrics ------------------------------------------------------------------------------
    def _emit_result_metrics(self, result: InferenceResult, outcome: Outcome) -> None:
        try:
            self._emit_result_metrics_unguarded(result, outcome)
        except Exception:  # the result is routed: a metric must never fail it
            logger.exception("cannot emit result metrics")

    def _emit_result_metrics_unguarded(self, result: InferenceResult, outcome: Outcome) -> None:
        dimensions = {"endpointName": result.endpoint_name, "status": result.status}
        if outcome.outcome == "duplicate":
            emit(self.settings.metrics_namespace, dimensions, {"Duplicates": (1, MetricUnit.Count)})
            return
        values: dict[str, tuple[float, MetricUnit]] = {"Results": (1, MetricUnit.Count)}
        if result.latency is not None:
            values["NotificationLatency"] = (result.latency.total_seconds() * 1000, MetricUnit.Milliseconds)
        if result.payload.known_size is not None:
            values["PayloadBytes"] = (result.payload.known_size, MetricUnit.Bytes)
        emit(self.settings.metrics_namespace, dimensions, values)

    def _emit_error(self, endpoint: str, reason: str) -> None:
        try:
            emit(
                self.settings.metrics_namespace,
                {"endpointName": endpoint, "reason": reason},
                {"RecordErrors": (1, MetricUnit.Count)},
            )
        except Exception:  # metrics must never mask the record's own error
            logger.exception("cannot emit error metric")
