"""Step Functions callback: answer the task token carried in the request's ``CustomAttributes``.

Convention: ``CustomAttributes`` contains ``taskToken=<token>`` (pairs separated by ``;``).
``Completed`` -> ``SendTaskSuccess`` with ``{"inferenceId", "outputLocation", "contentType",
"body"?}`` (``body`` only when the payload is JSON and at most :data:`MAX_BODY_BYTES`);
``Failed`` -> ``SendTaskFailure`` with ``error="InferenceFailed"``, ``cause=failureReason``.

``CustomAttributes`` is limited to 1024 characters and a task token can be 2,048. A longer token is
kept in the request's Submitted record (``contract.SUBMITTED_TASK_TOKEN_ATTRIBUTE``, written by the
client's ``invoke(task_token=...)``) and the request carries ``taskTokenInRecord=1``
(``contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE``): the callback then takes the token from the record the
routing claim returned (:attr:`InferenceResult.submitted`, result store on), else reads it from the
results table by inference ID, one consistent ``GetItem``. The short ``taskToken=`` form needs no read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._env import flag
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.payloads import aws_error, is_json_type

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

TOKEN_ATTRIBUTE = "taskToken"  # noqa: S105 (an attribute name, not a secret)
ERROR_NAME = "InferenceFailed"
#: Largest JSON body inlined in the task output (Step Functions' limit is 256 KiB for everything).
MAX_BODY_BYTES = 128 * 1024
#: The task is already closed (timed out, or answered by an earlier attempt): retrying cannot help.
_TASK_CLOSED = {"TaskTimedOut", "TaskDoesNotExist"}
#: ``true`` / ``false`` (default false): answer task tokens found in the request's custom attributes.
ENABLED_ENV = contract.STEP_FUNCTIONS_CALLBACK_ENABLED


def _logger() -> Any:
    # Imported when first needed: Powertools stays out of the CDK app and of the import of this module.
    from sagemaker_async_results.runtime.observability import logger

    return logger


class StepFunctionsCallback:
    """Sends ``SendTaskSuccess`` / ``SendTaskFailure`` for results whose request carried a task token."""

    name = "stepFunctions"
    stage: Final = "after"

    def __init__(self, *, clients: Clients, results_table: str | None = None) -> None:
        self._clients = clients
        self._results_table = results_table

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> StepFunctionsCallback | None:
        """On when ``STEP_FUNCTIONS_CALLBACK_ENABLED`` is true."""
        if not flag(environ, ENABLED_ENV, default=False):
            return None
        return cls(clients=clients, results_table=settings.results_table)

    def applies(self, result: InferenceResult) -> bool:
        return bool(result.attributes.get(TOKEN_ATTRIBUTE)) or self._token_in_record(result)

    @staticmethod
    def _token_in_record(result: InferenceResult) -> bool:
        return result.attributes.get(contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE) == "1"

    def _token(self, result: InferenceResult) -> str | None:
        """The request's task token: from its custom attributes, else from its Submitted record."""
        token = result.attributes.get(TOKEN_ATTRIBUTE)
        if token or not self._token_in_record(result):
            return token
        if result.submitted is not None:  # the routing claim returned the record: no read of its own
            return self._found(result, result.submitted)
        if not self._results_table:
            raise ConfigurationError(
                "the request keeps its task token in the results table, and this function has none",
                received=f"{contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE}=1",
                expected=f"{contract.RESULTS_TABLE} set",
            )
        try:
            item = self._clients.dynamodb.get_item(
                TableName=self._results_table,
                Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(result.inference_id)}},
                ProjectionExpression="#token",
                ExpressionAttributeNames={"#token": contract.SUBMITTED_TASK_TOKEN_ATTRIBUTE},
                ConsistentRead=True,
            ).get("Item", {})
        except Exception as exc:
            raise aws_error(exc, operation="DynamoDB.GetItem", inference_id=result.inference_id) from exc
        return self._found(result, item)

    @staticmethod
    def _found(result: InferenceResult, item: Mapping[str, Any]) -> str | None:
        value: str | None = item.get(contract.SUBMITTED_TASK_TOKEN_ATTRIBUTE, {}).get("S")
        if not value:
            _logger().warning(
                "the request's task token is not in its Submitted record; nothing to answer",
                extra={"inference_id": result.inference_id},
            )
        return value

    def task_output(self, result: InferenceResult) -> dict[str, Any]:
        """The ``SendTaskSuccess`` output document."""
        output: dict[str, Any] = {
            "inferenceId": result.inference_id,
            "outputLocation": result.output_location,
            "contentType": result.content_type,
        }
        if is_json_type(result.content_type) and result.has_payload and result.size() <= MAX_BODY_BYTES:
            try:
                output["body"] = result.json()
            except ResultError as exc:  # the workflow still gets the location
                _logger().warning("task output without body", extra=exc.to_log())
        return output

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        token = self._token(result)
        if not token:
            return
        client = self._clients.stepfunctions
        try:
            if result.succeeded:
                client.send_task_success(taskToken=token, output=json.dumps(self.task_output(result)))
            else:
                client.send_task_failure(
                    taskToken=token, error=ERROR_NAME, cause=(result.failure_reason or "")[:32768]
                )
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code in _TASK_CLOSED:
                _logger().warning(
                    "Step Functions task already closed; nothing to answer",
                    extra={"reason": code, "inference_id": result.inference_id},
                )
                return
            operation = "SendTaskSuccess" if result.succeeded else "SendTaskFailure"
            raise aws_error(
                exc, operation=f"StepFunctions.{operation}", inference_id=result.inference_id
            ) from exc
