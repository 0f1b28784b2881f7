"""Recovery: route, exactly once, a result whose SageMaker notification never arrived.

Handler string ``sagemaker_async_results.runtime.recovery.handler`` (``contract.RECOVERY_LAMBDA_HANDLER``),
in the same code asset as the result-handler functions. Its event is an SQS event from the recovery
queue, each message an S3 ``ObjectCreated`` event delayed by the queue's ``DelaySeconds`` (default 900 s),
so a result has that long to be routed by its own notification first.

Per S3 record:

1. **Name**: the key must be SageMaker's: ``<output prefix><inference id>.out`` (Completed) or
   ``<failure prefix><inference id>-error.out`` (Failed), in the bucket and prefixes the function was
   given (``RECOVERY_OUTPUT_LOCATION``, ``RECOVERY_FAILURE_LOCATION``), the inference ID 1-64
   characters without ``/``. Anything else is *foreign*: logged and skipped, never an error (S3's
   ``s3:TestEvent`` too). Objects named by ``Filename`` / ``S3OutputPathExtension`` of a request are
   foreign for the same reason: nothing in their name says which request they answer.
2. **Was it notified?** A consistent read of the result record: a ``routing`` attribute means a
   notification reached the runtime (``Routed``: done; ``InProgress`` / ``Failed``: the notification's
   own retries and dead-letter queue own it). Without one, the exactly-once lock of the result
   (``idempotency#result#<id>#<status>``) says the same when the result store is off.
3. **Is it a request we know?** With ``RECOVERY_REQUIRE_SUBMITTED_RECORD`` (default ``true``) only a
   request whose ``Submitted`` record the client wrote is recovered; an object of a request made
   without the client (or a test object named like SageMaker's) is logged and left alone.
4. **Recover**: the notification SageMaker would have sent is rebuilt and handed to the runtime's app
   as a bare notification (:func:`sagemaker_async_results.runtime.entrypoint.get_app`): the same
   exactly-once guard (keyed on inference ID and status), destinations, handlers and result record as
   a notified result. A real notification arriving later meets the completed lock: a duplicate.
   Then the result record gets ``recovered = true`` (only when it exists: the result store made it).

What a recovered notification carries, and from where:

==========================  ==========================================================================
``inferenceId``, status     the object's name (``.out`` -> Completed, ``-error.out`` -> Failed)
``outputLocation`` /        the object itself
``failureLocation``
``responseParameters.       the object's ``Content-Type`` (HeadObject)
contentType``
``eventTime``               the object's ``LastModified`` (when SageMaker wrote it)
``receivedTime``            the Submitted record's ``submittedAt`` (when the client sent the request:
                            earlier than SageMaker's receipt by the request's upload time)
``requestParameters.        the Submitted record's ``endpointName``, else the function's endpoint
endpointName``              (``RECOVERY_ENDPOINT_NAME``)
``inputLocation``           the Submitted record's ``inputLocation``
``customAttributes``,       the Submitted record's ``customAttributes``, ``requestContentType`` and
request ``contentType``,    ``accept`` when the client stored them (absent otherwise)
``accept``
``awsRegion``               the S3 event record
==========================  ==========================================================================

Not recoverable: SageMaker's ``failureReason`` (only the notification carries it: a recovered failure
says ``contract.RECOVERED_FAILURE_REASON``; the model's error response is in the failure object), an
inline ``responseBody`` (handlers read the object instead), the exact time SageMaker received the
request, and anything the client did not store. The notification also carries ``recovered: true``
(kept by the models as an extra field), so handlers can tell.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.payloads import aws_error, error_code
from sagemaker_async_results.runtime.settings import S3Prefix

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = [
    "RecoveredObject",
    "RecoveryOutcome",
    "RecoverySettings",
    "ResultRecovery",
    "get_recovery",
    "handler",
    "parse_result_key",
    "reset_recovery",
]

#: What happened to one S3 record.
Verdict = Literal["recovered", "duplicate", "notified", "foreign", "unknown-request", "missing"]
OUTPUT_SUFFIX = ".out"
FAILURE_SUFFIX = "-error.out"
_MAX_INFERENCE_ID = 64


@dataclass(frozen=True, slots=True)
class RecoveredObject:
    """A SageMaker result object: its inference ID, the status its name implies, and where it is."""

    inference_id: str
    status: Literal["Completed", "Failed"]
    bucket: str
    key: str

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True, slots=True)
class RecoveryOutcome:
    """What recovery did with one S3 record (``inference_id`` is ``None`` for a foreign object)."""

    verdict: Verdict
    bucket: str
    key: str
    inference_id: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "bucket": self.bucket,
            "key": self.key,
            "inferenceId": self.inference_id,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """The recovery function's configuration (environment names in :mod:`sagemaker_async_results.contract`)."""

    output_location: S3Prefix
    failure_location: S3Prefix
    results_table: str
    endpoint_name: str = ""
    require_submitted_record: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> RecoverySettings:
        """Read the environment; raise one :class:`ConfigurationError` listing every problem."""
        problems: list[str] = []
        locations: dict[str, S3Prefix] = {}
        for name in (contract.RECOVERY_OUTPUT_LOCATION, contract.RECOVERY_FAILURE_LOCATION):
            raw = environ.get(name, "").strip()
            try:
                locations[name] = S3Prefix.parse(raw)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        table = environ.get(contract.RESULTS_TABLE, "").strip()
        if not table:
            problems.append(f"{contract.RESULTS_TABLE}: required (recovery reads the result records)")
        flag = environ.get(contract.RECOVERY_REQUIRE_SUBMITTED_RECORD, "true").strip().lower()
        if flag not in ("true", "false"):
            problems.append(f"{contract.RECOVERY_REQUIRE_SUBMITTED_RECORD}={flag!r}: expected true or false")
        if problems:
            raise ConfigurationError(
                "invalid recovery environment: " + "; ".join(problems),
                received={k: environ.get(k) for k in _NAMES if k in environ},
                expected="the variables the AsyncInferenceResults construct sets on the recovery function",
            )
        return cls(
            output_location=locations[contract.RECOVERY_OUTPUT_LOCATION],
            failure_location=locations[contract.RECOVERY_FAILURE_LOCATION],
            results_table=table,
            endpoint_name=environ.get(contract.RECOVERY_ENDPOINT_NAME, "").strip(),
            require_submitted_record=flag == "true",
        )


_NAMES = (
    contract.RECOVERY_OUTPUT_LOCATION,
    contract.RECOVERY_FAILURE_LOCATION,
    contract.RECOVERY_ENDPOINT_NAME,
    contract.RECOVERY_REQUIRE_SUBMITTED_RECORD,
    contract.RESULTS_TABLE,
)


def parse_result_key(settings: RecoverySettings, bucket: str, key: str) -> RecoveredObject | str:
    """The result object named by ``bucket``/``key`` (already URL-decoded), or why it is foreign."""
    for location, suffix, status in (
        (settings.output_location, OUTPUT_SUFFIX, "Completed"),
        (settings.failure_location, FAILURE_SUFFIX, "Failed"),
    ):
        if not location.contains(bucket, key):
            continue
        name = key[len(location.prefix) :]
        if not name.endswith(suffix):
            return f"not named <inference id>{suffix} under {location}"
        inference_id = name[: -len(suffix)]
        if not inference_id or "/" in inference_id or len(inference_id) > _MAX_INFERENCE_ID:
            return f"{inference_id!r} is not an inference ID (1-{_MAX_INFERENCE_ID} characters, no '/')"
        return RecoveredObject(inference_id, status, bucket, key)  # type: ignore[arg-type]
    return f"outside {settings.output_location} and {settings.failure_location}"


class ResultRecovery:
    """Routes the results of S3 events (delivered through SQS) that no notification routed.

    Parameters
    ----------
    settings
        Locations, table, endpoint name; default :meth:`RecoverySettings.from_env` of ``os.environ``.
    route
        Routes one bare notification and returns the app's response; default the runtime's app
        (``entrypoint.get_app()``), i.e. exactly the path of a notified result.
    s3, dynamodb
        Clients; default the app's (created lazily).

    Example
    -------
    .. code-block:: python

        recovery = ResultRecovery(settings, route=app, s3=s3, dynamodb=dynamodb)
        recovery(sqs_event_of_s3_events)   # {"batchItemFailures": [...]}
    """

    def __init__(
        self,
        settings: RecoverySettings | None = None,
        *,
        route: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None,
        s3: S3Client | None = None,
        dynamodb: DynamoDBClient | None = None,
    ) -> None:
        if settings is None:
            import os

            settings = RecoverySettings.from_env(os.environ)
        self.settings = settings
        self._route = route
        self._s3 = s3
        self._dynamodb = dynamodb

    # -- clients ------------------------------------------------------------------------------
    def _app_route(self) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        if self._route is None:
            from sagemaker_async_results.runtime.entrypoint import get_app

            self._route = get_app()
        return self._route

    @property
    def s3(self) -> S3Client:
        if self._s3 is None:
            from sagemaker_async_results.runtime.entrypoint import get_app

            self._s3 = get_app().clients.s3
        return self._s3

    @property
    def dynamodb(self) -> DynamoDBClient:
        if self._dynamodb is None:
            from sagemaker_async_results.runtime.entrypoint import get_app

            self._dynamodb = get_app().clients.dynamodb
        return self._dynamodb

    # -- the event ----------------------------------------------------------------------------
    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        """An SQS event -> a partial batch response naming the messages to deliver again."""
        failures: list[dict[str, str]] = []
        records = event.get("Records") if isinstance(event, Mapping) else None
        for message in records if isinstance(records, list) else []:
            message_id = message.get("messageId", "") if isinstance(message, Mapping) else ""
            try:
                for s3_record in _s3_records(message):
                    self.recover_record(s3_record, context)
            except Exception as exc:
                error = exc if isinstance(exc, ResultError) else None
                logger.exception(
                    "recovery failed: the message will be delivered again",
                    extra={"message_id": message_id, **(error.to_log() if error else {"error": repr(exc)})},
                )
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}

    def recover_record(self, s3_record: Mapping[str, Any], context: Any = None) -> RecoveryOutcome:
        """One S3 event record; raises on an AWS error (the message is retried, then dead-lettered)."""
        s3_part = s3_record.get("s3") or {}
        bucket = str((s3_part.get("bucket") or {}).get("name", ""))
        key = urllib.parse.unquote_plus(str((s3_part.get("object") or {}).get("key", "")))
        if not str(s3_record.get("eventName", "")).startswith("ObjectCreated:"):
            return self._log(RecoveryOutcome("foreign", bucket, key, detail="not an ObjectCreated event"))
        parsed = parse_result_key(self.settings, bucket, key)
        if isinstance(parsed, str):
            return self._log(RecoveryOutcome("foreign", bucket, key, detail=parsed))
        return self.recover(parsed, region=str(s3_record.get("awsRegion", "")) or None, context=context)

    def recover(
        self, obj: RecoveredObject, *, region: str | None = None, context: Any = None
    ) -> RecoveryOutcome:
        """Route ``obj`` unless a notification reached the runtime already."""
        record = self._get(contract.result_key(obj.inference_id))
        routing = _text(record, contract.ROUTING_ATTRIBUTE)
        if routing:
            return self._log(
                RecoveryOutcome("notified", obj.bucket, obj.key, obj.inference_id, f"routing is {routing}")
            )
        lock = self._get(contract.lock_key(obj.inference_id, obj.status))
        if lock:
            return self._log(
                RecoveryOutcome(
                    "notified", obj.bucket, obj.key, obj.inference_id,
                    f"exactly-once lock record: routing is {_text(lock, contract.ROUTING_ATTRIBUTE) or 'unknown'}",
                )
            )  # fmt: skip
        if record is None and self.settings.require_submitted_record:
            return self._log(
                RecoveryOutcome(
                    "unknown-request", obj.bucket, obj.key, obj.inference_id,
                    "no Submitted record: not a request the client sent (recovery requires one)",
                )
            )  # fmt: skip
        head = self._head(obj)
        if head is None:
            return self._log(
                RecoveryOutcome(
                    "missing", obj.bucket, obj.key, obj.inference_id, "the object no longer exists"
                )
            )
        notification = build_notification(obj, record or {}, head, self.settings, region=region)
        response = self._app_route()(notification, context)
        outcomes = [r.get("outcome") for r in response.get("results", []) if isinstance(r, Mapping)]
        if outcomes == ["duplicate"]:
            # The notification arrived between the check and the routing: it routed the result.
            return self._log(
                RecoveryOutcome(
                    "duplicate", obj.bucket, obj.key, obj.inference_id, "routed by its notification"
                )
            )
        self._mark_recovered(obj.inference_id)
        return self._log(
            RecoveryOutcome("recovered", obj.bucket, obj.key, obj.inference_id, ",".join(map(str, outcomes)))
        )

    # -- AWS calls ----------------------------------------------------------------------------
    def _get(self, pk: str) -> dict[str, Any] | None:
        try:
            item = self.dynamodb.get_item(
                TableName=self.settings.results_table,
                Key={contract.TABLE_PARTITION_KEY: {"S": pk}},
                ConsistentRead=True,
            ).get("Item")
        except Exception as exc:
            raise aws_error(exc, operation="DynamoDB.GetItem (recovery)", inference_id=None) from exc
        return dict(item) if item else None

    def _head(self, obj: RecoveredObject) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=obj.bucket, Key=obj.key))
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise aws_error(exc, operation="S3.HeadObject (recovery)", inference_id=obj.inference_id) from exc

    def _mark_recovered(self, inference_id: str) -> None:
        """``recovered = true`` on the result record, if the result store wrote one (never creates one)."""
        try:
            self.dynamodb.update_item(
                TableName=self.settings.results_table,
                Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
                UpdateExpression="SET #recovered = :true",
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={
                    "#recovered": contract.RECOVERED_ATTRIBUTE,
                    "#pk": contract.TABLE_PARTITION_KEY,
                },
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )
        except Exception as exc:
            # Routed already: failing now would only make the retry a duplicate. Say it in the log.
            level = "info" if error_code(exc) == "ConditionalCheckFailedException" else "error"
            getattr(logger, level)(
                "recovered, but the result record was not marked recovered",
                extra={"inference_id": inference_id, "error": repr(exc)},
            )

    @staticmethod
    def _log(outcome: RecoveryOutcome) -> RecoveryOutcome:
        messages = {
            "recovered": "result recovered: routed without a notification",
            "duplicate": "result routed by its notification meanwhile: nothing recovered",
            "notified": "result notified: nothing to recover",
            "foreign": "not a SageMaker result object: skipped",
            "unknown-request": "result of an unknown request: not recovered",
            "missing": "result object gone: nothing to recover",
        }
        level = "warning" if outcome.verdict in ("recovered", "unknown-request") else "info"
        getattr(logger, level)(messages[outcome.verdict], extra={"recovery": outcome.to_dict()})
        return outcome


def build_notification(
    obj: RecoveredObject,
    record: Mapping[str, Any],
    head: Mapping[str, Any],
    settings: RecoverySettings,
    *,
    region: str | None = None,
) -> dict[str, Any]:
    """The ``InferenceResult`` message SageMaker would have published (see the module's table)."""
    request: dict[str, Any] = {
        "endpointName": _text(record, contract.SUBMITTED_ENDPOINT_NAME_ATTRIBUTE)
        or settings.endpoint_name
        or None,
        "inputLocation": _text(record, "inputLocation"),
        "customAttributes": _text(record, contract.SUBMITTED_CUSTOM_ATTRIBUTES_ATTRIBUTE),
        "contentType": _text(record, contract.SUBMITTED_CONTENT_TYPE_ATTRIBUTE),
        "accept": _text(record, contract.SUBMITTED_ACCEPT_ATTRIBUTE),
    }
    response: dict[str, Any] = {"contentType": head.get("ContentType")}
    response["outputLocation" if obj.status == "Completed" else "failureLocation"] = obj.location
    modified = head.get("LastModified")
    notification: dict[str, Any] = {
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
        "awsRegion": region,
        "inferenceId": obj.inference_id,
        "invocationStatus": obj.status,
        "eventTime": _iso(modified) if isinstance(modified, datetime) else None,
        "receivedTime": _text(record, "submittedAt"),
        "requestParameters": {k: v for k, v in request.items() if v is not None},
        "responseParameters": {k: v for k, v in response.items() if v is not None},
        "recovered": True,
    }
    if obj.status == "Failed":
        notification["failureReason"] = contract.RECOVERED_FAILURE_REASON
    return {k: v for k, v in notification.items() if v is not None}


def _s3_records(message: Any) -> list[Mapping[str, Any]]:
    """The S3 event records in one SQS message (none for S3's ``s3:TestEvent``)."""
    body = message.get("body") if isinstance(message, Mapping) else None
    try:
        decoded = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError:
        decoded = None
    if not isinstance(decoded, Mapping) or not isinstance(decoded.get("Records"), list):
        logger.info(
            "not an S3 event notification: skipped",
            extra={"event": decoded.get("Event") if isinstance(decoded, Mapping) else None},
        )
        return []
    return [r for r in decoded["Records"] if isinstance(r, Mapping)]


def _text(item: Mapping[str, Any] | None, name: str) -> str | None:
    value = (item or {}).get(name)
    return value.get("S") if isinstance(value, Mapping) and isinstance(value.get("S"), str) else None


def _iso(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_recovery: ResultRecovery | None = None


def get_recovery() -> ResultRecovery:
    """The process-wide recovery, built from the environment on first use."""
    global _recovery
    if _recovery is None:
        _recovery = ResultRecovery()
    return _recovery


def reset_recovery() -> None:
    """Forget the built recovery (tests and the local run change the environment between runs)."""
    global _recovery
    _recovery = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry of the recovery function (SQS event of S3 event notifications)."""
    return get_recovery()(event, context)
