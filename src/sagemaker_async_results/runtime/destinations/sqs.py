"""SQS: the result record as a JSON message on the results queue (a KMS-encrypted queue).

Message attributes ``inferenceId``, ``endpointName`` and ``status`` allow filtering without parsing.
The results of one batch go in ``SendMessageBatch`` calls of up to 10 messages (one ``SendMessage``
for a lone result); a message the batch call did not take fails only its own record.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._batch import BatchDestination, EntryFailure
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult

#: URL of the results queue; absent or blank switches the destination off.
QUEUE_URL_ENV = contract.RESULTS_QUEUE_URL
#: SQS limits of one SendMessageBatch: entries, and bytes of all bodies and attributes together.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 262_144


class ResultsQueue(BatchDestination):
    """Sends the result record to the results queue; on when ``RESULTS_QUEUE_URL`` is set.

    Parameters
    ----------
    queue_url: the results queue. clients: the runtime's AWS clients (``sqs`` is used).
    """

    name = "sqs"
    target_env = QUEUE_URL_ENV
    target_keyword = "queue_url"
    batch_operation = "SQS.SendMessageBatch"
    max_batch_entries = MAX_BATCH_ENTRIES
    max_batch_bytes = MAX_BATCH_BYTES

    def __init__(self, *, queue_url: str, clients: Clients) -> None:
        super().__init__(queue_url, clients)

    def _entry(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            "inferenceId": result.inference_id,
            "endpointName": result.endpoint_name or "unknown",
            "status": result.status,
        }
        return {
            "MessageBody": json.dumps(record),
            "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        }

    def _entry_size(self, entry: dict[str, Any]) -> int:
        return len(entry["MessageBody"].encode()) + sum(
            len(k) + len(v["StringValue"].encode()) + 6 for k, v in entry["MessageAttributes"].items()
        )

    def _call(self, entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        batch = [dict(entry, Id=str(i)) for i, entry in enumerate(entries)]
        response = self._clients.sqs.send_message_batch(QueueUrl=self._target, Entries=batch)  # type: ignore[arg-type]
        failures = {
            int(failed["Id"]): EntryFailure(
                failed["Code"], failed.get("Message", ""), retryable=not failed.get("SenderFault")
            )
            for failed in response.get("Failed", [])
        }
        return [failures.get(i) for i in range(len(entries))]

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        try:
            self._clients.sqs.send_message(QueueUrl=self._target, **self._entry(result, record))
        except Exception as exc:
            raise aws_error(exc, operation="SQS.SendMessage", inference_id=result.inference_id) from exc
