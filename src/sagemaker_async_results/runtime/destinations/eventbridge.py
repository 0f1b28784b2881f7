"""EventBridge: one event per result so rules can route by endpoint and status.

``Source = "sagemaker.async-results"``, ``DetailType = "SageMaker Async Inference Result"``,
``Detail`` = the result record (camelCase). Example rule pattern::

    {"source": ["sagemaker.async-results"],
     "detail": {"endpointName": ["fraud-scorer"], "status": ["Failed"]}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.errors import AwsCallError
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

SOURCE = "sagemaker.async-results"
DETAIL_TYPE = "SageMaker Async Inference Result"
#: Name of the event bus to put results on; absent or blank switches the destination off.
BUS_NAME_ENV = contract.EVENT_BUS_NAME


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

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": json.dumps(record),
            "EventBusName": self._bus,
            "Resources": [loc for loc in (result.output_location, result.failure_location) if loc],
        }
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
