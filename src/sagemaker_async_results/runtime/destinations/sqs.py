"""SQS: the result record as a JSON message on the results queue (a KMS-encrypted queue).

Message attributes ``inferenceId``, ``endpointName`` and ``status`` allow filtering without parsing.
The results of one batch go in ``SendMessageBatch`` calls of up to 10 messages (one ``SendMessage``
for a lone result); a message the batch call did not take fails only its own record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._batch import EntryFailure, entry_error, send_entries
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.errors import ResultError
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: URL of the results queue; absent or blank switches the destination off.
QUEUE_URL_ENV = contract.RESULTS_QUEUE_URL
#: SQS limits of one SendMessageBatch: entries, and bytes of all bodies and attributes together.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 262_144


class ResultsQueue:
    """Sends the result record to the results queue.

    Parameters
    ----------
    queue_url: the results queue. clients: the runtime's AWS clients (``sqs`` is used).
    """

    name = "sqs"
    stage: Final = "after"

    def __init__(self, *, queue_url: str, clients: Clients) -> None:
        self._url = queue_url
        self._clients = clients

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> ResultsQueue | None:
        """On when ``RESULTS_QUEUE_URL`` is set."""
        queue_url = text(environ, QUEUE_URL_ENV)
        return cls(queue_url=queue_url, clients=clients) if queue_url else None

    def applies(self, result: InferenceResult) -> bool:
        return True

    def _message(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        attributes = {
            "inferenceId": result.inference_id,
            "endpointName": result.endpoint_name or "unknown",
            "status": result.status,
        }
        return {
            "MessageBody": json.dumps(record),
            "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        }

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        try:
            self._clients.sqs.send_message(QueueUrl=self._url, **self._message(result, record))
        except Exception as exc:
            raise aws_error(exc, operation="SQS.SendMessage", inference_id=result.inference_id) from exc

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """One message per result in ``SendMessageBatch`` calls; a failure per result (``None``: sent)."""
        if len(items) == 1:
            try:
                self.send(*items[0])
            except ResultError as err:
                return [err]
            return [None]
        messages = [self._message(result, record) for result, record in items]
        sizes = [
            len(m["MessageBody"].encode())
            + sum(len(k) + len(v["StringValue"].encode()) + 6 for k, v in m["MessageAttributes"].items())
            for m in messages
        ]

        def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
            batch = [{"Id": str(i), **entry} for i, entry in enumerate(entries)]
            response = self._clients.sqs.send_message_batch(QueueUrl=self._url, Entries=batch)  # type: ignore[arg-type]
            answers: list[EntryFailure | None] = [None] * len(entries)
            for failed in response.get("Failed", []):
                answers[int(failed["Id"])] = EntryFailure(
                    failed.get("Code", ""), failed.get("Message", ""), retryable=not failed.get("SenderFault")
                )
            return answers

        outcomes = send_entries(
            messages, sizes=sizes, max_entries=MAX_BATCH_ENTRIES, max_bytes=MAX_BATCH_BYTES, call=call
        )
        return [
            entry_error(outcome, result.inference_id, "SQS.SendMessageBatch")
            for outcome, (result, _) in zip(outcomes, items, strict=True)
        ]
