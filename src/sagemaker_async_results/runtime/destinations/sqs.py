"""SQS: the result record as a JSON message on ``RESULTS_QUEUE_URL`` (a KMS-encrypted queue).

Message attributes ``inferenceId``, ``endpointName`` and ``status`` allow filtering without parsing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.runtime.payloads import aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings


class ResultsQueue:
    """Sends the result record to the results queue."""

    name = "sqs"

    def __init__(self, settings: Settings, clients: Clients) -> None:
        assert settings.results_queue_url, "the SQS destination needs RESULTS_QUEUE_URL"
        self._url = settings.results_queue_url
        self._clients = clients

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
