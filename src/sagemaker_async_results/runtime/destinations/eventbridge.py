"""EventBridge: one event per result so rules can route by endpoint and status.

``Source = "sagemaker.async-results"``, ``DetailType = "SageMaker Async Inference Result"``,
``Detail`` = the result record (camelCase). Example rule pattern::

    {"source": ["sagemaker.async-results"],
     "detail": {"endpointName": ["fraud-scorer"], "status": ["Failed"]}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._batch import EntryFailure, entry_error, send_entries
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.errors import AwsCallError, ResultError
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

SOURCE = "sagemaker.async-results"
DETAIL_TYPE = "SageMaker Async Inference Result"
#: Name of the event bus to put results on; absent or blank switches the destination off.
BUS_NAME_ENV = contract.EVENT_BUS_NAME
#: EventBridge limits of one PutEvents call: entries, and bytes of all entries together.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 262_144


class EventBridgeDestination:
    """Puts the result record on an event bus.

    Parameters
    ----------
    bus_name: the event bus. clients: the runtime's AWS clients (``events`` is used).
    """

    name = "eventBridge"
    stage: Final = "after"

    def __init__(self, *, bus_name: str, clients: Clients) -> None:
        self._bus = bus_name
        self._clients = clients

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> EventBridgeDestination | None:
        """On when ``EVENT_BUS_NAME`` is set."""
        bus_name = text(environ, BUS_NAME_ENV)
        return cls(bus_name=bus_name, clients=clients) if bus_name else None

    def applies(self, result: InferenceResult) -> bool:
        return True

    def _entry(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(record),
            "EventBusName": self._bus,
            "Resources": [loc for loc in (result.output_location, result.failure_location) if loc],
        }

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """One event per result in ``PutEvents`` calls of up to 10; a failure per result (``None``: put)."""
        if len(items) == 1:
            try:
                self.send(*items[0])
            except ResultError as err:
                return [err]
            return [None]
        entries = [self._entry(result, record) for result, record in items]
        # EventBridge's entry size: Source, DetailType, Detail and the resources' lengths.
        sizes = [
            len(e["Source"])
            + len(e["DetailType"])
            + len(e["Detail"].encode())
            + sum(map(len, e["Resources"]))
            for e in entries
        ]

        def call(batch: list[dict[str, Any]]) -> list[EntryFailure | None]:
            response = self._clients.events.put_events(Entries=batch)  # type: ignore[arg-type]
            return [
                EntryFailure(answer.get("ErrorCode", ""), answer.get("ErrorMessage", ""))
                if answer.get("ErrorCode")
                else None
                for answer in response["Entries"]
            ]

        outcomes = send_entries(
            entries, sizes=sizes, max_entries=MAX_BATCH_ENTRIES, max_bytes=MAX_BATCH_BYTES, call=call
        )
        return [
            entry_error(outcome, result.inference_id, "EventBridge.PutEvents")
            for outcome, (result, _) in zip(outcomes, items, strict=True)
        ]

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        entry = self._entry(result, record)
        try:
            response = self._clients.events.put_events(Entries=[entry])  # type: ignore[list-item]
        except Exception as exc:
            raise aws_error(exc, operation="EventBridge.PutEvents", inference_id=result.inference_id) from exc
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            code = failed.get("ErrorCode", "")
            raise AwsCallError(
                f"EventBridge rejected the event: {failed.get('ErrorMessage')}",
                reason="Throttled" if "Throttl" in code else "AwsCallFailed",
                received=failed,
                expected="FailedEntryCount 0",
                inference_id=result.inference_id,
            )
