"""Inputs no sender should send: each fails only its own record, with a structured error and its reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_async_results.runtime.app import ResultsApp
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.errors import MAX_RECEIVED_CHARS, ResultError
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import S3Prefix, Settings
from sagemaker_async_results.runtime.testing import notification, sns_event, sqs_event

DEEP_TEXT = "[" * 50_000 + "]" * 50_000


class NoS3:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError("these inputs never reach S3")


@pytest.fixture
def routed() -> list[str]:
    return []


@pytest.fixture
def app(routed: list[str]) -> ResultsApp:
    router = Router()

    @router.on_result()
    def read(result: InferenceResult) -> None:
        result.body()
        routed.append(result.inference_id)

    return ResultsApp(
        settings=Settings(readable_locations=(S3Prefix.parse("s3://b/out/"),)),
        clients=Clients(s3=NoS3()),  # type: ignore[arg-type]
        routers=[router],
    )


def good(inference_id: str = "good") -> dict[str, Any]:
    return notification(inference_id=inference_id, body={"ok": True})


def deep_object(levels: int) -> Any:
    value: Any = []
    for _ in range(levels):
        value = [value]
    return value


def raised(app: ResultsApp, event: Any) -> ResultError:
    with pytest.raises(ResultError) as info:
        app(event)
    return info.value


@pytest.mark.parametrize("wrap", ["sns", "bare-text"])
def test_message_nested_50000_levels_deep_is_malformed_json(app: ResultsApp, wrap: str) -> None:
    error = raised(app, sns_event([DEEP_TEXT]) if wrap == "sns" else DEEP_TEXT)
    assert error.reason == "MalformedJson"
    assert "nested deeper" in error.message
    assert error.received is not None
    assert len(error.received) < MAX_RECEIVED_CHARS + 30


def test_deep_sqs_body_fails_only_its_record(app: ResultsApp, routed: list[str], runtime_logs: Any) -> None:
    event = sqs_event([good(), json.dumps({"Type": "Notification", "Message": DEEP_TEXT})], raw=True)
    assert app(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert routed == ["good"]
    assert runtime_logs.reasons() == ["MalformedJson"]


def test_deeply_nested_object_as_event_is_not_a_notification(app: ResultsApp) -> None:
    error = raised(app, deep_object(50_000))
    assert error.reason == "NotSageMakerMessage"
    assert error.received is not None
    assert error.received.startswith("[[[")


def test_records_with_a_non_object_get_a_partial_batch_response(
    app: ResultsApp, routed: list[str], runtime_logs: Any
) -> None:
    event = sqs_event([good()], raw=True)
    event["Records"].insert(0, 5)
    event["Records"].append("not a record")
    # A record that is not an object has no messageId: the empty identifier is how Lambda is told
    # that something it cannot name failed (it then retries the whole batch).
    assert app(event) == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert routed == ["good"]
    assert runtime_logs.reasons() == ["MalformedRecord", "MalformedRecord"]


def test_sqs_record_without_message_id_is_reported_not_routed(
    app: ResultsApp, routed: list[str], runtime_logs: Any
) -> None:
    event = sqs_event([good("named"), good("anonymous")], raw=True)
    del event["Records"][1]["messageId"]
    assert app(event) == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert routed == ["named"]
    (error,) = runtime_logs.errors()
    assert (error.reason, error.expected) == (
        "MalformedRecord",
        "a Lambda SQS record with a non-empty messageId",
    )


def test_sqs_event_whose_first_record_is_not_an_object(app: ResultsApp, routed: list[str]) -> None:
    event = sqs_event([good()], raw=True)
    event["Records"].insert(0, None)
    assert app(event) == {"batchItemFailures": [{"itemIdentifier": ""}]}
    assert routed == ["good"]


def test_body_that_is_not_utf8_is_malformed_json(app: ResultsApp) -> None:
    event = sqs_event([good()], raw=True)
    event["Records"][0]["body"] = b'{"eventName": "\xff\xfe"}'
    assert app(event) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_lone_surrogate_is_refused_at_the_edge(app: ResultsApp) -> None:
    error = raised(app, sns_event([json.dumps(good("abc\ud800"))]))
    assert error.reason == "NotSageMakerMessage"
    assert "inferenceId" in error.message
    assert "unicode" in error.message  # pydantic refuses text that UTF-8 cannot carry


def test_huge_message_is_reported_in_an_excerpt(app: ResultsApp) -> None:
    huge = '{"eventName": "' + "x" * 10_000_000
    error = raised(app, sns_event([huge]))
    assert error.reason == "MalformedJson"
    assert error.received is not None
    assert len(error.received) < MAX_RECEIVED_CHARS + 30
    assert len(str(error)) < 5_000


def test_inference_id_longer_than_sagemaker_allows_is_refused(app: ResultsApp) -> None:
    error = raised(app, good("x" * 65))
    assert error.reason == "NotSageMakerMessage"


def test_times_with_and_without_offset_give_a_latency(app: ResultsApp, routed: list[str]) -> None:
    message = {**good(), "receivedTime": "2022-01-25T22:46:00", "eventTime": "2022-01-25T22:46:01.500Z"}
    assert app(message)["results"][0]["outcome"] == "routed"


def test_library_error_while_decoding_is_undecodable_content(app: ResultsApp) -> None:
    message = notification(inference_id="idna", body=b"\xff" * 70, content_type="text/plain; charset=idna")
    assert raised(app, message).reason == "UndecodableContent"


def test_payload_nested_50000_levels_deep_is_undecodable_content(app: ResultsApp) -> None:
    message = notification(inference_id="deep", body=DEEP_TEXT.encode())
    assert raised(app, message).reason == "UndecodableContent"


def test_unsupported_event_source_is_logged_like_any_failed_record(
    app: ResultsApp, runtime_logs: Any
) -> None:
    error = raised(app, {"Records": [{"eventSource": "aws:kinesis"}]})
    assert error.reason == "NotSageMakerMessage"
    assert runtime_logs.reasons() == ["NotSageMakerMessage"]


def test_received_none_is_reported_as_none() -> None:
    assert ResultError("x", received=None).received == "None"
    assert ResultError("x").received is None


def test_unprintable_value_still_gets_an_error() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    received = ResultError("x", received=Hostile()).received
    assert received is not None
    assert "Hostile" in received


def test_lone_surrogate_in_any_text_field_is_refused(app: ResultsApp) -> None:
    message = notification(
        inference_id="s", body=b"{}", endpoint_name="ep\ud800", custom_attributes="a=\udfff"
    )
    error = raised(app, sns_event([json.dumps(message)]))
    assert error.reason == "NotSageMakerMessage"
    assert "endpointName" in error.message


def test_error_text_can_always_be_written_to_the_log() -> None:
    error = ResultError("bad \ud800", received={"x": "\ud800"}, inference_id="id\ud800")
    assert json.dumps(error.to_log(), ensure_ascii=False).encode("utf-8")
    assert str(error).encode("utf-8")
    assert error.inference_id == "id\\ud800"
