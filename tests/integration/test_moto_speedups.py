"""The embedded emulator's speed-ups change no answer: services are still found per request, and SQS
delays and visibility timeouts still hold, on a moto server started after the patch."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sagemaker_async_results.local.moto_speedups import speed_up_embedded_moto


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    speed_up_embedded_moto()
    speed_up_embedded_moto()  # idempotent
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(url: str, service: str) -> object:
    session = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1")
    return session.client(service, endpoint_url=url)  # type: ignore[call-overload]


def test_requests_still_reach_their_own_service(url: str) -> None:
    sqs, dynamodb, s3 = (_client(url, name) for name in ("sqs", "dynamodb", "s3"))
    for _ in range(2):  # the second time from the remembered host
        assert "QueueUrl" in sqs.create_queue(QueueName="speed")  # type: ignore[attr-defined]
        assert "TableNames" in dynamodb.list_tables()  # type: ignore[attr-defined]
        assert "Buckets" in s3.list_buckets()  # type: ignore[attr-defined]


def test_sqs_delays_and_visibility_timeouts_still_hold(url: str) -> None:
    sqs: object = _client(url, "sqs")
    queue = sqs.create_queue(QueueName="clock")["QueueUrl"]  # type: ignore[attr-defined]
    sent = time.monotonic()
    sqs.send_message(QueueUrl=queue, MessageBody="later", DelaySeconds=5)  # type: ignore[attr-defined]
    sqs.send_message(QueueUrl=queue, MessageBody="now")  # type: ignore[attr-defined]
    first = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=5)  # type: ignore[attr-defined]
    assert [m["Body"] for m in first["Messages"]] == ["now"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]  # type: ignore[attr-defined]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    bodies: list[str] = []
    deadline = time.monotonic() + 30
    while len(bodies) < 2 and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)  # type: ignore[attr-defined]
        bodies += [m["Body"] for m in received.get("Messages", [])]
    assert sorted(bodies) == ["later", "now"]
    assert time.monotonic() - sent >= 5  # neither came back before its 5 s were up


def _table(dynamodb: object, name: str) -> None:
    dynamodb.create_table(  # type: ignore[attr-defined]
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_update_items_with_one_expression_text_apply_each_requests_own_values(url: str) -> None:
    """The parse tree is shared per expression text: values, names and items must not leak between calls."""
    dynamodb: object = _client(url, "dynamodb")
    _table(dynamodb, "speed-update")
    expression = "SET #a = :a, #b = list_append(if_not_exists(#b, :empty), :b) REMOVE #gone ADD #n :one"
    for key, value in (("k1", "first"), ("k2", "second"), ("k1", "third")):
        dynamodb.update_item(  # type: ignore[attr-defined]
            TableName="speed-update",
            Key={"pk": {"S": key}},
            UpdateExpression=expression,
            ExpressionAttributeNames={"#a": "label", "#b": "history", "#gone": "old", "#n": "count"},
            ExpressionAttributeValues={
                ":a": {"S": value},
                ":b": {"L": [{"S": value}]},
                ":empty": {"L": []},
                ":one": {"N": "1"},
            },
        )
    items = {
        key: dynamodb.get_item(TableName="speed-update", Key={"pk": {"S": key}})["Item"]  # type: ignore[attr-defined]
        for key in ("k1", "k2")
    }
    assert items["k1"]["label"] == {"S": "third"}
    assert items["k1"]["history"] == {"L": [{"S": "first"}, {"S": "third"}]}
    assert items["k1"]["count"] == {"N": "2"}
    assert items["k2"] == {
        "pk": {"S": "k2"},
        "label": {"S": "second"},
        "history": {"L": [{"S": "second"}]},
        "count": {"N": "1"},
    }


@pytest.mark.parametrize(
    ("expression", "names", "message"),
    [
        ("SET #a = :v SET #b = :v", {"#a": "a", "#b": "b"}, 'The "SET" section can only be used once'),
        ("SET #a = :v, #a = :v", {"#a": "a"}, "Two document paths overlap with each other"),
        ("SET #a = :v REMOVE #a", {"#a": "a"}, "Two document paths overlap with each other"),
    ],
)
def test_invalid_update_expressions_are_still_refused_every_time(
    url: str, expression: str, names: dict[str, str], message: str
) -> None:
    from botocore.exceptions import ClientError

    dynamodb: object = _client(url, "dynamodb")
    with contextlib.suppress(ClientError):
        _table(dynamodb, "speed-invalid")
    for _ in range(2):  # the second time from the parsed tree kept for this text
        with pytest.raises(ClientError) as refused:
            dynamodb.update_item(  # type: ignore[attr-defined]
                TableName="speed-invalid",
                Key={"pk": {"S": "k"}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={":v": {"S": "x"}},
            )
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert message in refused.value.response["Error"]["Message"]


def test_sns_envelopes_share_one_certificate_per_subscription_and_each_signature_verifies(url: str) -> None:
    import base64
    import json

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns import sns_backends

    sns: object = _client(url, "sns")
    sqs: object = _client(url, "sqs")
    topic = sns.create_topic(Name="speed-signed")["TopicArn"]  # type: ignore[attr-defined]
    queue = sqs.create_queue(QueueName="speed-signed")["QueueUrl"]  # type: ignore[attr-defined]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])  # type: ignore[attr-defined]
    queue_arn = attributes["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)  # type: ignore[attr-defined]
    for body in ("first", "second"):
        sns.publish(TopicArn=topic, Message=body)  # type: ignore[attr-defined]
    envelopes: list[dict[str, str]] = []
    deadline = time.monotonic() + 30
    while len(envelopes) < 2 and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)  # type: ignore[attr-defined]
        envelopes += [json.loads(m["Body"]) for m in received.get("Messages", [])]
    assert sorted(e["Message"] for e in envelopes) == ["first", "second"]
    assert len({e["SigningCertURL"] for e in envelopes}) == 1
    assert len({e["Signature"] for e in envelopes}) == 2
    key_name = envelopes[0]["SigningCertURL"].rsplit("/", 1)[-1]
    pem = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]._message_public_keys[key_name]
    public_key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(public_key, RSAPublicKey)
    for envelope in envelopes:
        signed = "".join(
            f"{name}\n{envelope[name]}\n"
            for name in ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
        )
        public_key.verify(
            base64.b64decode(envelope["Signature"]), signed.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
