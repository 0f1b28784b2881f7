"""The result store: the switch, the DynamoDB types of the record, and the exact UpdateItem it sends."""

from __future__ import annotations

import re
import time
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations.result_store import ENABLED_ENV, ResultStore, result_key
from sagemaker_async_results.runtime.errors import AwsCallError
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import notification

TABLE = "results"


class FakeDynamoDB:
    """Records UpdateItem calls; raises ``error`` when set."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def update_item(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        if self.error:
            raise self.error
        return {}


def make_result(inference_id: str = "rs-1", inline: bytes | None = None) -> InferenceResult:
    parsed = parse_notification(notification(inference_id=inference_id, output_location="s3://b/out/x.out"))
    assert isinstance(parsed, InferenceResultNotification)

    def no_s3() -> Any:
        raise AssertionError("the store writes only what the notification carried")

    payload = Payload(inline=inline, location=None, guard=LocationGuard(()), s3_client=no_s3, max_bytes=100)
    return InferenceResult(parsed, payload)


def _store(dynamodb: FakeDynamoDB, ttl_days: int = 3) -> ResultStore:
    store = ResultStore.from_env(
        {},
        settings=Settings(results_table=TABLE, result_ttl_days=ttl_days),
        clients=Clients(dynamodb=cast(Any, dynamodb)),
    )
    assert isinstance(store, ResultStore)
    return store


def test_on_with_a_table_unless_switched_off() -> None:
    settings = Settings(results_table=TABLE)
    assert (
        ResultStore.from_env({"RESULT_STORE_ENABLED": "false"}, settings=settings, clients=Clients()) is None
    )
    assert ResultStore.from_env({ENABLED_ENV: "true"}, settings=Settings(), clients=Clients()) is None
    store = ResultStore.from_env({ENABLED_ENV: "true"}, settings=settings, clients=Clients())
    assert store is not None
    assert (store.name, store.stage) == ("resultStore", "before")
    assert store.applies(make_result()) is True


def test_the_key_is_the_result_prefix_and_the_inference_id() -> None:
    assert result_key("abc") == {"pk": {"S": "result#abc"}}


def test_every_record_value_gets_its_dynamodb_type() -> None:
    record = {"raw": b"\x00", "flag": True, "count": 3, "ratio": 0.5, "tags": ["a", 2], "text": "t"}
    values = _store(FakeDynamoDB()).attribute_values(make_result(), record)
    assert {k: values[k] for k in record} == {
        "raw": {"B": b"\x00"},
        "flag": {"BOOL": True},
        "count": {"N": "3"},
        "ratio": {"N": "0.5"},
        "tags": {"L": [{"S": "a"}, {"N": "2"}]},
        "text": {"S": "t"},
    }


def test_handled_time_and_expiry_are_added() -> None:
    before = int(time.time())
    values = _store(FakeDynamoDB(), ttl_days=3).attribute_values(make_result(), {"inferenceId": "rs-1"})
    after = int(time.time())
    expires = int(values[contract.TABLE_TTL_ATTRIBUTE]["N"])
    assert before + 3 * 86400 <= expires <= after + 3 * 86400
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", values["handledTime"]["S"])
    assert contract.INLINE_BODY_ATTRIBUTE not in values


def test_an_inline_body_is_kept_as_binary() -> None:
    values = _store(FakeDynamoDB()).attribute_values(make_result(inline=b'{"a": 1}'), {})
    assert values[contract.INLINE_BODY_ATTRIBUTE] == {"B": b'{"a": 1}'}


def test_send_is_one_update_item_that_keeps_other_attributes() -> None:
    dynamodb = FakeDynamoDB()
    store = _store(dynamodb)
    store.send(make_result(), {"inferenceId": "rs-1", "status": "Completed"})
    (call,) = dynamodb.calls
    assert (call["TableName"], call["Key"]) == (TABLE, {"pk": {"S": "result#rs-1"}})
    names = ["inferenceId", "status", "handledTime", contract.TABLE_TTL_ATTRIBUTE]
    assert call["ExpressionAttributeNames"] == {f"#a{i}": name for i, name in enumerate(names)}
    assert call["UpdateExpression"] == "SET #a0 = :v0, #a1 = :v1, #a2 = :v2, #a3 = :v3"
    values = call["ExpressionAttributeValues"]
    assert list(values) == [":v0", ":v1", ":v2", ":v3"]
    assert (values[":v0"], values[":v1"]) == ({"S": "rs-1"}, {"S": "Completed"})


def test_a_failed_write_is_a_structured_error() -> None:
    error = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "UpdateItem")
    with pytest.raises(AwsCallError) as caught:
        _store(FakeDynamoDB(error)).send(make_result(), {"inferenceId": "rs-1"})
    assert caught.value.message.startswith("DynamoDB.UpdateItem failed:")
    assert (caught.value.reason, caught.value.received, caught.value.inference_id) == (
        "AwsCallFailed",
        "ResourceNotFoundException",
        "rs-1",
    )
