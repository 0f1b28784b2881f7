"""Submit asynchronous inferences and await their results without polling S3.

This module submits (``invoke``, ``submit``, ``map``, asyncio helpers) and holds the pieces together:
the result store reader (:mod:`~sagemaker_async_results.client.store`), the futures
(:mod:`~sagemaker_async_results.client.futures`) and the one waiter per client
(:mod:`~sagemaker_async_results.client.waiter`) with its push source: the caller's own reply queue when
the stack has the reply-queue destination (the default), else the Kinesis results stream when it has
one (:mod:`~sagemaker_async_results.client.sources`). Futures and the waiter never import this module.
The output is read from S3 once, when the caller asks for it (not at all when it came inline).

The same client works against real AWS and against the local run: only the boto3 clients differ.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sized
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.client.errors import (
    InferenceError,
    InferenceTimeoutError,
    ResourcesNotFoundError,
)
from sagemaker_async_results.client.futures import InferenceFuture, as_completed
from sagemaker_async_results.client.lambda_events import sns_lambda_event
from sagemaker_async_results.client.records import (
    InferenceRecord,
    InferenceStatus,
    Submission,
    error_code,
    parse_time,
    record_from_item,
    record_from_json,
    split_s3_uri,
)
from sagemaker_async_results.client.resources import (
    REPLY_QUEUE_KEY_OUTPUT,
    REPLY_QUEUE_PREFIX_OUTPUT,
    RESULTS_STREAM_OUTPUT,
    DeployedConstruct,
    StackResources,
    find_constructs,
    output_prefixes,
)
from sagemaker_async_results.client.sources.reply_queue import ReplyQueueSource
from sagemaker_async_results.client.sources.stream import StreamSource
from sagemaker_async_results.client.store import FOUND_FAILURE_REASON, ResultStoreReader
from sagemaker_async_results.client.waiter import PushSource, ResultWaiter, WaiterStats

__all__ = [
    "FOUND_FAILURE_REASON",
    "REPLY_TO_ATTRIBUTE",
    "RESULTS_STREAM_OUTPUT",
    "AsyncInferenceClient",
    "DeployedConstruct",
    "InferenceRecord",
    "InferenceStatus",
    "InferenceTimeoutError",
    "RedriveReport",
    "ResourcesNotFoundError",
    "StackResources",
    "Submission",
    "event_from_dead_letter",
    "find_constructs",
    "output_prefixes",
    "record_from_item",
    "record_from_json",
    "split_s3_uri",
]

#: SageMaker's defaults when a request does not set them.
DEFAULT_TTL_SECONDS = 21600
DEFAULT_INVOCATION_TIMEOUT_SECONDS = 900
#: ``Body`` of InvokeEndpointAsync: at most this many bytes.
INLINE_BODY_LIMIT = 128_000
#: Submitted-record attribute naming the caller's reply queue (its URL), read by the function.
REPLY_TO_ATTRIBUTE = contract.REPLY_TO_ATTRIBUTE


@dataclass(frozen=True)
class RedriveReport:
    replayed: int = 0
    still_failing: int = 0
    errors: tuple[str, ...] = ()


class AsyncInferenceClient:
    """Client for an endpoint deployed by this project's stack.

    Parameters
    ----------
    resources:
        From :meth:`StackResources.from_stack`.
    s3, sagemaker_runtime, dynamodb, lambda_client, sqs, kinesis:
        boto3 clients (``lambda_client`` only for :meth:`redrive`; ``sqs`` for the reply queue and
        :meth:`redrive`; ``kinesis`` for the results stream).
    clock:
        Returns "now"; injectable for tests of the expiry rule.
    push:
        How results reach the waiter besides the result store: ``auto`` (default: the caller's own
        reply queue when the stack has the reply-queue destination, output ``ReplyQueuePrefix``; else
        the Kinesis results stream when it has one), ``reply-queue``, ``stream``, or ``none`` (batched
        reads of the store only). ``use_stream=False`` is the older spelling of "not the stream".
    sources:
        Push sources to use instead (tests, benches).
    endpoint_name:
        The endpoint to invoke, instead of the stack's ``EndpointName`` output (needed when the stack
        serves several endpoints).

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
        push: str = "auto",
        sources: list[PushSource] | None = None,
        endpoint_name: str | None = None,
    ) -> None:
        if push not in ("auto", "reply-queue", "stream", "none"):
            raise ValueError(f"push={push!r}: expected 'auto', 'reply-queue', 'stream' or 'none'")
        if endpoint_name:
            from dataclasses import replace

            resources = replace(resources, endpoint_name=endpoint_name)
        self.resources = resources
        self._s3, self._runtime, self._dynamodb = s3, sagemaker_runtime, dynamodb
        self._lambda, self._sqs, self._kinesis = lambda_client, sqs, kinesis
        self._clock = clock
        self.store = ResultStoreReader(resources.results_table, dynamodb=dynamodb, s3=s3, clock=clock)
        self._push = push if use_stream or push != "auto" else "reply-queue"
        self._sources = sources
        self._waiter: ResultWaiter | None = None
        self._waiter_lock = threading.Lock()
        #: Closes the waiter when this client is closed, garbage collected or the interpreter exits.
        self._closer: weakref.finalize[..., Any] | None = None

    def _push_sources(self) -> list[PushSource]:
        """The push source the stack offers: the caller's reply queue, else the results stream, else none.

        ``push`` chooses: ``auto`` (that order), ``reply-queue``, ``stream`` or ``none`` (store only).
        """
        if self._sources is not None:
            return self._sources
        outputs = self.resources.outputs
        prefix = outputs.get(REPLY_QUEUE_PREFIX_OUTPUT)
        stream = outputs.get(RESULTS_STREAM_OUTPUT)
        if self._push in ("auto", "reply-queue") and prefix and self._sqs is not None:
            return [ReplyQueueSource(prefix, self._sqs, kms_key=outputs.get(REPLY_QUEUE_KEY_OUTPUT))]
        if self._push in ("auto", "stream") and stream and self._kinesis is not None:
            return [StreamSource(stream, self._kinesis)]
        return []

    def _reply_to(self) -> str | None:
        """The URL of this process's reply queue (created at the first submit), if the waiter has one."""
        for source in self.waiter.sources:
            if isinstance(source, ReplyQueueSource):
                return source.try_address()
        return None

    @classmethod
    def from_stack(
        cls,
        stack_name: str,
        session: Any = None,
        *,
        output_prefix: str | None = None,
        push: str = "auto",
        endpoint_name: str | None = None,
        **client_kwargs: Any,
    ) -> AsyncInferenceClient:
        """Build from a deployed stack's outputs.

        Endpoints and credentials come from boto3's usual configuration (profile, ``AWS_ENDPOINT_URL*``);
        ``client_kwargs`` go to every boto3 client (e.g. ``endpoint_url``, ``config``). ``endpoint_name``
        is needed when the stack serves several endpoints (it then has no ``EndpointName`` output).
        """
        import boto3

        session = session or boto3.Session()
        resources = StackResources.from_stack(
            session.client("cloudformation", **client_kwargs), stack_name, output_prefix
        )
        return cls.from_resources(resources, session, push=push, endpoint_name=endpoint_name, **client_kwargs)

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
        cls,
        resources: StackResources,
        session: Any = None,
        *,
        push: str = "auto",
        endpoint_name: str | None = None,
        **client_kwargs: Any,
    ) -> AsyncInferenceClient:
        """Build from resources already known, with clients from ``session`` (default: boto3's).

        ``push`` and ``endpoint_name``: see the class; ``client_kwargs`` go to every boto3 client.
        """
        import boto3

        options: dict[str, Any] = {"push": push, "endpoint_name": endpoint_name}
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
            **options,
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
        if not self.resources.endpoint_name:
            raise ResourcesNotFoundError(
                "no endpoint to invoke: the stack has no EndpointName output (it serves several endpoints "
                "or none); received endpoint_name=None, expected the endpoint's name "
                "(AsyncInferenceClient.from_stack(..., endpoint_name=...))"
            )
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
                # Where the result function sends the result record (this process's reply queue).
                REPLY_TO_ATTRIBUTE: self._reply_to(),
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
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            item = self._dynamodb.get_item(
                TableName=self.resources.results_table, Key=arguments["Key"], ConsistentRead=True
            )["Item"]
            return Submission(
                inference_id=inference_id,
                input_location=item.get("inputLocation", {}).get("S"),
                output_location=item["submittedOutputLocation"]["S"],
                failure_location=item.get("submittedFailureLocation", {}).get("S"),
                submitted_at=parse_time(item.get("submittedAt", {}).get("S")) or self._clock(),
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
        """A future for a request submitted earlier (e.g. by another process).

        Its result is not pushed to this process's reply queue (the request named another's, or none):
        the store is read for it at the store-only pace. The stream carries every result.
        """
        future = InferenceFuture(self, submission)
        self.waiter.watch(future, pushed=self._pushed_here(None))
        return future

    def _pushed_here(self, reply_to: str | None) -> bool | None:
        """Whether a request naming ``reply_to`` is pushed to this client (``None``: the waiter decides)."""
        for source in self.waiter.sources:
            if isinstance(source, ReplyQueueSource):
                return reply_to is not None and reply_to == source.url
        return None

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
        """The client's one waiter (created on first use, with the push source the stack offers)."""
        with self._waiter_lock:
            if self._waiter is None:
                self._waiter = ResultWaiter(self.store, sources=self._push_sources())
                # A client dropped without close() (a test's, a notebook cell's) must not leave its
                # threads running: their heartbeats and receives would go on against a stack or
                # emulator long gone, and its reply queue would wait for the sweeper. The finalizer
                # holds the waiter, not the client; a pending future holds the client, so the client
                # is never collected while one of its futures can still resolve.
                self._closer = weakref.finalize(self, self._waiter.close)
            return self._waiter

    def close(self) -> None:
        """Stop the waiter and its push sources and delete the reply queue (pending futures stay
        pending). Also done when the client is garbage collected or the interpreter exits."""
        if self._closer is not None and self._closer.alive:
            self._closer()
        elif self._waiter is not None:  # closed before and used again
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
        return self.store.batch_status(inference_ids, stats.calls if stats is not None else None)

    # -- read ---------------------------------------------------------------------------------------
    def status(self, inference_id: str) -> InferenceRecord:
        """The current record; ``Submitted`` past its expiry moment is reported as ``Expired``."""
        return self.store.status(inference_id)

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
        reply_to = record.item.get(REPLY_TO_ATTRIBUTE, {}).get("S")
        self.waiter.watch(future, routed=routed, check_by=check_by, pushed=self._pushed_here(reply_to))
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
