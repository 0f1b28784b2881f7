"""EventBridge: one event per result so rules can route by endpoint and status.

``Source = "sagemaker.async-results"``, ``DetailType = "SageMaker Async Inference Result"``,
``Detail`` = the result record (camelCase). Example rule pattern::

    {"source": ["sagemaker.async-results"],
     "detail": {"endpointName": ["fraud-scorer"], "status": ["Failed"]}}
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._batch import (
    BatchDestination,
    EntryFailure,
    answer_failures,
)
from sagemaker_async_results.runtime.errors import AwsCallError
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult

SOURCE = "sagemaker.async-results"
DETAIL_TYPE = "SageMaker Async Inference Result"
#: Name of the event bus to put results on; absent or blank switches the destination off.
BUS_NAME_ENV = contract.EVENT_BUS_NAME
#: EventBridge limits of one PutEvents call: entries, and bytes of all entries together.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 262_144


class EventBridgeDestination(BatchDestination):
    """Puts the result record on an event bus; on when ``EVENT_BUS_NAME`` is set.

    Parameters
    ----------
    bus_name: the event bus. clients: the runtime's AWS clients (``events`` is used).
    """

    name = "eventBridge"
    target_env = BUS_NAME_ENV
    target_keyword = "bus_name"
    batch_operation = "EventBridge.PutEvents"
    max_batch_entries = MAX_BATCH_ENTRIES
    max_batch_bytes = MAX_BATCH_BYTES

    def __init__(self, *, bus_name: str, clients: Clients) -> None:
        super().__init__(bus_name, clients)

    def _entry(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(record),
            "EventBusName": self._target,
            "Resources": [loc for loc in (result.output_location, result.failure_location) if loc],
        }

    def _entry_size(self, entry: dict[str, Any]) -> int:
        # EventBridge's entry size: Source, DetailType, Detail and the resources' lengths.
        return (
            len(entry["Source"])
            + len(entry["DetailType"])
            + len(entry["Detail"].encode())
            + sum(map(len, entry["Resources"]))
        )

    def _call(self, entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        response = self._clients.events.put_events(Entries=entries)  # type: ignore[arg-type]
        return answer_failures(response["Entries"])

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
