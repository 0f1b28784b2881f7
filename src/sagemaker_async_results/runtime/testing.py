"""Event generators, like Chalice's test client: build notifications and the events Lambda sends.

Used by the test suites, the local run and the benchmarks. Plain dicts in, plain dicts out.

Example
-------
>>> from sagemaker_async_results.runtime.testing import notification, sns_event, sqs_event
>>> n = notification(inference_id="abc", endpoint_name="demo", output_location="s3://b/out/abc.out")
>>> sns_event([n])["Records"][0]["EventSource"]
'aws:sns'
>>> sqs_event([n], raw=True)["Records"][0]["eventSource"]
'aws:sqs'
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_TOPIC_ARN = f"arn:aws:sns:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:async-inference-success"
DEFAULT_QUEUE_ARN = f"arn:aws:sqs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:async-inference-success"

Message = Mapping[str, Any] | str


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification(
    *,
    inference_id: str | None = None,
    endpoint_name: str = "async-results-demo",
    status: str = "Completed",
    output_location: str | None = None,
    failure_location: str | None = None,
    failure_reason: str | None = None,
    content_type: str | None = "application/json",
    request_content_type: str = "application/json",
    accept: str | None = None,
    custom_attributes: str | None = None,
    input_location: str | None = None,
    body: bytes | str | Any = None,
    received_time: datetime | None = None,
    latency: timedelta = timedelta(milliseconds=1500),
    **extra: Any,
) -> dict[str, Any]:
    """A SageMaker ``InferenceResult`` message as SageMaker publishes it (camelCase, JSON-ready).

    ``body`` adds an inline ``responseBody`` (bytes/str as is, anything else JSON-encoded, then
    base64). ``status="Failed"`` gets a default ``failureReason``. ``extra`` adds top-level fields.
    """
    inference_id = inference_id or str(uuid.uuid4())
    received = received_time or datetime.now(UTC) - latency
    request: dict[str, Any] = {"contentType": request_content_type, "endpointName": endpoint_name}
    if accept is not None:
        request["accept"] = accept
    if custom_attributes is not None:
        request["customAttributes"] = custom_attributes
    if input_location is not None:
        request["inputLocation"] = input_location
    message: dict[str, Any] = {
        "awsRegion": DEFAULT_REGION,
        "eventTime": _iso(received + latency),
        "receivedTime": _iso(received),
        "invocationStatus": status,
        "requestParameters": request,
        "inferenceId": inference_id,
        "eventVersion": "1.0",
        "eventSource": "aws:sagemaker",
        "eventName": "InferenceResult",
    }
    response: dict[str, Any] = {}
    if content_type is not None and (output_location or body is not None):
        response["contentType"] = content_type
    if output_location:
        response["outputLocation"] = output_location
    if failure_location:
        response["failureLocation"] = failure_location
    if response:
        message["responseParameters"] = response
    if status == "Failed":
        message["failureReason"] = failure_reason or "ClientError: Received server error (500) from model."
    if body is not None:
        raw = (
            body
            if isinstance(body, bytes)
            else body.encode()
            if isinstance(body, str)
            else json.dumps(body).encode()
        )
        message["responseBody"] = {
            "content": base64.b64encode(raw).decode(),
            "encoding": "BASE64",
            "message": "Response body is included",
        }
    message.update(extra)
    return message


def test_notification() -> dict[str, Any]:
    """The ``TestNotification`` SageMaker sends when an endpoint is created or updated."""
    return {"eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "TestNotification"}


test_notification.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def _as_text(message: Message) -> str:
    return message if isinstance(message, str) else json.dumps(message)


def _listify(notifications: Message | Sequence[Message]) -> list[Message]:
    if isinstance(notifications, Mapping | str):
        return [notifications]
    return list(notifications)


def sns_envelope(
    message: Message, *, topic_arn: str = DEFAULT_TOPIC_ARN, message_id: str | None = None
) -> dict[str, Any]:
    """The SNS notification envelope (as delivered to SQS without raw delivery)."""
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": _as_text(message),
        "Timestamp": _iso(datetime.now(UTC)),
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def sns_event(
    notifications: Message | Sequence[Message], *, topic_arn: str = DEFAULT_TOPIC_ARN
) -> dict[str, Any]:
    """A Lambda SNS event with one record per notification (a ``str`` is sent verbatim)."""
    records = []
    for message in _listify(notifications):
        envelope = sns_envelope(message, topic_arn=topic_arn)
        envelope["UnsubscribeUrl"] = envelope.pop("UnsubscribeURL")
        envelope["SigningCertUrl"] = envelope.pop("SigningCertURL")
        envelope["MessageAttributes"] = {}
        envelope["Subject"] = None
        records.append(
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic_arn}:{uuid.uuid4()}",
                "EventSource": "aws:sns",
                "Sns": envelope,
            }
        )
    return {"Records": records}


def sqs_event(
    notifications: Message | Sequence[Message], raw: bool = False, *, queue_arn: str = DEFAULT_QUEUE_ARN
) -> dict[str, Any]:
    """A Lambda SQS event; bodies are SNS envelopes, or the messages themselves with ``raw=True``."""
    records = []
    now_ms = str(int(datetime.now(UTC).timestamp() * 1000))
    for message in _listify(notifications):
        body = _as_text(message) if raw else json.dumps(sns_envelope(message))
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEB" + uuid.uuid4().hex,
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": DEFAULT_REGION,
            }
        )
    return {"Records": records}


class LambdaContext:
    """A minimal Lambda context object (what Powertools reads from it)."""

    def __init__(self, function_name: str = "async-results-handler", timeout_ms: int = 60_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{DEFAULT_REGION}:{DEFAULT_ACCOUNT}:function:{function_name}"
        )
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = datetime.now(UTC) + timedelta(milliseconds=timeout_ms)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - datetime.now(UTC)).total_seconds() * 1000))


def lambda_context(function_name: str = "async-results-handler") -> LambdaContext:
    """A fresh :class:`LambdaContext` (new request ID each call)."""
    return LambdaContext(function_name)
