"""Step Functions callback: answer the task token carried in the request's ``CustomAttributes``.

Convention: ``CustomAttributes`` contains ``taskToken=<token>`` (pairs separated by ``;``).
``Completed`` -> ``SendTaskSuccess`` with ``{"inferenceId", "outputLocation", "contentType",
"body"?}`` (``body`` only when the payload is JSON and at most :data:`MAX_BODY_BYTES`);
``Failed`` -> ``SendTaskFailure`` with ``error="InferenceFailed"``, ``cause=failureReason``.

Note ``CustomAttributes`` is limited to 1024 characters, so the token must fit in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._env import flag
from sagemaker_async_results.runtime.errors import ResultError
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

    def __init__(self, *, clients: Clients) -> None:
        self._clients = clients

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> StepFunctionsCallback | None:
        """On when ``STEP_FUNCTIONS_CALLBACK_ENABLED`` is true."""
        return cls(clients=clients) if flag(environ, ENABLED_ENV, default=False) else None

    def applies(self, result: InferenceResult) -> bool:
        return bool(result.attributes.get(TOKEN_ATTRIBUTE))

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
        token = result.attributes[TOKEN_ATTRIBUTE]
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
