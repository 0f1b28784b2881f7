"""Submit asynchronous inferences and await their results without polling S3.

The result-handler functions write one record per inference into the results table as soon as
SageMaker's notification arrives; waiting is done by one waiter per client for every pending request
(the Kinesis results stream when the stack has one, else batched consistent reads of that table; see
:mod:`~sagemaker_async_results.client.futures`), and the output is read from S3 once, when the caller
asks for it (not at all when the notification carried it inline).

The same client works against real AWS and against the local run: only the boto3 clients differ.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sized
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.client.futures import (
    BATCH_GET_LIMIT,
    InferenceError,
    InferenceFuture,
    ResultWaiter,
    WaiterStats,
    as_completed,
)
from sagemaker_async_results.client.lambda_events import sns_lambda_event

#: SageMaker's defaults when a request does not set them.
DEFAULT_TTL_SECONDS = 21600
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
#: ``Body`` of InvokeEndpointAsync: at most this many bytes.
INLINE_BODY_LIMIT = 128_000
#: Stack output of the Kinesis results stream (``destinations.kinesis``): the waiter's push source.
RESULTS_STREAM_OUTPUT = "ResultsStreamArn"
#: ``failureReason`` of a failure found in S3 after the expiry moment (only a notification says why).
FOUND_FAILURE_REASON = "unknown: the failure object exists in S3 but no notification was routed"


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
    """What ``InvokeEndpointAsync`` answered (``input_location`` is ``None`` for an inline ``Body``)."""

    inference_id: str
    input_location: str | None
    output_location: str
    failure_location: str | None
    submitted_at: datetime
    #: The inference ID had been submitted before: no second request was made, this is the first one's.
    resubmitted: bool = False


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
    #: Reported from S3 past the expiry moment: the object exists, no notification was routed.
    found_in_s3: bool = False
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
            "foundInS3": self.found_in_s3,
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
        kinesis: Any = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        use_stream: bool = True,
    ) -> None:
        self.resources = resources
        self._s3, self._runtime, self._dynamodb = s3, sagemaker_runtime, dynamodb
        self._lambda, self._sqs, self._kinesis = lambda_client, sqs, kinesis
        self._clock = clock
        self._use_stream = use_stream
        self._waiter: ResultWaiter | None = None
        self._waiter_lock = threading.Lock()
        #: Inference ID -> what the one S3 check before Expired found.
        self._s3_checked: dict[str, tuple[InferenceStatus, str | None]] = {}

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
            kinesis=session.client("kinesis", **client_kwargs)
            if RESULTS_STREAM_OUTPUT in resources.outputs
            else None,
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
        inline: bool = False,
        filename: str | None = None,
        s3_output_path_extension: str | None = None,
        task_token: str | None = None,
    ) -> Submission:
        """Call ``InvokeEndpointAsync`` with SageMaker's options; the input goes to S3 unless ``inline``.

        Parameters
        ----------
        payload:
            Bytes, a file, or an ``s3://`` URI used as the input location as is.
        inline:
            Send bytes of at most 128,000 as the request's ``Body`` (no S3 upload: one call less, and
            nothing to clean up). Larger payloads raise :class:`ValueError`.
        inference_id:
            Your own ID (1-64 characters). Submitting an ID again makes no second request: the first
            one's :class:`Submission` comes back with ``resubmitted=True``.
        filename, s3_output_path_extension:
            SageMaker's ``Filename`` (the output object's name) and ``S3OutputPathExtension`` (a folder
            under the endpoint's output path).
        task_token:
            A Step Functions task token (up to 2,048 characters, longer than ``CustomAttributes``
            allows): kept in the request's Submitted record, where the Step Functions callback finds it
            by inference ID; the request carries only ``taskTokenInRecord=1``.
        ttl_seconds, invocation_timeout_seconds:
            SageMaker's ``RequestTTLSeconds`` (60-21600) and ``InvocationTimeoutSeconds`` (1-3600).

        The Submitted record (written before the request) holds what recovery and the expiry check need:
        the endpoint, content type, accept, custom attributes, and, from the response, the output and
        failure locations. After TTL + invocation timeout without a notification, the request is checked
        once in S3 and reported Expired only when neither location exists.
        """
        caller_chose_id = inference_id is not None
        inference_id = inference_id or str(uuid.uuid4())
        body: bytes | None = None
        input_location: str | None = None
        if isinstance(payload, str) and payload.startswith("s3://"):
            if inline:
                raise ValueError("inline=True needs the payload's bytes, not an s3:// URI")
            input_location = payload
        else:
            data = payload.read_bytes() if isinstance(payload, Path) else payload
            if isinstance(data, str):
                raise TypeError("payload must be bytes, a Path, or an s3:// URI string")
            if inline:
                if len(data) > INLINE_BODY_LIMIT:
                    raise ValueError(
                        f"inline payloads are at most {INLINE_BODY_LIMIT} bytes, got {len(data)}; "
                        "send it through S3 (inline=False)"
                    )
                body = data
            else:
                key = f"{self.resources.input_prefix}{inference_id}.in"
                self._s3.put_object(
                    Bucket=self.resources.bucket, Key=key, Body=data, ContentType=content_type
                )
                input_location = f"s3://{self.resources.bucket}/{key}"
        if task_token is not None:
            marker = f"{contract.TASK_TOKEN_IN_RECORD_ATTRIBUTE}=1"
            custom_attributes = f"{custom_attributes};{marker}" if custom_attributes else marker

        submitted_at = self._clock()
        ttl = ttl_seconds or DEFAULT_TTL_SECONDS
        timeout = invocation_timeout_seconds or DEFAULT_INVOCATION_TIMEOUT_SECONDS
        expires_by = submitted_at + timedelta(seconds=ttl + timeout)
        existing = self._claim(
            inference_id,
            {
                "inferenceId": inference_id,
                "submittedAt": submitted_at.isoformat(),
                "expiresBy": expires_by.isoformat(),
                "inputLocation": input_location,
                # What the notification would echo from the request, so that recovery can rebuild a
                # notification that never arrived (see contract.SUBMITTED_*).
                contract.SUBMITTED_ENDPOINT_NAME_ATTRIBUTE: self.resources.endpoint_name,
                contract.SUBMITTED_CONTENT_TYPE_ATTRIBUTE: content_type,
                contract.SUBMITTED_CUSTOM_ATTRIBUTES_ATTRIBUTE: custom_attributes,
                contract.SUBMITTED_ACCEPT_ATTRIBUTE: accept,
                contract.SUBMITTED_TASK_TOKEN_ATTRIBUTE: task_token,
            },
            only_once=caller_chose_id,
        )
        if existing is not None:
            return existing
        request: dict[str, Any] = {
            "EndpointName": self.resources.endpoint_name,
            "ContentType": content_type,
            "InferenceId": inference_id,
        }
        optional = {
            "InputLocation": input_location,
            "Body": body,
            "Accept": accept,
            "CustomAttributes": custom_attributes,
            "RequestTTLSeconds": ttl_seconds,
            "InvocationTimeoutSeconds": invocation_timeout_seconds,
            "Filename": filename,
            "S3OutputPathExtension": s3_output_path_extension,
        }
        request.update({k: v for k, v in optional.items() if v is not None})
        response = self._runtime.invoke_endpoint_async(**request)
        submission = Submission(
            inference_id=response.get("InferenceId", inference_id),
            input_location=input_location,
            output_location=response["OutputLocation"],
            failure_location=response.get("FailureLocation"),
            submitted_at=submitted_at,
        )
        # The locations SageMaker answered: where the expiry check looks, and what a resubmit returns.
        locations = {"submittedOutputLocation": submission.output_location}
        if submission.failure_location:
            locations["submittedFailureLocation"] = submission.failure_location
        self._dynamodb.update_item(
            TableName=self.resources.results_table,
            Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
            UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in locations),
            ExpressionAttributeValues={f":{name}": {"S": value} for name, value in locations.items()},
        )
        return submission

    def _claim(
        self, inference_id: str, attributes: dict[str, str | None], *, only_once: bool
    ) -> Submission | None:
        """Write the Submitted record; with ``only_once``, not over a request already made.

        Returns the earlier request's :class:`Submission` when ``inference_id`` was already invoked (its
        record holds the locations SageMaker answered); ``None`` when this call should invoke. A record
        without locations is an attempt that never got SageMaker's answer: it is invoked again.
        """
        present = {name: value for name, value in attributes.items() if value is not None}
        names = {f"#a{index}": name for index, name in enumerate(present)}
        values = {f":a{index}": {"S": value} for index, value in enumerate(present.values())}
        arguments: dict[str, Any] = {
            "TableName": self.resources.results_table,
            "Key": {contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
            "UpdateExpression": "SET #status = if_not_exists(#status, :submittedStatus), "
            + ", ".join(f"{name} = {name.replace('#', ':')}" for name in names),
            "ExpressionAttributeNames": {"#status": "status", **names},
            "ExpressionAttributeValues": {
                ":submittedStatus": {"S": InferenceStatus.SUBMITTED.value},
                **values,
            },
        }
        if only_once:
            arguments["ConditionExpression"] = "attribute_not_exists(submittedOutputLocation)"
        try:
            self._dynamodb.update_item(**arguments)
        except Exception as error:
            if _error_code(error) != "ConditionalCheckFailedException":
                raise
            item = self._dynamodb.get_item(
                TableName=self.resources.results_table, Key=arguments["Key"], ConsistentRead=True
            )["Item"]
            return Submission(
                inference_id=inference_id,
                input_location=item.get("inputLocation", {}).get("S"),
                output_location=item["submittedOutputLocation"]["S"],
                failure_location=item.get("submittedFailureLocation", {}).get("S"),
                submitted_at=_parse_time(item.get("submittedAt", {}).get("S")) or self._clock(),
                resubmitted=True,
            )
        return None

    def submit(self, payload: bytes | Path | str, **options: Any) -> InferenceFuture:
        """:meth:`invoke`, then a future of its result, resolved by the client's one waiter.

        ``options`` are :meth:`invoke`'s. The future's ``result()`` is the Completed record; a Failed
        or Expired inference raises :class:`InferenceFailedError` / :class:`InferenceExpiredError`.
        """
        future = InferenceFuture(self, self.invoke(payload, **options))
        self.waiter.watch(future)
        return future

    def future(self, submission: Submission) -> InferenceFuture:
        """A future for a request submitted earlier (e.g. by another process)."""
        future = InferenceFuture(self, submission)
        self.waiter.watch(future)
        return future

    def map(
        self,
        payloads: Iterable[bytes | Path | str],
        *,
        concurrency: int = 64,
        timeout: float | None = None,
        return_exceptions: bool = False,
        progress: bool | Callable[[int, int | None], None] = False,
        submit_threads: int = 8,
        **options: Any,
    ) -> Iterator[InferenceRecord | BaseException]:
        """Submit every payload (``concurrency`` in flight at most) and yield the results in input order.

        ``payloads`` may be any iterable, read lazily (a generator of a million inputs is fine).
        ``timeout`` bounds the wait for each result (from when it is the next to yield). A Failed or
        Expired inference raises, unless ``return_exceptions`` (then the exception is yielded in its
        place). ``progress=True`` shows a rich progress bar when rich is installed; a callable gets
        ``(done, total)`` (``total`` ``None`` when the iterable has no length). ``options`` are
        :meth:`invoke`'s, for every payload.
        """
        from concurrent.futures import ThreadPoolExecutor

        total = len(payloads) if isinstance(payloads, Sized) else None
        report, finish = _progress_reporter(progress, total)
        inputs = iter(payloads)
        in_flight: deque[Future[InferenceFuture]] = deque()
        done = 0
        with ThreadPoolExecutor(max_workers=max(1, submit_threads), thread_name_prefix="submit") as pool:
            try:

                def fill() -> None:
                    while len(in_flight) < max(1, concurrency):
                        try:
                            payload = next(inputs)
                        except StopIteration:
                            return
                        in_flight.append(pool.submit(self.submit, payload, **options))

                fill()
                while in_flight:
                    submitted = in_flight.popleft().result()
                    try:
                        record: InferenceRecord | BaseException = submitted.result(timeout)
                    except InferenceError as error:
                        if not return_exceptions:
                            raise
                        record = error
                    done += 1
                    report(done, total)
                    fill()
                    yield record
            finally:
                finish()
                for pending in in_flight:
                    pending.cancel()

    def as_completed(
        self, futures: Iterable[Future[Any]], timeout: float | None = None
    ) -> Iterator[Future[Any]]:
        """The futures as they finish (see :func:`sagemaker_async_results.client.futures.as_completed`)."""
        return as_completed(futures, timeout)

    # -- asyncio ----------------------------------------------------------------------------------------
    async def predict(
        self, payload: bytes | Path | str, *, timeout: float | None = None, **options: Any
    ) -> InferenceRecord:
        """``await client.predict(payload)``: submit and await the Completed record.

        The submit's blocking AWS calls run in the event loop's default executor; the wait is the
        client's one waiter (no task per poll). Raises :class:`InferenceFailedError`,
        :class:`InferenceExpiredError`, or :class:`asyncio.TimeoutError` after ``timeout`` seconds.
        Cancelling the task stops waiting (the request itself still runs at SageMaker).
        """
        import asyncio
        import functools

        loop = asyncio.get_running_loop()
        future = await loop.run_in_executor(None, functools.partial(self.submit, payload, **options))
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    async def completions(
        self,
        payloads: Iterable[bytes | Path | str],
        *,
        concurrency: int = 64,
        progress: bool | Callable[[int, int | None], None] = False,
        **options: Any,
    ) -> AsyncIterator[InferenceFuture]:
        """``async for future in client.completions(payloads)``: each future as it finishes.

        At most ``concurrency`` requests are in flight; ``future.result()`` is the Completed record
        or raises (Failed, Expired). Leaving the loop early cancels the waits still pending.
        """
        import asyncio
        import functools

        loop = asyncio.get_running_loop()
        total = len(payloads) if isinstance(payloads, Sized) else None
        report, finish = _progress_reporter(progress, total)
        inputs = iter(payloads)
        running: dict[asyncio.Future[Any], InferenceFuture] = {}
        done = 0

        async def fill() -> None:
            while len(running) < max(1, concurrency):
                try:
                    payload = next(inputs)
                except StopIteration:
                    return
                future = await loop.run_in_executor(None, functools.partial(self.submit, payload, **options))
                running[asyncio.wrap_future(future)] = future

        try:
            await fill()
            while running:
                finished, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
                for awaited in finished:
                    future = running.pop(awaited)
                    done += 1
                    report(done, total)
                    yield future
                await fill()
        finally:
            finish()
            for future in running.values():
                future.cancel()

    @property
    def waiter(self) -> ResultWaiter:
        """The client's one waiter (created on first use; push from the results stream when there is one)."""
        with self._waiter_lock:
            if self._waiter is None:
                stream = self.resources.outputs.get(RESULTS_STREAM_OUTPUT) if self._use_stream else None
                self._waiter = ResultWaiter(
                    self, stream_arn=stream if self._kinesis is not None else None, kinesis=self._kinesis
                )
            return self._waiter

    def close(self) -> None:
        """Stop the waiter thread (pending futures stay pending)."""
        if self._waiter is not None:
            self._waiter.close()

    def __enter__(self) -> AsyncInferenceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def batch_status(
        self, inference_ids: list[str], stats: WaiterStats | None = None
    ) -> dict[str, InferenceRecord]:
        """The records of up to 100 inferences in one ``BatchGetItem`` (consistent reads).

        A record still Submitted past its expiry moment is checked once in S3 (see :meth:`status`).
        """
        if len(inference_ids) > BATCH_GET_LIMIT:
            raise ValueError(f"at most {BATCH_GET_LIMIT} inference IDs per call")
        keys = [{contract.TABLE_PARTITION_KEY: {"S": contract.result_key(i)}} for i in inference_ids]
        found: dict[str, InferenceRecord] = {}
        request: dict[str, Any] = {self.resources.results_table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            if stats is not None:
                stats.calls["BatchGetItem"] += 1
            response = self._dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.resources.results_table, []):
                inference_id = item.get("inferenceId", {}).get("S") or item[contract.TABLE_PARTITION_KEY][
                    "S"
                ].removeprefix(contract.RESULT_KEY_PREFIX)
                found[inference_id] = self._unexpired(_record_from_item(inference_id, item), stats)
            request = response.get("UnprocessedKeys") or {}
            if request:
                time.sleep(0.05)
        return found

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
        return self._unexpired(_record_from_item(inference_id, item))

    def _unexpired(self, record: InferenceRecord, stats: WaiterStats | None = None) -> InferenceRecord:
        """``record``, or for a Submitted one past its expiry moment what S3 holds: checked once.

        SageMaker may fail to publish a notification (``NotificationFailures``) after writing the
        output; such a request is reported Completed (or Failed) from its object, with
        ``found_in_s3``; only when neither its output nor its failure exists is it Expired.
        """
        if not (
            record.status == InferenceStatus.SUBMITTED
            and record.expires_by
            and self._clock() > record.expires_by
        ):
            return record
        with self._waiter_lock:
            known = self._s3_checked.get(record.inference_id)
        if known is None:
            known = self._check_s3(record, stats)
            with self._waiter_lock:
                self._s3_checked[record.inference_id] = known
        status, location = known
        if status == InferenceStatus.COMPLETED:
            return replace(record, status=status, output_location=location, found_in_s3=True)
        if status == InferenceStatus.FAILED:
            return replace(
                record,
                status=status,
                failure_location=location,
                failure_reason=FOUND_FAILURE_REASON,
                found_in_s3=True,
            )
        return replace(record, status=InferenceStatus.EXPIRED)

    def _check_s3(
        self, record: InferenceRecord, stats: WaiterStats | None
    ) -> tuple[InferenceStatus, str | None]:
        candidates = (
            (InferenceStatus.COMPLETED, record.item.get("submittedOutputLocation", {}).get("S")),
            (InferenceStatus.FAILED, record.item.get("submittedFailureLocation", {}).get("S")),
        )
        for status, location in candidates:
            if not location or self._s3 is None:
                continue
            bucket, key = split_s3_uri(location)
            if stats is not None:
                stats.calls["HeadObject"] += 1
            try:
                self._s3.head_object(Bucket=bucket, Key=key)
            except Exception as error:
                if _error_code(error) in ("404", "NoSuchKey", "NotFound"):
                    continue
                raise
            return status, location
        return InferenceStatus.EXPIRED, None

    def wait(
        self,
        inference_id: str,
        timeout: float = 60.0,
        interval: float | None = None,
        *,
        routed: bool = False,
    ) -> InferenceRecord:
        """Wait for the handler's record; raises :class:`InferenceTimeoutError` after ``timeout`` seconds.

        The result is there as soon as the record says Completed, Failed or Expired (a Submitted record
        past its expiry moment, after the one S3 check). With ``routed``, also wait until the result
        handlers are done with it (``routing`` no longer ``InProgress``), e.g. to read ``routed_to`` or a
        routing failure.

        One consistent read first; then the client's one waiter resolves it with every other pending
        request (the results stream, else batched reads), so a thousand waits in threads cost what one
        batch does, not a read per request every 100 ms. ``interval`` is accepted for compatibility and
        no longer used.
        """
        del interval
        deadline = time.monotonic() + timeout
        record = self.status(inference_id)
        if self._waited_enough(record, routed):
            return record
        check_by = None
        if record.done:  # in, with the handlers still at work: the store says when they are done
            check_by = time.monotonic()
        elif record.expires_by is not None:
            # A little after the moment, so that the read finds it past its expiry.
            left = (record.expires_by - self._clock()).total_seconds()
            check_by = time.monotonic() + max(0.0, left) + 0.1
        future = InferenceFuture(
            self,
            Submission(
                inference_id=inference_id,
                input_location=None,
                output_location=record.output_location or "",
                failure_location=record.failure_location,
                submitted_at=record.submitted_at or self._clock(),
            ),
        )
        self.waiter.watch(future, routed=routed, check_by=check_by)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except InferenceError as error:
            return error.record
        except FutureTimeoutError:
            future.cancel()
            latest = self.status(inference_id)
            if self._waited_enough(latest, routed):
                return latest
            raise InferenceTimeoutError(
                f"no result for {inference_id} within {timeout}s (status {latest.status})"
            ) from None

    @staticmethod
    def _waited_enough(record: InferenceRecord, routed: bool) -> bool:
        return record.done and not (routed and record.routing == contract.ROUTING_IN_PROGRESS)

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


def _error_code(error: Exception) -> str:
    return str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))


def record_from_stream(inference_id: str, item: dict[str, Any]) -> InferenceRecord:
    """An :class:`InferenceRecord` from a result record as the destinations send it (plain JSON)."""

    def attribute(value: Any) -> dict[str, Any]:
        if isinstance(value, list):
            return {"L": [attribute(v) for v in value]}
        if isinstance(value, dict):
            return {"M": {k: attribute(v) for k, v in value.items()}}
        if isinstance(value, bool):
            return {"BOOL": value}
        if isinstance(value, int | float):
            return {"N": str(value)}
        return {"S": str(value)}

    return _record_from_item(inference_id, {k: attribute(v) for k, v in item.items() if v is not None})


def _progress_reporter(
    progress: bool | Callable[[int, int | None], None], total: int | None
) -> tuple[Callable[[int, int | None], None], Callable[[], None]]:
    """``(report, finish)``: a rich progress bar (when asked and installed), the caller's callback, or nothing."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return (lambda done, total: None), lambda: None
    try:
        from rich.progress import Progress
    except ImportError:  # the base install: no bar, no failure
        return (lambda done, total: None), lambda: None
    bar = Progress()
    task = bar.add_task("inferences", total=total)
    bar.start()

    def report(done: int, total: int | None) -> None:
        bar.update(task, completed=done)

    return report, bar.stop


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
