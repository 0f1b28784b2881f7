"""The record every destination gets (and a client reading the push sees) says routing is under way."""

from __future__ import annotations

from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from tests.unit.test_lifecycle import lifecycle, message, run


class Keeping:
    """A destination that keeps the records it is given."""

    name = "keeping"

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def applies(self, result: InferenceResult) -> bool:
        return True

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        self.records.append(record)


def test_a_destination_record_says_routing_in_progress_and_what_was_routed_before_it() -> None:
    router = Router()

    @router.on_result(name="h")
    def handle(result: InferenceResult) -> None:
        """Routed before the destination."""

    keeping = Keeping()
    run(lifecycle(router, after=[keeping]), message("i-1"))
    (record,) = keeping.records
    assert record[contract.ROUTING_ATTRIBUTE] == contract.ROUTING_IN_PROGRESS
    assert record[contract.ROUTED_TO_ATTRIBUTE] == ["h"]
    assert record["inferenceId"] == "i-1"
