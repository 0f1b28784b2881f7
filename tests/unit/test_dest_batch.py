"""The batch destinations (SQS, EventBridge, Kinesis) against stubbed clients: the exact requests, limits, per-entry failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from types import SimpleNamespace
from typing import Any, cast

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import _batch
from sagemaker_async_results.runtime.destinations._batch import (
    EntryFailure,
    answer_failures,
    chunks,
    entry_error,
    send_entries,
)
from sagemaker_async_results.runtime.destinations.eventbridge import (
    BUS_NAME_ENV,
    DETAIL_TYPE,
    SOURCE,
    EventBridgeDestination,
)
from sagemaker_async_results.runtime.destinations.kinesis import STREAM_ARN_ENV, KinesisDestination
from sagemaker_async_results.runtime.destinations.sqs import QUEUE_URL_ENV, ResultsQueue
from sagemaker_async_results.runtime.errors import AwsCallError, ConfigurationError, ResultError
from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import notification

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/results"
BUS = "results-bus"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/results"
Item = tuple[InferenceResult, dict[str, Any]]


def make_result(inference_id: str, **kwargs: Any) -> InferenceResult:
    if kwargs.get("status", "Completed") == "Completed":
        kwargs.setdefault("output_location", f"s3://bucket/out/{inference_id}.out")
    parsed = parse_notification(notification(inference_id=inference_id, **kwargs))
    assert isinstance(parsed, InferenceResultNotification)

    def no_s3() -> Any:
        raise AssertionError("a destination must not read the payload here")

    payload = Payload(inline=None, location=None, guard=LocationGuard(()), s3_client=no_s3, max_bytes=10)
    return InferenceResult(parsed, payload)


def items(count: int, pad: int = 0, prefix: str = "inf") -> list[Item]:
    return [
        (make_result(f"{prefix}-{i}"), {"inferenceId": f"{prefix}-{i}", "pad": "x" * pad})
        for i in range(count)
    ]


@pytest.fixture
def stubs() -> Iterator[dict[str, tuple[Any, Stubber]]]:
    """Stubbed sqs, events and kinesis clients (no retries: one stubbed answer per call)."""
    made = {}
    for service in ("sqs", "events", "kinesis"):
        client = boto3.client(
            service, region_name="us-east-1", config=Config(retries={"total_max_attempts": 1})
        )
        stub = Stubber(client)
        stub.activate()
        made[service] = (client, stub)
    yield made
    for _, stub in made.values():
        stub.assert_no_pending_responses()


def _clients(stubs: dict[str, tuple[Any, Stubber]]) -> Clients:
    return Clients(sqs=stubs["sqs"][0], events=stubs["events"][0], services={"kinesis": stubs["kinesis"][0]})


def _error(answer: ResultError | None) -> ResultError:
    assert isinstance(answer, ResultError), answer
    return answer


# -- the shared batching ------------------------------------------------------------------------
def test_exactly_max_entries_is_one_call_and_one_more_starts_another() -> None:
    assert chunks([1] * 10, max_entries=10, max_bytes=100) == [list(range(10))]
    assert chunks([1] * 11, max_entries=10, max_bytes=100) == [list(range(10)), [10]]


def test_exactly_max_bytes_is_one_call_and_the_count_restarts_with_each_call() -> None:
    assert chunks([40, 60], max_entries=10, max_bytes=100) == [[0, 1]]
    assert chunks([40, 61], max_entries=10, max_bytes=100) == [[0], [1]]
    assert chunks([50, 60, 40], max_entries=10, max_bytes=100) == [[0], [1, 2]]
    assert chunks([150, 10], max_entries=10, max_bytes=100) == [[0], [1]]  # no empty call first
    assert chunks([], max_entries=10, max_bytes=100) == []


def test_an_entry_that_keeps_failing_is_sent_three_times_in_all() -> None:
    calls: list[int] = []
    failure = EntryFailure("InternalError", "again")

    def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        calls.append(len(entries))
        return [failure if e["n"] == 1 else None for e in entries]

    outcome = send_entries([{"n": 0}, {"n": 1}], sizes=[1, 1], max_entries=10, max_bytes=100, call=call)
    assert calls == [2, 1, 1]
    assert outcome == [None, failure]


def test_accepted_entries_are_sent_once() -> None:
    calls: list[list[int]] = []

    def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        calls.append([e["n"] for e in entries])
        return [None] * len(entries)

    assert send_entries([{"n": 0}, {"n": 1}], sizes=[1, 1], max_entries=1, max_bytes=100, call=call) == [
        None,
        None,
    ]
    assert calls == [[0], [1]]


def test_a_failed_call_does_not_stop_the_next_call_and_is_not_repeated() -> None:
    calls: list[list[int]] = []
    boom = RuntimeError("connection reset")

    def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        calls.append([e["n"] for e in entries])
        if entries[0]["n"] == 0:
            raise boom
        return [None] * len(entries)

    outcome = send_entries([{"n": 0}, {"n": 1}], sizes=[1, 1], max_entries=1, max_bytes=100, call=call)
    assert outcome == [boom, None]
    assert calls == [[0], [1]]


def test_a_call_answering_fewer_entries_than_it_was_given_is_not_taken_as_sent() -> None:
    with pytest.raises(ValueError, match="zip"):
        send_entries([{}, {}], sizes=[1, 1], max_entries=10, max_bytes=100, call=lambda entries: [None])


def test_an_entry_failure_cannot_be_changed_once_reported() -> None:
    failure = EntryFailure("InternalError", "x")
    with pytest.raises(FrozenInstanceError):
        failure.code = "other"  # type: ignore[misc]


def test_an_entry_failure_is_a_structured_error_naming_the_operation() -> None:
    error = entry_error(EntryFailure("InvalidParameterValue", "too long"), "inf-7", "SQS.SendMessageBatch")
    assert isinstance(error, AwsCallError)
    assert error.message == "SQS.SendMessageBatch refused the entry: InvalidParameterValue too long"
    assert (error.reason, error.received, error.expected, error.inference_id) == (
        "AwsCallFailed",
        "InvalidParameterValue",
        "the entry accepted by SQS.SendMessageBatch",
        "inf-7",
    )
    assert entry_error(None, "inf-7", "SQS.SendMessageBatch") is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("SlowDown", "Throttled"),  # a throttling code without "Throttl" in it
        ("KMSThrottlingException", "Throttled"),  # "Throttl" in a code the list does not have
        ("InternalFailure", "AwsCallFailed"),
    ],
)
def test_a_throttled_entry_says_so(code: str, reason: str) -> None:
    assert _error(entry_error(EntryFailure(code, "m"), "i", "EventBridge.PutEvents")).reason == reason


def test_a_failed_call_becomes_the_error_of_its_entries() -> None:
    exc = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutEvents")
    error = _error(entry_error(exc, "inf-8", "EventBridge.PutEvents"))
    assert (error.reason, error.received, error.inference_id) == ("Throttled", "ThrottlingException", "inf-8")
    assert error.message.startswith("EventBridge.PutEvents failed:")


def test_answers_with_an_error_code_are_failures_and_the_others_are_not() -> None:
    assert answer_failures(
        [{"ErrorCode": "InternalFailure", "ErrorMessage": "boom"}, {"EventId": "e"}, {"ErrorCode": "X"}]
    ) == [EntryFailure("InternalFailure", "boom"), None, EntryFailure("X", "")]
    assert EntryFailure("c", "m").retryable is True
    assert _batch.ENTRY_ATTEMPTS == 3


# -- SQS ----------------------------------------------------------------------------------------
def _sqs_message(item: Item) -> dict[str, Any]:
    result, record = item
    return {
        "MessageBody": json.dumps(record),
        "MessageAttributes": {
            "inferenceId": {"DataType": "String", "StringValue": result.inference_id},
            "endpointName": {"DataType": "String", "StringValue": result.endpoint_name or "unknown"},
            "status": {"DataType": "String", "StringValue": result.status},
        },
    }


def _sqs_size(item: Item) -> int:
    """SQS counts the body and each attribute's name, data type and value."""
    message = _sqs_message(item)
    return len(message["MessageBody"].encode()) + sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"].encode())
        for name, value in message["MessageAttributes"].items()
    )


def _expect_sqs_batch(stub: Stubber, batch: list[Item], failed: list[dict[str, Any]] | None = None) -> None:
    failed = failed or []
    failed_ids = {f["Id"] for f in failed}
    stub.add_response(
        "send_message_batch",
        {
            "Successful": [
                {"Id": str(i), "MessageId": f"m{i}", "MD5OfMessageBody": "0" * 32}
                for i in range(len(batch))
                if str(i) not in failed_ids
            ],
            "Failed": failed,
        },
        {"QueueUrl": URL, "Entries": [{"Id": str(i), **_sqs_message(it)} for i, it in enumerate(batch)]},
    )


def _queue(stubs: dict[str, tuple[Any, Stubber]]) -> ResultsQueue:
    queue = ResultsQueue.from_env(
        {"RESULTS_QUEUE_URL": f" {URL} "}, settings=Settings(), clients=_clients(stubs)
    )
    assert isinstance(queue, ResultsQueue)
    return queue


def test_sqs_is_on_with_a_queue_url_and_applies_to_every_result(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    assert ResultsQueue.from_env({QUEUE_URL_ENV: " "}, settings=Settings(), clients=Clients()) is None
    assert ResultsQueue.from_env({}, settings=Settings(), clients=Clients()) is None
    queue = _queue(stubs)
    assert (queue.name, queue.stage) == ("sqs", "after")
    assert queue.applies(make_result("a", status="Failed")) is True


def test_sqs_lone_result_is_one_send_message_with_filterable_attributes(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    queue = _queue(stubs)
    (item,) = batch = [
        (make_result("lone", endpoint_name=""), {"inferenceId": "lone", "status": "Completed"})
    ]
    assert _sqs_message(item)["MessageAttributes"]["endpointName"]["StringValue"] == "unknown"
    stubs["sqs"][1].add_response(
        "send_message",
        {"MessageId": "m", "MD5OfMessageBody": "0" * 32},
        {"QueueUrl": URL, **_sqs_message(item)},
    )
    assert queue.send_batch(batch) == [None]


def test_sqs_lone_result_that_fails_returns_its_error(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["sqs"][1].add_client_error("send_message", "KMS.DisabledException", "key disabled")
    (error,) = _queue(stubs).send_batch(items(1))
    error = _error(error)
    assert (error.reason, error.received, error.inference_id) == (
        "AwsCallFailed",
        "KMS.DisabledException",
        "inf-0",
    )
    assert error.message.startswith("SQS.SendMessage failed:")


def test_sqs_batch_resends_only_the_message_it_refused(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    batch = items(3)
    stub = stubs["sqs"][1]
    _expect_sqs_batch(
        stub, batch, [{"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "x"}]
    )
    _expect_sqs_batch(stub, [batch[1]])
    assert _queue(stubs).send_batch(batch) == [None, None, None]


def test_sqs_sender_fault_is_not_resent_and_fails_only_its_result(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    batch = items(3)
    refused = [
        {"Id": "1", "SenderFault": True, "Code": "InvalidParameterValue", "Message": "too long"},
        {"Id": "2", "SenderFault": True, "Code": "InvalidParameterValue"},
    ]
    _expect_sqs_batch(stubs["sqs"][1], batch, refused)
    answers = _queue(stubs).send_batch(batch)
    assert answers[0] is None
    assert (
        _error(answers[1]).message == "SQS.SendMessageBatch refused the entry: InvalidParameterValue too long"
    )
    error = _error(answers[2])
    assert error.message == "SQS.SendMessageBatch refused the entry: InvalidParameterValue "
    assert (error.reason, error.received, error.expected, error.inference_id) == (
        "AwsCallFailed",
        "InvalidParameterValue",
        "the entry accepted by SQS.SendMessageBatch",
        "inf-2",
    )


def test_sqs_failed_batch_call_fails_each_of_its_results(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["sqs"][1].add_client_error("send_message_batch", "AccessDenied", "no")
    answers = _queue(stubs).send_batch(items(2))
    assert [(_error(a).received, _error(a).inference_id) for a in answers] == [
        ("AccessDenied", "inf-0"),
        ("AccessDenied", "inf-1"),
    ]
    assert _error(answers[0]).message.startswith("SQS.SendMessageBatch failed:")


def test_sqs_ten_messages_are_one_call_and_eleven_are_two(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stub = stubs["sqs"][1]
    ten, eleven = items(10), items(11, prefix="b")
    _expect_sqs_batch(stub, ten)
    _expect_sqs_batch(stub, eleven[:10])
    _expect_sqs_batch(stub, eleven[10:])
    queue = _queue(stubs)
    assert queue.send_batch(ten) == [None] * 10
    assert queue.send_batch(eleven) == [None] * 11


def test_sqs_messages_of_exactly_the_batch_byte_limit_are_one_call(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    first = items(1, pad=100_000)[0]
    base = _sqs_size(items(1, prefix="s")[0])
    fits = [first, items(1, pad=262_144 - _sqs_size(first) - base, prefix="s")[0]]
    over = [first, items(1, pad=262_144 - _sqs_size(first) - base + 1, prefix="s")[0]]
    assert sum(map(_sqs_size, fits)) == 262_144
    stub = stubs["sqs"][1]
    _expect_sqs_batch(stub, fits)
    _expect_sqs_batch(stub, over[:1])
    _expect_sqs_batch(stub, over[1:])
    queue = _queue(stubs)
    assert queue.send_batch(fits) == [None, None]
    assert queue.send_batch(over) == [None, None]


# -- EventBridge --------------------------------------------------------------------------------
def _event(item: Item) -> dict[str, Any]:
    result, record = item
    return {
        "Source": "sagemaker.async-results",
        "DetailType": "SageMaker Async Inference Result",
        "Detail": json.dumps(record),
        "EventBusName": BUS,
        "Resources": [loc for loc in (result.output_location, result.failure_location) if loc],
    }


def _event_size(item: Item) -> int:
    event = _event(item)
    return (
        len(event["Source"])
        + len(event["DetailType"])
        + len(event["Detail"].encode())
        + sum(len(r) for r in event["Resources"])
    )


def _expect_put_events(stub: Stubber, batch: list[Item], errors: dict[int, str] | None = None) -> None:
    errors = errors or {}
    stub.add_response(
        "put_events",
        {
            "FailedEntryCount": len(errors),
            "Entries": [
                {"ErrorCode": errors[i], "ErrorMessage": "boom"} if i in errors else {"EventId": f"e{i}"}
                for i in range(len(batch))
            ],
        },
        {"Entries": [_event(it) for it in batch]},
    )


def _bus(stubs: dict[str, tuple[Any, Stubber]]) -> EventBridgeDestination:
    bus = EventBridgeDestination.from_env(
        {"EVENT_BUS_NAME": BUS}, settings=Settings(), clients=_clients(stubs)
    )
    assert isinstance(bus, EventBridgeDestination)
    return bus


def test_eventbridge_is_on_with_a_bus_name(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    assert EventBridgeDestination.from_env({BUS_NAME_ENV: ""}, settings=Settings(), clients=Clients()) is None
    bus = _bus(stubs)
    assert (bus.name, bus.stage, SOURCE, DETAIL_TYPE) == (
        "eventBridge",
        "after",
        "sagemaker.async-results",
        "SageMaker Async Inference Result",
    )
    assert bus.applies(make_result("a")) is True


def test_eventbridge_event_names_the_result_locations_as_resources(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    failed = make_result("f", status="Failed", failure_location="s3://bucket/failures/f-error.out")
    batch = [(failed, {"inferenceId": "f"}), items(1)[0]]
    assert _event(batch[0])["Resources"] == ["s3://bucket/failures/f-error.out"]
    assert _event(batch[1])["Resources"] == ["s3://bucket/out/inf-0.out"]
    _expect_put_events(stubs["events"][1], batch)
    assert _bus(stubs).send_batch(batch) == [None, None]


def test_eventbridge_lone_result_is_one_put_events(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    batch = items(1)
    _expect_put_events(stubs["events"][1], batch)
    assert _bus(stubs).send_batch(batch) == [None]


@pytest.mark.parametrize(
    ("code", "reason"), [("ThrottlingException", "Throttled"), ("InternalFailure", "AwsCallFailed")]
)
def test_eventbridge_rejected_lone_event_is_a_structured_error(
    stubs: dict[str, tuple[Any, Stubber]], code: str, reason: str
) -> None:
    _expect_put_events(stubs["events"][1], items(1), {0: code})
    with pytest.raises(AwsCallError) as caught:
        _bus(stubs).send(*items(1)[0])
    error = caught.value
    assert error.message == "EventBridge rejected the event: boom"
    assert (error.reason, error.expected, error.inference_id) == (reason, "FailedEntryCount 0", "inf-0")
    assert code in str(error.received)


def test_eventbridge_failed_lone_call_is_a_structured_error(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["events"][1].add_client_error("put_events", "ResourceNotFoundException", "no bus")
    (error,) = _bus(stubs).send_batch(items(1))
    error = _error(error)
    assert (error.reason, error.received, error.inference_id) == (
        "AwsCallFailed",
        "ResourceNotFoundException",
        "inf-0",
    )
    assert error.message.startswith("EventBridge.PutEvents failed:")


def test_eventbridge_batch_resends_the_refused_event_until_it_gives_up(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    batch = items(3)
    stub = stubs["events"][1]
    _expect_put_events(stub, batch, {0: "InternalFailure", 2: "InternalFailure"})
    _expect_put_events(stub, [batch[0], batch[2]], {1: "InternalFailure"})
    _expect_put_events(stub, [batch[2]], {0: "InternalFailure"})
    answers = _bus(stubs).send_batch(batch)
    assert answers[:2] == [None, None]
    error = _error(answers[2])
    assert error.message == "EventBridge.PutEvents refused the entry: InternalFailure boom"
    assert error.inference_id == "inf-2"


def test_eventbridge_ten_events_are_one_call_and_eleven_are_two(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    stub = stubs["events"][1]
    ten, eleven = items(10), items(11, prefix="b")
    _expect_put_events(stub, ten)
    _expect_put_events(stub, eleven[:10])
    _expect_put_events(stub, eleven[10:])
    bus = _bus(stubs)
    assert bus.send_batch(ten) == [None] * 10
    assert bus.send_batch(eleven) == [None] * 11


def test_eventbridge_events_of_exactly_the_byte_limit_are_one_call(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    first = items(1, pad=100_000)[0]
    base = _event_size(items(1, prefix="s")[0])
    fits = [first, items(1, pad=262_144 - _event_size(first) - base, prefix="s")[0]]
    over = [first, items(1, pad=262_144 - _event_size(first) - base + 1, prefix="s")[0]]
    assert sum(map(_event_size, fits)) == 262_144
    stub = stubs["events"][1]
    _expect_put_events(stub, fits)
    _expect_put_events(stub, over[:1])
    _expect_put_events(stub, over[1:])
    bus = _bus(stubs)
    assert bus.send_batch(fits) == [None, None]
    assert bus.send_batch(over) == [None, None]


# -- Kinesis ------------------------------------------------------------------------------------
def _kinesis_record(item: Item) -> dict[str, Any]:
    result, record = item
    return {"Data": json.dumps(record).encode(), "PartitionKey": result.inference_id[:256]}


def _expect_put_records(stub: Stubber, batch: list[Item], errors: dict[int, str] | None = None) -> None:
    errors = errors or {}
    stub.add_response(
        "put_records",
        {
            **({"FailedRecordCount": len(errors)} if errors else {}),
            "Records": [
                {"ErrorCode": errors[i], "ErrorMessage": "slow down"}
                if i in errors
                else {"SequenceNumber": str(i), "ShardId": "shardId-0"}
                for i in range(len(batch))
            ],
        },
        {"StreamARN": STREAM, "Records": [_kinesis_record(it) for it in batch]},
    )


def _expect_put_record(stub: Stubber, item: Item) -> None:
    stub.add_response(
        "put_record",
        {"SequenceNumber": "1", "ShardId": "shardId-0"},
        {"StreamARN": STREAM, **_kinesis_record(item)},
    )


def _stream(stubs: dict[str, tuple[Any, Stubber]]) -> KinesisDestination:
    stream = KinesisDestination.from_env(
        {"RESULTS_STREAM_ARN": STREAM}, settings=Settings(), clients=_clients(stubs)
    )
    assert isinstance(stream, KinesisDestination)
    return stream


@pytest.mark.parametrize(
    "value",
    [
        "results",
        "aws:kinesis:us-east-1:123456789012:stream/results",
        "arn:aws:sqs:us-east-1:123456789012:stream/results",
        "arn:aws:kinesis:us-east-1:123456789012:table/results",
    ],
)
def test_kinesis_needs_a_stream_arn(value: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        KinesisDestination.from_env({STREAM_ARN_ENV: value}, settings=Settings(), clients=Clients())
    error = caught.value
    assert error.message == f"{STREAM_ARN_ENV}={value!r}: expected a Kinesis stream ARN"
    assert (error.received, error.expected) == (
        value,
        "arn:<partition>:kinesis:<region>:<account>:stream/<name>",
    )


def test_kinesis_is_on_with_a_stream_arn(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    assert KinesisDestination.from_env({STREAM_ARN_ENV: " "}, settings=Settings(), clients=Clients()) is None
    stream = _stream(stubs)
    assert (stream.name, stream.stage) == ("kinesis", "after")
    assert stream.applies(make_result("a")) is True


def test_kinesis_partition_key_is_the_inference_id_cut_to_256_characters(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    long_id = "i" * 300  # longer than SageMaker's IDs: the cut guards the Kinesis limit on its own
    item = (cast(InferenceResult, SimpleNamespace(inference_id=long_id)), {"inferenceId": long_id})
    stub = stubs["kinesis"][1]
    stub.add_response(
        "put_record",
        {"SequenceNumber": "1", "ShardId": "shardId-0"},
        {"StreamARN": STREAM, "Data": json.dumps(item[1]).encode(), "PartitionKey": "i" * 256},
    )
    assert _stream(stubs).send_batch([item]) == [None]


def test_kinesis_lone_put_record_failure_is_a_structured_error(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stubs["kinesis"][1].add_client_error("put_record", "ResourceNotFoundException", "no stream")
    (error,) = _stream(stubs).send_batch(items(1))
    error = _error(error)
    assert (error.reason, error.received, error.inference_id) == (
        "AwsCallFailed",
        "ResourceNotFoundException",
        "inf-0",
    )
    assert error.message.startswith("Kinesis.PutRecord failed:")


def test_kinesis_batch_resends_refused_records_and_reports_the_last_refusal(
    stubs: dict[str, tuple[Any, Stubber]],
) -> None:
    batch = items(3)
    stub = stubs["kinesis"][1]
    code = "ProvisionedThroughputExceededException"
    _expect_put_records(stub, batch, {1: code})
    _expect_put_records(stub, [batch[1]], {0: code})
    _expect_put_records(stub, [batch[1]], {0: code})
    answers = _stream(stubs).send_batch(batch)
    assert [answers[0], answers[2]] == [None, None]
    error = _error(answers[1])
    assert error.message == f"Kinesis.PutRecords refused the entry: {code} slow down"
    assert (error.reason, error.inference_id) == ("Throttled", "inf-1")


@pytest.mark.parametrize("code", ["AccessDeniedException", "AccessDenied"])
def test_kinesis_without_put_records_permission_falls_back_to_put_record_for_good(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any, code: str
) -> None:
    stub = stubs["kinesis"][1]
    first, second = items(2), items(2, prefix="b")
    stub.add_client_error("put_records", code, "not allowed")
    for item in first + second:
        _expect_put_record(stub, item)
    stream = _stream(stubs)
    assert stream.send_batch(first) == [None, None]
    assert stream.send_batch(second) == [None, None]  # PutRecords is not asked again
    (warning,) = [r for r in runtime_logs.records if "PutRecords" in r.getMessage()]
    assert warning.getMessage() == "kinesis:PutRecords is not allowed: sending one PutRecord per result"
    assert warning.stream == STREAM


def test_kinesis_other_batch_call_failures_fail_the_records_and_keep_batching(
    stubs: dict[str, tuple[Any, Stubber]], runtime_logs: Any
) -> None:
    stub = stubs["kinesis"][1]
    stub.add_client_error("put_records", "InternalFailure", "oops")
    batch = items(2)
    _expect_put_records(stub, batch)
    stream = _stream(stubs)
    answers = stream.send_batch(batch)
    assert [(_error(a).received, _error(a).inference_id) for a in answers] == [
        ("InternalFailure", "inf-0"),
        ("InternalFailure", "inf-1"),
    ]
    assert _error(answers[0]).message.startswith("Kinesis.PutRecords failed:")
    assert stream.send_batch(batch) == [None, None]
    assert not [r for r in runtime_logs.records if "PutRecords" in r.getMessage()]


def test_kinesis_500_records_are_one_call_and_501_are_two(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    stub = stubs["kinesis"][1]
    full, over = items(500), items(501, prefix="b")
    _expect_put_records(stub, full)
    _expect_put_records(stub, over[:500])
    _expect_put_records(stub, over[500:])
    stream = _stream(stubs)
    assert stream.send_batch(full) == [None] * 500
    assert stream.send_batch(over) == [None] * 501


def test_kinesis_records_of_exactly_five_mib_are_one_call(stubs: dict[str, tuple[Any, Stubber]]) -> None:
    def size(item: Item) -> int:
        record = _kinesis_record(item)
        return len(record["Data"]) + len(record["PartitionKey"].encode())

    limit = 5 * 1024 * 1024
    first = items(4, pad=1_000_000)
    base = size(items(1, prefix="s")[0])
    room = limit - sum(map(size, first)) - base
    fits = [*first, items(1, pad=room, prefix="s")[0]]
    over = [*first, items(1, pad=room + 1, prefix="s")[0]]
    assert sum(map(size, fits)) == limit
    stub = stubs["kinesis"][1]
    _expect_put_records(stub, fits)
    _expect_put_records(stub, over[:4])
    _expect_put_records(stub, over[4:])
    stream = _stream(stubs)
    assert stream.send_batch(fits) == [None] * 5
    assert stream.send_batch(over) == [None] * 5
