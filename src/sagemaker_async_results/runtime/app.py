"""The resolver: :class:`ResultsApp` wires the runtime together and is the Lambda handler.

Each job has its own module, readable alone:

* :mod:`~sagemaker_async_results.runtime.plugins` — loading handler plugins (``HANDLER_MODULES``);
* :mod:`~sagemaker_async_results.runtime.dispatch` — event shape, SQS batching, the response;
* :mod:`~sagemaker_async_results.runtime.lifecycle` — the records of an event: claim -> payload
  check -> handlers, then the batch's notify-once destinations and completion;
* :mod:`~sagemaker_async_results.runtime.record_guard` — the exactly-once guard, the lifecycle's
  DynamoDB writer (the lock lives on the result record, or on a lock record when the store is off).

This module only builds them from :class:`Settings` and :class:`Clients` and wraps the entry with
the Powertools logger (Lambda context, cleared keys per invocation) and tracer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import Destination, ResultStore, build_destinations
from sagemaker_async_results.runtime.dispatch import Dispatcher
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.lifecycle import Outcome, RecordLifecycle
from sagemaker_async_results.runtime.models import InferenceResultNotification
from sagemaker_async_results.runtime.observability import logger, tracer
from sagemaker_async_results.runtime.payloads import LocationGuard
from sagemaker_async_results.runtime.plugins import load_routers
from sagemaker_async_results.runtime.record_guard import RecordGuard
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings

__all__ = ["Outcome", "ResultsApp", "load_routers"]


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
        store = next((d for d in self.before if isinstance(d, ResultStore)), None)
        #: Result store on: the claim stores the record and locks it, the completion marks it Routed.
        #: Off, with a results table: a lock record. ``None`` without a results table: duplicates
        #: are then routed again (documented).
        self.record_guard = self._build_record_guard(store)
        self.lifecycle = RecordLifecycle(
            settings=self.settings,
            router=self.router,
            before=self.before,
            after=self.after,
            locations=self.guard,
            s3_client=lambda: self.clients.s3,
            record_guard=self.record_guard,
            store=store,
        )
        # ``self.process`` (not the lifecycle's): a subclass that wraps ``process`` sees every record.
        self.dispatcher = Dispatcher(self.process_batch)
        self._entry: Callable[[Any, Any], dict[str, Any]] = logger.inject_lambda_context(clear_state=True)(
            tracer.capture_lambda_handler(self._dispatch)
        )

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """The Lambda handler: ``entrypoint.handler`` delegates here."""
        if context is None:
            return self._dispatch(event, None)
        return self._entry(event, context)

    def _dispatch(self, event: Any, context: Any) -> dict[str, Any]:
        return self.dispatcher(event, context)

    def process(self, extract: Callable[[], Any], context: Any = None) -> Outcome:
        """Route one record; ``extract`` returns its message. See :mod:`~sagemaker_async_results.runtime.lifecycle`."""
        return self.lifecycle.process(extract, context)

    def process_batch(
        self, extracts: Sequence[Callable[[], Any]], context: Any = None, *, concurrent: bool = True
    ) -> list[Outcome | ResultError]:
        """Route the records of one event; one outcome or structured error per record, in order."""
        return self.lifecycle.process_batch(extracts, context, concurrent=concurrent)

    def build_result(self, notification: InferenceResultNotification) -> InferenceResult:
        """The result object for a notification (nothing is read yet)."""
        return self.lifecycle.build_result(notification)

    def _build_record_guard(self, store: ResultStore | None) -> RecordGuard | None:
        if store is None and not self.settings.idempotency_enabled:
            return None
        assert self.settings.results_table
        return RecordGuard(
            table=self.settings.results_table,
            dynamodb=lambda: self.clients.dynamodb,
            ttl_seconds=None if store is not None else self.settings.idempotency_ttl_seconds,
        )
