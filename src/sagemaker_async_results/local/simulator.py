"""An asynchronous inference endpoint that behaves like SageMaker's, for the local run.

moto stores endpoints and their configs but its ``InvokeEndpointAsync`` ignores the config and publishes
nothing. This simulator reads the deployed endpoint config and does what SageMaker does: queue the
request, run the model with bounded concurrency, write the output (or the error) to S3 with SageMaker's
naming, and publish the ``InferenceResult`` notification to the success or error topic.

It serves every endpoint whose config has an ``AsyncInferenceConfig``, however it was created: by the
deployed stack, or later through the SageMaker API (the SageMaker Python SDK's ``deploy``, boto3,
``async-results attach``). An endpoint is looked up on its first request, and its config is read again
when it may have changed (``UpdateEndpoint``), so a swapped config takes effect as it does in SageMaker.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sagemaker_async_results.client.client import split_s3_uri
from sagemaker_async_results.local.model import Model, ModelError, ModelOutput

logger = logging.getLogger(__name__)

#: SageMaker includes a response in the notification only up to this size.
INLINE_RESPONSE_LIMIT = 128 * 1024
#: Inline request bodies (``Body``) are accepted up to this size.
INLINE_REQUEST_LIMIT = 128_000
_VISIBLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


class EndpointValidationError(ValueError):
    """The request breaks a documented InvokeEndpointAsync limit (SageMaker answers 400)."""


#: ``failureReason`` of a request stopped at its ``InvocationTimeoutSeconds``. AWS documents that such a
#: request is "marked as expired" and counted in the endpoint metric ``ExpiredRequests``, not the text of
#: its notification: this wording is the local run's own.
TIMEOUT_FAILURE_REASON = (
    "ClientError: The invocation exceeded its InvocationTimeoutSeconds ({seconds} s) and was stopped."
)


@dataclass(frozen=True)
class EndpointSettings:
    """What the simulator honours of a deployed endpoint config."""

    endpoint_name: str
    output_path: str
    failure_path: str | None
    success_topic: str | None
    error_topic: str | None
    include_response_in: frozenset[str]
    max_concurrency: int
    kms_key_id: str | None = None
    #: ``bucket/key`` patterns the execution role may ``s3:GetObject`` (``None``: not known, not checked).
    readable_inputs: tuple[str, ...] | None = None
    execution_role: str | None = None
    #: The endpoint config these settings were read from (a changed name means ``UpdateEndpoint`` ran).
    config_name: str = ""

    def may_read(self, location: str) -> bool:
        """Whether the execution role's policies let SageMaker download ``location`` (``s3://bucket/key``)."""
        if self.readable_inputs is None:
            return True
        bucket, key = split_s3_uri(location)
        return any(fnmatch.fnmatchcase(f"{bucket}/{key}", pattern) for pattern in self.readable_inputs)

    @classmethod
    def from_endpoint(cls, sagemaker: Any, endpoint_name: str, iam: Any = None) -> EndpointSettings:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        return cls.from_config(sagemaker, endpoint_name, endpoint["EndpointConfigName"], iam)

    @classmethod
    def from_config(
        cls, sagemaker: Any, endpoint_name: str, config_name: str, iam: Any = None
    ) -> EndpointSettings:
        """The settings of ``endpoint_name`` serving the endpoint config ``config_name``."""
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        async_config = config.get("AsyncInferenceConfig")
        if not async_config:
            raise EndpointValidationError(
                f"Endpoint {endpoint_name} is not an asynchronous endpoint: its config {config_name} has "
                "no AsyncInferenceConfig (InvokeEndpointAsync needs one)"
            )
        output = async_config["OutputConfig"]
        notification = output.get("NotificationConfig", {})
        per_instance = async_config.get("ClientConfig", {}).get("MaxConcurrentInvocationsPerInstance", 4)
        instances = sum(int(v.get("InitialInstanceCount", 1)) for v in config["ProductionVariants"])
        role = None
        models = [v["ModelName"] for v in config["ProductionVariants"] if v.get("ModelName")]
        if models:
            role = sagemaker.describe_model(ModelName=models[0]).get("ExecutionRoleArn")
        readable = readable_objects(iam, role) if iam is not None and role else None
        return cls(
            endpoint_name=endpoint_name,
            output_path=output["S3OutputPath"].rstrip("/"),
            failure_path=output.get("S3FailurePath", "").rstrip("/") or None,
            success_topic=notification.get("SuccessTopic"),
            error_topic=notification.get("ErrorTopic"),
            include_response_in=frozenset(notification.get("IncludeInferenceResponseIn", [])),
            max_concurrency=max(1, int(per_instance) * max(1, instances)),
            kms_key_id=output.get("KmsKeyId"),
            readable_inputs=readable,
            execution_role=role,
            config_name=config_name,
        )


def readable_objects(iam: Any, role_arn: str) -> tuple[str, ...] | None:
    """``bucket/key`` patterns of the ``s3:GetObject`` grants in the role's policies (inline and attached).

    SageMaker downloads a request's input with the endpoint's execution role, so an input the role cannot
    read fails in AWS. ``None`` when the role or its policies cannot be read (then nothing is refused).
    """
    name = role_arn.rsplit("/", 1)[-1]
    documents: list[Any] = []
    try:
        for policy in iam.list_role_policies(RoleName=name).get("PolicyNames", []):
            documents.append(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
        for attached in iam.list_attached_role_policies(RoleName=name).get("AttachedPolicies", []):
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            documents.append(
                iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            )
    except Exception as error:
        logger.warning(
            "cannot read the policies of %s (%s): input locations are not checked", role_arn, error
        )
        return None
    patterns: list[str] = []
    for document in documents:
        if isinstance(document, str):
            document = json.loads(urllib.parse.unquote(document))
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            if statement.get("Effect") != "Allow" or not any(
                fnmatch.fnmatchcase("s3:getobject", str(a).lower()) for a in actions
            ):
                continue
            resources = statement.get("Resource", [])
            for resource in [resources] if isinstance(resources, str) else resources:
                if resource == "*":
                    patterns.append("*")
                elif isinstance(resource, str) and resource.startswith("arn:aws:s3:::"):
                    patterns.append(resource.removeprefix("arn:aws:s3:::"))
    return tuple(patterns)


@dataclass
class Invocation:
    endpoint: EndpointSettings
    inference_id: str
    input_location: str | None
    inline_body: bytes | None
    content_type: str
    accept: str | None
    custom_attributes: str | None
    ttl_seconds: int
    timeout_seconds: int
    output_location: str
    failure_location: str | None
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Served:
    """An endpoint the simulator serves: its settings, its worker pool, when its config was last read."""

    settings: EndpointSettings
    pool: ThreadPoolExecutor
    checked_at: float


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class AsyncEndpointSimulator:
    """Serves ``InvokeEndpointAsync`` for the endpoints deployed in the emulator.

    Parameters
    ----------
    s3, sns, sagemaker:
        boto3 clients (injectable; the local run points them at the emulator).
    model:
        The callable run for each request (see :mod:`sagemaker_async_results.local.model`).
    iam:
        A boto3 IAM client: with it, inputs the endpoint's execution role may not read fail as in AWS
        (a ``Failed`` notification, no model call); without it every input is read.
    config_refresh_seconds:
        How long an endpoint's config is trusted before a request reads it again (one
        ``DescribeEndpoint``), so that a config swapped by ``UpdateEndpoint`` serves the next requests.
        SageMaker itself takes minutes to swap; a second keeps the local run's cost per request low.
    """

    def __init__(
        self,
        *,
        s3: Any,
        sns: Any,
        sagemaker: Any,
        model: Model,
        region: str = "us-east-1",
        iam: Any = None,
        config_refresh_seconds: float = 1.0,
        role_clients: Callable[[str, str], Any] | None = None,
    ) -> None:
        self._s3, self._sns, self._sagemaker, self._model = s3, sns, sagemaker, model
        #: ``(execution role ARN, service) -> client`` signed as that role, as SageMaker reads, writes
        #: and publishes with the endpoint's execution role (``None``: ``s3`` and ``sns`` for every endpoint).
        self._role_clients = role_clients
        self._iam = iam
        self._region = region
        self._refresh_seconds = config_refresh_seconds
        self._served: dict[str, _Served] = {}
        #: Pools of configs an update replaced: shut down (after their accepted requests) on close.
        self._retired: list[ThreadPoolExecutor] = []
        self._futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self.outcomes: Counter[str] = Counter()
        #: ``time.perf_counter()`` when each inference's output (or error) object was written, for benchmarks.
        self.written_at: dict[str, float] = {}
        self._notifications_to_lose = 0
        self._inference_ids_to_lose: set[str] = set()
        #: Inference ID -> (topic ARN, message) of each notification lost on purpose (see
        #: :meth:`lose_notifications`), so a caller can deliver it late.
        self.lost_notifications: dict[str, tuple[str, str]] = {}

    # -- endpoint lifecycle -------------------------------------------------------------------------
    def start_endpoint(self, endpoint_name: str) -> EndpointSettings:
        """Load the deployed config and send the ``TestNotification`` SageMaker sends on creation."""
        settings = EndpointSettings.from_endpoint(self._sagemaker, endpoint_name, self._iam)
        self._serve(settings)
        return settings

    def _serve(self, settings: EndpointSettings) -> None:
        """Serve ``settings`` (a new endpoint, or a new config of a served one) and send the test message.

        A new config gets a new pool sized by its concurrency; requests already accepted finish in the
        old one, as in-flight requests finish on the old instances during a SageMaker update.
        """
        pool = ThreadPoolExecutor(
            max_workers=settings.max_concurrency, thread_name_prefix=f"endpoint-{settings.endpoint_name}"
        )
        with self._lock:
            previous = self._served.get(settings.endpoint_name)
            self._served[settings.endpoint_name] = _Served(settings, pool, time.monotonic())
            if previous is not None:
                self._retired.append(previous.pool)
        if previous is not None:
            previous.pool.shutdown(wait=False)
            logger.info(
                "endpoint %s now serves config %s (was %s)",
                settings.endpoint_name,
                settings.config_name,
                previous.settings.config_name,
            )
        test = {"eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "TestNotification"}
        for topic in {settings.success_topic, settings.error_topic} - {None}:
            self._client("sns", settings).publish(TopicArn=topic, Message=json.dumps(test))

    def _client(self, service: str, settings: EndpointSettings | None) -> Any:
        """The ``s3`` or ``sns`` client of ``settings``' execution role (see ``role_clients``)."""
        if self._role_clients is not None and settings is not None and settings.execution_role:
            return self._role_clients(settings.execution_role, service)
        return self._s3 if service == "s3" else self._sns

    def lose_notifications(self, count: int = 0, *, inference_ids: Iterable[str] = ()) -> None:
        """Do not publish the next ``count`` result notifications, nor those of ``inference_ids``.

        As SageMaker's ``NotificationFailures``: the output (or failure) object is still written, so only
        what reads S3 (recovery) can find the result. Each lost message is kept in
        :attr:`lost_notifications`.
        """
        with self._lock:
            self._notifications_to_lose += count
            self._inference_ids_to_lose.update(inference_ids)

    @property
    def endpoints(self) -> dict[str, EndpointSettings]:
        """The endpoints served so far, by name, with the settings each serves now."""
        with self._lock:
            return {name: served.settings for name, served in self._served.items()}

    def endpoint(self, endpoint_name: str) -> EndpointSettings:
        """The settings ``endpoint_name`` serves now: looked up on its first request, re-read when stale."""
        return self._current(endpoint_name).settings

    def _current(self, endpoint_name: str) -> _Served:
        with self._lock:
            served = self._served.get(endpoint_name)
        if served is not None and time.monotonic() - served.checked_at < self._refresh_seconds:
            return served
        from botocore.exceptions import ClientError

        try:
            described = self._sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as error:
            if served is not None:  # the emulator hiccuped: keep serving what was deployed
                logger.warning("cannot re-read endpoint %s (%s): config kept", endpoint_name, error)
                return served
            raise EndpointValidationError(
                f"Endpoint {endpoint_name} not found: create it (with an AsyncInferenceConfig) first"
            ) from None
        config_name = described["EndpointConfigName"]
        if served is not None and served.settings.config_name == config_name:
            served.checked_at = time.monotonic()
            return served
        self._serve(EndpointSettings.from_config(self._sagemaker, endpoint_name, config_name, self._iam))
        with self._lock:
            return self._served[endpoint_name]

    # -- the API ------------------------------------------------------------------------------------
    def invoke_endpoint_async(
        self,
        *,
        EndpointName: str,
        InputLocation: str | None = None,
        Body: bytes | None = None,
        ContentType: str = "application/octet-stream",
        Accept: str | None = None,
        CustomAttributes: str | None = None,
        InferenceId: str | None = None,
        RequestTTLSeconds: int = 21600,
        InvocationTimeoutSeconds: int = 900,
        Filename: str | None = None,
        S3OutputPathExtension: str | None = None,
    ) -> dict[str, str]:
        served = self._current(EndpointName)
        endpoint = served.settings
        problems = []
        if (InputLocation is None) == (Body is None):
            problems.append("exactly one of InputLocation and Body is required")
        if InputLocation is not None:
            try:
                split_s3_uri(InputLocation)
            except ValueError:
                problems.append(f"InputLocation must be s3://bucket/key, got {InputLocation!r}")
        if Body is not None and len(Body) > INLINE_REQUEST_LIMIT:
            problems.append(f"Body is {len(Body)} bytes, at most {INLINE_REQUEST_LIMIT} expected")
        if InferenceId is not None and not 1 <= len(InferenceId) <= 64:
            problems.append(f"InferenceId must be 1-64 characters, got {len(InferenceId)}")
        if CustomAttributes is not None and (
            len(CustomAttributes) > 1024 or not _VISIBLE_ASCII.match(CustomAttributes)
        ):
            problems.append("CustomAttributes must be at most 1024 visible US-ASCII characters")
        if not 60 <= int(RequestTTLSeconds) <= 21600:
            problems.append(f"RequestTTLSeconds must be 60-21600, got {RequestTTLSeconds}")
        if not 1 <= int(InvocationTimeoutSeconds) <= 3600:
            problems.append(f"InvocationTimeoutSeconds must be 1-3600, got {InvocationTimeoutSeconds}")
        if problems:
            raise EndpointValidationError("; ".join(problems))

        inference_id = InferenceId or str(uuid.uuid4())
        name = Filename or f"{inference_id}.out"
        extension = f"/{S3OutputPathExtension.strip('/')}" if S3OutputPathExtension else ""
        output_location = f"{endpoint.output_path}{extension}/{name}"
        failure_location = (
            f"{endpoint.failure_path}{extension}/{inference_id}-error.out" if endpoint.failure_path else None
        )
        invocation = Invocation(
            endpoint=endpoint,
            inference_id=inference_id,
            input_location=InputLocation,
            inline_body=Body,
            content_type=ContentType,
            accept=Accept,
            custom_attributes=CustomAttributes,
            ttl_seconds=int(RequestTTLSeconds),
            timeout_seconds=int(InvocationTimeoutSeconds),
            output_location=output_location,
            failure_location=failure_location,
        )
        future = served.pool.submit(self._process, invocation)
        with self._lock:
            self._futures.append(future)
        response = {"InferenceId": inference_id, "OutputLocation": output_location}
        if failure_location:
            response["FailureLocation"] = failure_location
        return response

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every accepted request has been processed (or expired)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            future.result(timeout=remaining)

    def close(self) -> None:
        with self._lock:
            pools = [served.pool for served in self._served.values()] + self._retired
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- processing ---------------------------------------------------------------------------------
    def _process(self, invocation: Invocation) -> None:
        queued = (datetime.now(UTC) - invocation.received_at).total_seconds()
        if queued > invocation.ttl_seconds:
            # SageMaker counts these in ExpiredRequests; no notification is documented, so none is sent.
            self._count("expired")
            logger.warning("request %s expired in the queue after %.1fs", invocation.inference_id, queued)
            return
        location = invocation.input_location
        if location is not None and not invocation.endpoint.may_read(location):
            # SageMaker accepts the request, then cannot download it with the execution role.
            self._count("download_failed")
            self._fail_download(invocation, location)
            return
        try:
            body = self._read_input(invocation)
            output = self._run_model(invocation, body)
        except TimeoutError:
            self._count("timed_out")
            logger.warning(
                "request %s exceeded InvocationTimeoutSeconds (%s s): failed",
                invocation.inference_id,
                invocation.timeout_seconds,
            )
            self._time_out(invocation)
            return
        except ModelError as error:
            self._fail(invocation, error)
            return
        except Exception as error:  # input missing, model crashed: SageMaker reports a failure too
            self._fail(invocation, ModelError(500, json.dumps({"message": str(error)}).encode()), str(error))
            return
        self._succeed(invocation, output)

    def _read_input(self, invocation: Invocation) -> bytes:
        if invocation.inline_body is not None:
            return invocation.inline_body
        assert invocation.input_location is not None
        bucket, key = split_s3_uri(invocation.input_location)
        s3 = self._client("s3", invocation.endpoint)
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def _run_model(self, invocation: Invocation, body: bytes) -> ModelOutput:
        outcome: dict[str, Any] = {}

        def call() -> None:
            try:
                outcome["output"] = self._model(body, invocation.content_type, invocation.custom_attributes)
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=call, daemon=True, name=f"model-{invocation.inference_id}")
        worker.start()
        worker.join(invocation.timeout_seconds)
        if worker.is_alive():
            raise TimeoutError(invocation.inference_id)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["output"]

    def _succeed(self, invocation: Invocation, output: ModelOutput) -> None:
        self._put(invocation.output_location, output.body, output.content_type, invocation.endpoint)
        self.written_at[invocation.inference_id] = time.perf_counter()
        message = self._message(invocation, "Completed")
        message["responseParameters"] = {
            "contentType": output.content_type,
            "outputLocation": invocation.output_location,
        }
        self._inline(message, output.body, "SUCCESS_NOTIFICATION_TOPIC", invocation.endpoint)
        self._publish(invocation.endpoint.success_topic, message)
        self._count("completed")

    def _fail(self, invocation: Invocation, error: ModelError, detail: str | None = None) -> None:
        message = self._message(invocation, "Failed")
        message["failureReason"] = (detail and f"ClientError: {detail}") or (
            f"ClientError: Received server error ({error.status}) from model. "
            "See the SageMaker Endpoint logs in your account for more information."
        )
        if invocation.failure_location:
            self._put(invocation.failure_location, error.body, error.content_type, invocation.endpoint)
            self.written_at[invocation.inference_id] = time.perf_counter()
            message["responseParameters"] = {
                "contentType": error.content_type,
                "failureLocation": invocation.failure_location,
            }
        self._inline(message, error.body, "ERROR_NOTIFICATION_TOPIC", invocation.endpoint)
        self._publish(invocation.endpoint.error_topic, message)
        self._count("failed")

    def _time_out(self, invocation: Invocation) -> None:
        """End a request whose model ran past its ``InvocationTimeoutSeconds``: an error object at its
        failure location and a ``Failed`` notification, so a waiting client learns it at once.

        The model's thread cannot be killed; it runs on and its late answer is dropped, as SageMaker
        drops a response that comes after the request expired.
        """
        reason = TIMEOUT_FAILURE_REASON.format(seconds=invocation.timeout_seconds)
        error = ModelError(
            408,
            json.dumps(
                {
                    "code": "InvocationTimeout",
                    "message": reason.removeprefix("ClientError: "),
                    "invocationTimeoutSeconds": invocation.timeout_seconds,
                }
            ).encode(),
        )
        message = self._message(invocation, "Failed")
        message["failureReason"] = reason
        if invocation.failure_location:
            self._put(invocation.failure_location, error.body, error.content_type, invocation.endpoint)
            self.written_at[invocation.inference_id] = time.perf_counter()
            message["responseParameters"] = {
                "contentType": error.content_type,
                "failureLocation": invocation.failure_location,
            }
        self._publish(invocation.endpoint.error_topic, message)
        self._count("failed")

    def _fail_download(self, invocation: Invocation, location: str) -> None:
        message = self._message(invocation, "Failed")
        message["failureReason"] = (
            f"ClientError: Failed to download the request from {location}: Access Denied. The endpoint's "
            f"execution role ({invocation.endpoint.execution_role}) may read only "
            + ", ".join(f"s3://{p}" for p in invocation.endpoint.readable_inputs or ())
        )
        self._publish(invocation.endpoint.error_topic, message)
        self._count("failed")

    def _message(self, invocation: Invocation, status: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "contentType": invocation.content_type,
            "endpointName": invocation.endpoint.endpoint_name,
        }
        if invocation.input_location:
            request["inputLocation"] = invocation.input_location
        if invocation.accept:
            request["accept"] = invocation.accept
        if invocation.custom_attributes:
            request["customAttributes"] = invocation.custom_attributes
        return {
            "awsRegion": self._region,
            "eventTime": _iso(datetime.now(UTC)),
            "receivedTime": _iso(invocation.received_at),
            "invocationStatus": status,
            "requestParameters": request,
            "inferenceId": invocation.inference_id,
            "eventVersion": "1.0",
            "eventSource": "aws:sagemaker",
            "eventName": "InferenceResult",
        }

    @staticmethod
    def _inline(message: dict[str, Any], body: bytes, topic_kind: str, endpoint: EndpointSettings) -> None:
        if topic_kind in endpoint.include_response_in and len(body) <= INLINE_RESPONSE_LIMIT:
            message["responseBody"] = {
                "content": base64.b64encode(body).decode(),
                "encoding": "BASE64",
                "message": "",
            }

    def _put(self, location: str, body: bytes, content_type: str, endpoint: EndpointSettings) -> None:
        bucket, key = split_s3_uri(location)
        extra: dict[str, str] = {}
        if endpoint.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": endpoint.kms_key_id}
        s3 = self._client("s3", endpoint)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, **extra)

    def _publish(self, topic: str | None, message: dict[str, Any]) -> None:
        if topic is None:
            self._count("unnotified")
            return
        inference_id = str(message["inferenceId"])
        with self._lock:
            lose = self._notifications_to_lose > 0 or inference_id in self._inference_ids_to_lose
            if lose:
                if inference_id in self._inference_ids_to_lose:
                    self._inference_ids_to_lose.discard(inference_id)
                else:
                    self._notifications_to_lose -= 1
                self.lost_notifications[str(message["inferenceId"])] = (topic, json.dumps(message))
                self.outcomes["notification_failed"] += 1
        if lose:
            logger.warning(
                "notification of %s lost on purpose (NotificationFailures)", message["inferenceId"]
            )
            return
        endpoint = self.endpoints.get(str(message.get("requestParameters", {}).get("endpointName")))
        self._client("sns", endpoint).publish(TopicArn=topic, Message=json.dumps(message))

    def _count(self, outcome: str) -> None:
        with self._lock:
            self.outcomes[outcome] += 1
