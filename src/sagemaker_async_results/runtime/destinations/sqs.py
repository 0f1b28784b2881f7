"""SQS: the result record as a JSON message on the results queue (a KMS-encrypted queue).

Message attributes ``inferenceId``, ``endpointName`` and ``status`` allow filtering without parsing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: URL of the results queue; absent or blank switches the destination off.
QUEUE_URL_ENV = contract.RESULTS_QUEUE_URL


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

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        attributes = {
            "inferenceId": result.inference_id,
            "endpointName": result.endpoint_name or "unknown",
            "status": result.status,
        }
        try:
            self._clients.sqs.send_message(
                QueueUrl=self._url,
                MessageBody=json.dumps(record),
                MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
                },
            )
        except Exception as exc:
            raise aws_error(exc, operation="SQS.SendMessage", inference_id=result.inference_id) from exc
