"""Submit asynchronous inferences and await their results without polling S3.

The result-handler functions write one record per inference into the results table as soon as
SageMaker's notification arrives; waiting reads that record (a consistent ``GetItem``), and the output
is read from S3 once, when the caller asks for it (not at all when the notification carried it inline).

The same client works against real AWS and against the local run: only the boto3 clients differ.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.client.lambda_events import sns_lambda_event

#: SageMaker's defaults when a request does not set them.
DEFAULT_TTL_SECONDS = 21600
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900


class InferenceStatus(StrEnum):
    SUBMITTED = "Submitted"
    COMPLETED = "Completed"
    FAILED = "Failed"
    EXPIRED = "Expired"
    UNKNOWN = "Unknown"


class InferenceTimeoutError(TimeoutError):
    """No result within the caller's wait timeout (the request itself may still complete)."""


class ResourcesNotFoundError(ValueError):
    """No deployed construct matches (or several do): the message says what was found and what to pass."""


@dataclass(frozen=True)
class StackResources:
    """The deployed resources the client needs, read from the stack's outputs (never hard-coded)."""

    endpoint_name: str
    bucket: str
    input_prefix: str
    results_table: str
    functions: dict[str, str] = field(default_factory=dict)
    dead_letter_queues: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_outputs(cls, outputs: dict[str, str], prefix: str = "") -> StackResources:
        """Read the construct's outputs (named as in :mod:`~sagemaker_async_results.contract`, plus
        ``prefix`` when the construct was given an output prefix)."""
        missing = [prefix + k for k in contract.CLIENT_OUTPUTS if prefix + k not in outputs]
        if missing:
            raise ResourcesNotFoundError(f"stack outputs lack {missing}; received outputs {sorted(outputs)}")
        kinds = {
            "success": (contract.OUTPUT_SUCCESS_FUNCTION_NAME, contract.OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL),
            "error": (contract.OUTPUT_ERROR_FUNCTION_NAME, contract.OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL),
        }
        own = {key.removeprefix(prefix): value for key, value in outputs.items() if key.startswith(prefix)}
        return cls(
            endpoint_name=own[contract.OUTPUT_ENDPOINT_NAME],
            bucket=own[contract.OUTPUT_BUCKET_NAME],
            input_prefix=own[contract.OUTPUT_INPUT_PREFIX],
            results_table=own[contract.OUTPUT_RESULTS_TABLE_NAME],
            functions={kind: own[names[0]] for kind, names in kinds.items() if names[0] in own},
            dead_letter_queues={kind: own[names[1]] for kind, names in kinds.items() if names[1] in own},
            outputs=own,
        )

    @classmethod
    def from_stack(cls, cloudformation: Any, stack_name: str, prefix: str | None = None) -> StackResources:
        """The resources of the construct in ``stack_name``; ``prefix`` ``None`` finds the one prefix used."""
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if prefix is None:
            prefixes = output_prefixes(outputs)
            if len(prefixes) > 1:
                raise ResourcesNotFoundError(
                    f"stack {stack_name} holds {len(prefixes)} AsyncInferenceResults constructs "
                    f"(output prefixes {prefixes}); name one with the output prefix"
                )
            prefix = prefixes[0] if prefixes else ""
        return cls.from_outputs(outputs, prefix)


def output_prefixes(outputs: dict[str, str]) -> list[str]:
    """The output prefixes under which ``outputs`` hold every output a client needs (``""``: no prefix)."""
    candidates = {
        key[: -len(contract.OUTPUT_ENDPOINT_NAME)]
        for key in outputs
        if key.endswith(contract.OUTPUT_ENDPOINT_NAME)
    }
    return sorted(p for p in candidates if all(p + name in outputs for name in contract.CLIENT_OUTPUTS))


@dataclass(frozen=True)
class DeployedConstruct:
    """One ``AsyncInferenceResults`` construct found in a deployed stack."""

    stack_name: str
    prefix: str
    resources: StackResources


def find_constructs(cloudformation: Any) -> list[DeployedConstruct]:
    """Every construct deployed in the account and region, found by its outputs (any stack name).

    Stacks being deleted or never created are skipped; the stack's name is whatever the user's app
    chose, so only the outputs in :data:`~sagemaker_async_results.contract.CLIENT_OUTPUTS` identify it.
    """
    found = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            if stack.get("StackStatus", "").startswith(("DELETE_", "REVIEW_")):
                continue
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            for prefix in output_prefixes(outputs):
                found.append(
                    DeployedConstruct(
                        stack["StackName"], prefix, StackResources.from_outputs(outputs, prefix)
                    )
                )
    return found


@dataclass(frozen=True)
class Submission:
    inference_id: str
    input_location: str
    output_location: str
    failure_location: str | None
    submitted_at: datetime


@dataclass(frozen=True)
class InferenceRecord:
    """What the result store knows of one inference."""

    inference_id: str
    status: InferenceStatus
    output_location: str | None = None
    failure_location: str | None = None
    failure_reason: str | None = None
    content_type: str | None = None
    routed_to: tuple[str, ...] = ()
    #: ``InProgress``, ``Routed`` or ``Failed`` (routing to handlers and destinations, not the inference).
    routing: str | None = None
    #: When routing failed: ``{"reason", "message", "handler"}``.
    routing_error: dict[str, str] | None = None
    latency_ms: float | None = None
    submitted_at: datetime | None = None
    expires_by: datetime | None = None
    inline_body: bytes | None = None
    #: Routed by recovery: SageMaker's notification never arrived, the result was found in S3.
    recovered: bool = False
    item: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def routing_failed(self) -> bool:
        """A handler or destination failed for this result (the inference itself may have completed)."""
        return self.routing == contract.ROUTING_FAILED

    @property
    def done(self) -> bool:
        return self.status in (InferenceStatus.COMPLETED, InferenceStatus.FAILED, InferenceStatus.EXPIRED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inferenceId": self.inference_id,
            "status": str(self.status),
            "outputLocation": self.output_location,
            "failureLocation": self.failure_location,
            "failureReason": self.failure_reason,
            "contentType": self.content_type,
            "routedTo": list(self.routed_to),
            "routing": self.routing,
            "routingError": self.routing_error,
            "latencyMs": self.latency_ms,
            "submittedAt": self.submitted_at.isoformat() if self.submitted_at else None,
            "expiresBy": self.expires_by.isoformat() if self.expires_by else None,
            "recovered": self.recovered,
        }


@dataclass(frozen=True)
class RedriveReport:
    replayed: int = 0
    still_failing: int = 0
    errors: tuple[str, ...] = ()


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; both parts must be present."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise ValueError(f"expected an s3://bucket/key URI, got {uri!r}")
    return bucket, key


class AsyncInferenceClient:
    """Client for an endpoint deployed by this project's stack.

    Parameters
    ----------
    resources:
        From :meth:`StackResources.from_stack`.
    s3, sagemaker_runtime, dynamodb, lambda_client, sqs:
        boto3 clients (``lambda_client`` and ``sqs`` are needed only by :meth:`redrive`).
    clock:
        Returns "now"; injectable for tests of the expiry rule.

    Example
    -------
    >>> client = AsyncInferenceClient.from_stack("AsyncInferenceStack")  # doctest: +SKIP
    >>> submission = client.invoke(b'{"inputs": "great"}', content_type="application/json")  # doctest: +SKIP
    >>> client.wait(submission.inference_id, timeout=60).status  # doctest: +SKIP
    <InferenceStatus.COMPLETED: 'Completed'>
    """

    def __init__(
        self,
        resources: StackResources,
        *,
        s3: Any,
        sagemaker_runtime: Any,
        dynamodb: Any,
        lambda_client: Any = None,
        sqs: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.resources = resources
        self._s3, self._runtime, self._dynamodb = s3, sagemaker_runtime, dynamodb
        self._lambda, self._sqs = lambda_client, sqs
        self._clock = clock

    @classmethod
    def from_stack(
        cls, stack_name: str, session: Any = None, *, output_prefix: str | None = None, **client_kwargs: Any
    ) -> AsyncInferenceClient:
        """Build from a deployed stack's outputs.

        Endpoints and credentials come from boto3's usual configuration (profile, ``AWS_ENDPOINT_URL*``);
        ``client_kwargs`` go to every boto3 client (e.g. ``endpoint_url``, ``config``).
        """
        import boto3

        session = session or boto3.Session()
        resources = StackResources.from_stack(
            session.client("cloudformation", **client_kwargs), stack_name, output_prefix
        )
        return cls.from_resources(resources, session, **client_kwargs)

    @classmethod
    def from_names(
        cls,
        *,
        endpoint_name: str,
        bucket: str,
        input_prefix: str,
        results_table: str,
        session: Any = None,
        **client_kwargs: Any,
    ) -> AsyncInferenceClient:
        """Build from explicit resource names, without reading CloudFormation (e.g. no DescribeStacks)."""
        resources = StackResources(
            endpoint_name=endpoint_name, bucket=bucket, input_prefix=input_prefix, results_table=results_table
        )
        return cls.from_resources(resources, session, **client_kwargs)

    @classmethod
    def from_resources(
        cls, resources: StackResources, session: Any = None, **client_kwargs: Any
    ) -> AsyncInferenceClient:
        """Build from resources already known, with clients from ``session`` (default: boto3's)."""
        import boto3

        session = session or boto3.Session()
        return cls(
            resources,
            s3=session.client("s3", **client_kwargs),
            sagemaker_runtime=session.client("sagemaker-runtime", **client_kwargs),
            dynamodb=session.client("dynamodb", **client_kwargs),
            lambda_client=session.client("lambda", **client_kwargs),
            sqs=session.client("sqs", **client_kwargs),
        )

    # -- submit -------------------------------------------------------------------------------------
    def invoke(
        self,
        payload: bytes | Path | str,
        *,
        content_type: str = "application/json",
        accept: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
        ttl_seconds: int | None = None,
        invocation_timeout_seconds: int | None = None,
    ) -> Submission:
        """Upload the payload (or use an ``s3://`` URI as is) and call ``InvokeEndpointAsync``.

        A ``Submitted`` record is written first, with the moment after which the request counts as
        Expired (TTL + invocation timeout), so that a request that never gets a notification is reported
        instead of being waited on forever.
        """
        inference_id = inference_id or str(uuid.uuid4())
        if isinstance(payload, str) and payload.startswith("s3://"):
            input_location = payload
        else:
            body = payload.read_bytes() if isinstance(payload, Path) else payload
            if isinstance(body, str):
                raise TypeError("payload must be bytes, a Path, or an s3:// URI string")
            key = f"{self.resources.input_prefix}{inference_id}.in"
            self._s3.put_object(Bucket=self.resources.bucket, Key=key, Body=body, ContentType=content_type)
            input_location = f"s3://{self.resources.bucket}/{key}"

        submitted_at = self._clock()
        ttl = ttl_seconds or DEFAULT_TTL_SECONDS
        timeout = invocation_timeout_seconds or DEFAULT_INVOCATION_TIMEOUT_SECONDS
        expires_by = submitted_at + timedelta(seconds=ttl + timeout)
        # What the notification would echo from the request, so that recovery can rebuild a notification
        # that never arrived (see contract.SUBMITTED_*).
        echoed = {
            contract.SUBMITTED_ENDPOINT_NAME_ATTRIBUTE: self.resources.endpoint_name,
            contract.SUBMITTED_CONTENT_TYPE_ATTRIBUTE: content_type,
            contract.SUBMITTED_CUSTOM_ATTRIBUTES_ATTRIBUTE: custom_attributes,
            contract.SUBMITTED_ACCEPT_ATTRIBUTE: accept,
        }
        present = {name: value for name, value in echoed.items() if value is not None}
        names = {f"#e{index}": name for index, name in enumerate(present)}
        values = {f":e{index}": {"S": value} for index, value in enumerate(present.values())}
        self._dynamodb.update_item(
            TableName=self.resources.results_table,
            Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
            UpdateExpression=(
                "SET inferenceId = :id, submittedAt = :submitted, expiresBy = :expires, "
                "inputLocation = :input, #status = if_not_exists(#status, :submittedStatus)"
                + "".join(f", {name} = {name.replace('#', ':')}" for name in names)
            ),
            ExpressionAttributeNames={"#status": "status", **names},
            ExpressionAttributeValues={
                ":id": {"S": inference_id},
                ":submitted": {"S": submitted_at.isoformat()},
                ":expires": {"S": expires_by.isoformat()},
                ":input": {"S": input_location},
                ":submittedStatus": {"S": InferenceStatus.SUBMITTED.value},
                **values,
            },
        )
        request: dict[str, Any] = {
            "EndpointName": self.resources.endpoint_name,
            "InputLocation": input_location,
            "ContentType": content_type,
            "InferenceId": inference_id,
        }
        optional = {
            "Accept": accept,
            "CustomAttributes": custom_attributes,
            "RequestTTLSeconds": ttl_seconds,
            "InvocationTimeoutSeconds": invocation_timeout_seconds,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        response = self._runtime.invoke_endpoint_async(**request)
        return Submission(
            inference_id=response.get("InferenceId", inference_id),
            input_location=input_location,
            output_location=response["OutputLocation"],
            failure_location=response.get("FailureLocation"),
            submitted_at=submitted_at,
        )

    # -- read ---------------------------------------------------------------------------------------
    def status(self, inference_id: str) -> InferenceRecord:
        """The current record; ``Submitted`` past its expiry moment is reported as ``Expired``."""
        item = self._dynamodb.get_item(
            TableName=self.resources.results_table,
            Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return InferenceRecord(inference_id=inference_id, status=InferenceStatus.UNKNOWN)
        record = _record_from_item(inference_id, item)
        if (
            record.status == InferenceStatus.SUBMITTED
            and record.expires_by
            and self._clock() > record.expires_by
        ):
            return InferenceRecord(**{**record.__dict__, "status": InferenceStatus.EXPIRED})
        return record

    def wait(
        self, inference_id: str, timeout: float = 60.0, interval: float = 0.1, *, routed: bool = False
    ) -> InferenceRecord:
        """Wait for the handler's record; raises :class:`InferenceTimeoutError` after ``timeout`` seconds.

        The result is there as soon as the record says Completed or Failed. With ``routed``, also wait
        until the result handlers are done with it (``routing`` no longer ``InProgress``), e.g. to read
        ``routed_to`` or a routing failure.
        """
        deadline = time.monotonic() + timeout
        while True:
            record = self.status(inference_id)
            if record.done and not (routed and record.routing == contract.ROUTING_IN_PROGRESS):
                return record
            if time.monotonic() >= deadline:
                raise InferenceTimeoutError(
                    f"no result for {inference_id} within {timeout}s (status {record.status})"
                )
            time.sleep(interval)

    def fetch_body(self, record: InferenceRecord) -> bytes | None:
        """The output (Completed) or the model's error response (Failed): inline if stored, else S3."""
        if record.inline_body is not None:
            return record.inline_body
        location = (
            record.output_location if record.status == InferenceStatus.COMPLETED else record.failure_location
        )
        if not location:
            return None
        bucket, key = split_s3_uri(location)
        return bytes(self._s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    # -- dead letters -------------------------------------------------------------------------------
    def redrive(self, kind: str, max_messages: int = 100) -> RedriveReport:
        """Replay the dead-lettered events of the ``success`` or ``error`` function through its handler.

        Each message is turned back into the event the function receives (a Lambda on-failure record's
        ``requestPayload``, an SNS envelope as an SNS event, or a bare notification), invoked
        synchronously, and deleted from the queue only when the handler succeeded.
        """
        if self._lambda is None or self._sqs is None:
            raise ValueError("redrive needs the lambda and sqs clients")
        queue_url = self.resources.dead_letter_queues[kind]
        function = self.resources.functions[kind]
        replayed = failing = 0
        errors: list[str] = []
        while replayed + failing < max_messages:
            messages = self._sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            for message in messages:
                event = event_from_dead_letter(message["Body"])
                response = self._lambda.invoke(
                    FunctionName=function,
                    InvocationType="RequestResponse",
                    Payload=json.dumps(event).encode(),
                )
                payload = response["Payload"].read()
                if response.get("FunctionError") or _has_batch_failures(payload):
                    failing += 1
                    errors.append(payload.decode(errors="replace")[:500])
                    self._sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
                else:
                    replayed += 1
                    self._sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if failing and not replayed:
                break  # everything left keeps failing: stop instead of spinning on it
        return RedriveReport(replayed=replayed, still_failing=failing, errors=tuple(errors))


def _has_batch_failures(payload: bytes) -> bool:
    try:
        body = json.loads(payload or b"null")
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("batchItemFailures"))


def event_from_dead_letter(body: str) -> Any:
    """The event to replay for a dead-lettered message body (see :meth:`AsyncInferenceClient.redrive`)."""
    message = json.loads(body)
    if isinstance(message, dict) and "requestPayload" in message and "requestContext" in message:
        return message["requestPayload"]  # Lambda on-failure destination record
    if isinstance(message, dict) and message.get("Type") == "Notification" and "Message" in message:
        return sns_lambda_event(message, subscription_arn=message.get("TopicArn", "") + ":redrive")
    return message


def _record_from_item(inference_id: str, item: dict[str, Any]) -> InferenceRecord:
    def text(name: str) -> str | None:
        value = item.get(name)
        return value.get("S") if value else None

    latency = item.get("latencyMs", {}).get("N")
    routed = item.get(contract.ROUTED_TO_ATTRIBUTE, {})
    routed_to = tuple(v["S"] for v in routed.get("L", [])) or tuple(routed.get("SS", []))
    inline = item.get(contract.INLINE_BODY_ATTRIBUTE, {})
    inline_body = (
        inline.get("B") if "B" in inline else (base64.b64decode(inline["S"]) if "S" in inline else None)
    )
    try:
        status = InferenceStatus(text("status") or "Unknown")
    except ValueError:
        status = InferenceStatus.UNKNOWN
    return InferenceRecord(
        inference_id=inference_id,
        status=status,
        output_location=text("outputLocation"),
        failure_location=text("failureLocation"),
        failure_reason=text("failureReason"),
        content_type=text("contentType"),
        routed_to=routed_to,
        routing=text(contract.ROUTING_ATTRIBUTE),
        routing_error=_routing_error(item.get(contract.ROUTING_ERROR_ATTRIBUTE)),
        latency_ms=float(latency) if latency is not None else None,
        submitted_at=_parse_time(text("submittedAt")),
        expires_by=_parse_time(text("expiresBy")),
        inline_body=inline_body,
        recovered=bool(item.get(contract.RECOVERED_ATTRIBUTE, {}).get("BOOL", False)),
        item=item,
    )


def _routing_error(value: Any) -> dict[str, str] | None:
    """``routingError`` as plain strings (a DynamoDB map of strings; a JSON string is accepted too)."""
    if not value:
        return None
    if "M" in value:
        return {k: next(iter(v.values())) if isinstance(v, dict) and v else "" for k, v in value["M"].items()}
    if "S" in value:
        try:
            decoded = json.loads(value["S"])
        except ValueError:
            return {"reason": "RoutingFailed", "message": value["S"], "handler": ""}
        return {k: str(v) for k, v in decoded.items()} if isinstance(decoded, dict) else None
    return None
