"""Recovery against stubbed S3 and DynamoDB: the exact calls per verdict, the log of each, the SQS response.

Fast companions of test_recovery.py (moto end to end): each case states the reads recovery makes,
what it hands the app, and what it writes, so a changed call or verdict shows here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, fields
from datetime import UTC, datetime
from typing import Any, get_args

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from sagemaker_async_results import contract
from sagemaker_async_results.runtime import entrypoint, recovery
from sagemaker_async_results.runtime.errors import AwsCallError, ConfigurationError
from sagemaker_async_results.runtime.recovery import (
    RecoveredObject,
    RecoveryOutcome,
    RecoverySettings,
    ResultRecovery,
)
from sagemaker_async_results.runtime.settings import S3Prefix

BUCKET = "bucket"
TABLE = "results"
WRITTEN = datetime(2026, 11, 23, 10, 0, 4, tzinfo=UTC)
SETTINGS = RecoverySettings(
    output_location=S3Prefix.parse(f"s3://{BUCKET}/out/"),
    failure_location=S3Prefix.parse(f"s3://{BUCKET}/fail/"),
    results_table=TABLE,
    endpoint_name="scorer",
)
ENV = {
    contract.RECOVERY_OUTPUT_LOCATION: f"s3://{BUCKET}/out/",
    contract.RECOVERY_FAILURE_LOCATION: f"s3://{BUCKET}/fail/",
    contract.RESULTS_TABLE: TABLE,
}


class Route:
    """The app's stand-in: records each notification and answers with ``outcome``."""

    def __init__(self, *outcomes: str) -> None:
        self.outcomes = outcomes or ("routed",)
        self.calls: list[tuple[dict[str, Any], Any]] = []

    def __call__(self, notification: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls.append((notification, context))
        return {"results": [*({"outcome": o} for o in self.outcomes), "not a mapping"]}


@pytest.fixture
def stubs() -> Iterator[tuple[Stubber, Stubber, Any, Any]]:
    config = Config(retries={"total_max_attempts": 1})
    s3 = boto3.client("s3", region_name="us-east-1", config=config)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", config=config)
    with Stubber(s3) as s3_stub, Stubber(dynamodb) as dynamodb_stub:
        yield s3_stub, dynamodb_stub, s3, dynamodb
        s3_stub.assert_no_pending_responses()
        dynamodb_stub.assert_no_pending_responses()


def _recovery(stubs: tuple[Stubber, Stubber, Any, Any], route: Route, **settings: Any) -> ResultRecovery:
    chosen = RecoverySettings(**{**_fields(SETTINGS), **settings})
    return ResultRecovery(chosen, route=route, s3=stubs[2], dynamodb=stubs[3])


def _fields(settings: RecoverySettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in RecoverySettings.__dataclass_fields__}


def _expect_get(stub: Stubber, pk: str, item: dict[str, Any] | None) -> None:
    stub.add_response(
        "get_item",
        {"Item": item} if item is not None else {},
        {"TableName": TABLE, "Key": {"pk": {"S": pk}}, "ConsistentRead": True},
    )


def _expect_head(stub: Stubber, key: str) -> None:
    stub.add_response(
        "head_object",
        {"ContentType": "application/json", "LastModified": WRITTEN},
        {"Bucket": BUCKET, "Key": key},
    )


def _expect_mark(stub: Stubber, inference_id: str) -> None:
    stub.add_response(
        "update_item",
        {},
        {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"result#{inference_id}"}},
            "UpdateExpression": "SET #recovered = :true",
            "ConditionExpression": "attribute_exists(#pk)",
            "ExpressionAttributeNames": {"#recovered": "recovered", "#pk": "pk"},
            "ExpressionAttributeValues": {":true": {"BOOL": True}},
        },
    )


def _submitted(**values: str) -> dict[str, Any]:
    return {"pk": {"S": "result#abc"}, **{k: {"S": v} for k, v in values.items()}}


def _records(logs: Any, verdict: str) -> list[logging.LogRecord]:
    return [r for r in logs.records if getattr(r, "recovery", {}).get("verdict") == verdict]


def _s3_message(*keys: str, message_id: str = "m-1", event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    records = [
        {
            "eventName": event_name,
            "awsRegion": "eu-west-1",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": k}},
        }
        for k in keys
    ]
    return {"messageId": message_id, "body": json.dumps({"Records": records})}


# -- settings -----------------------------------------------------------------------------------
def test_settings_from_the_environment() -> None:
    settings = RecoverySettings.from_env(
        {
            **{k: f" {v} " for k, v in ENV.items()},
            contract.RECOVERY_ENDPOINT_NAME: " scorer ",
            contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: " FALSE ",
        }
    )
    assert settings == RecoverySettings(
        output_location=S3Prefix.parse(f"s3://{BUCKET}/out/"),
        failure_location=S3Prefix.parse(f"s3://{BUCKET}/fail/"),
        results_table=TABLE,
        endpoint_name="scorer",
        require_submitted_record=False,
    )
    defaults = RecoverySettings.from_env(ENV)
    assert defaults == RecoverySettings(
        output_location=S3Prefix.parse(f"s3://{BUCKET}/out/"),
        failure_location=S3Prefix.parse(f"s3://{BUCKET}/fail/"),
        results_table=TABLE,
    )
    assert (defaults.endpoint_name, defaults.require_submitted_record) == ("", True)
    assert RecoverySettings.from_env(
        {**ENV, contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: "true"}
    ).require_submitted_record


def test_settings_list_every_problem_and_only_the_variables_given() -> None:
    environ = {
        contract.RECOVERY_OUTPUT_LOCATION: "bucket/out",
        contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: "Maybe",
        contract.RESULTS_TABLE: " ",
        "UNRELATED": "x",
    }
    with pytest.raises(ConfigurationError) as caught:
        RecoverySettings.from_env(environ)
    error = caught.value
    problems = error.message.removeprefix("invalid recovery environment: ").split("; ")
    assert error.message.startswith("invalid recovery environment: ")
    assert [p.split(":")[0].split("=")[0] for p in problems] == [
        contract.RECOVERY_OUTPUT_LOCATION,
        contract.RECOVERY_FAILURE_LOCATION,
        contract.RESULTS_TABLE,
        contract.RECOVERY_REQUIRE_SUBMITTED_RECORD,
    ]
    assert "''" in problems[1]  # an absent location is an empty one
    assert problems[2] == f"{contract.RESULTS_TABLE}: required (recovery reads the result records)"
    assert problems[3] == f"{contract.RECOVERY_REQUIRE_SUBMITTED_RECORD}='maybe': expected true or false"
    assert "UNRELATED" not in str(error.received)
    assert "bucket/out" in str(error.received)
    assert contract.RECOVERY_ENDPOINT_NAME not in str(error.received)
    assert error.expected == "the variables the AsyncInferenceResults construct sets on the recovery function"


# -- verdicts -----------------------------------------------------------------------------------
def test_a_lost_result_is_routed_and_marked_recovered(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any
) -> None:
    s3_stub, dynamodb_stub, _, _ = stubs
    _expect_get(dynamodb_stub, "result#abc", _submitted(submittedAt="2026-11-23T10:00:00.000Z"))
    _expect_get(dynamodb_stub, "idempotency#result#abc#Completed", None)
    _expect_head(s3_stub, "out/abc.out")
    _expect_mark(dynamodb_stub, "abc")
    route = Route()
    context = object()
    event = {"Records": [_s3_message("out/abc.out")]}
    assert _recovery(stubs, route)(event, context) == {"batchItemFailures": []}
    ((notification, seen_context),) = route.calls
    assert seen_context is context
    assert notification["awsRegion"] == "eu-west-1"
    assert notification["inferenceId"] == "abc"
    assert notification["eventTime"] == "2026-11-23T10:00:04.000Z"
    assert notification["responseParameters"] == {
        "contentType": "application/json",
        "outputLocation": f"s3://{BUCKET}/out/abc.out",
    }
    (logged,) = _records(runtime_logs, "recovered")
    assert (logged.levelno, logged.getMessage()) == (
        logging.WARNING,
        "result recovered: routed without a notification",
    )
    assert logged.recovery == {
        "verdict": "recovered",
        "bucket": BUCKET,
        "key": "out/abc.out",
        "inferenceId": "abc",
        "detail": "routed",  # the answer that is not a mapping is no outcome
    }


def test_a_notified_result_is_left_alone(stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any) -> None:
    _expect_get(stubs[1], "result#abc", _submitted(routing="Routed"))
    route = Route()
    outcome = _recovery(stubs, route).recover(RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"))
    assert outcome == RecoveryOutcome("notified", BUCKET, "out/abc.out", "abc", "routing is Routed")
    assert route.calls == []
    (logged,) = _records(runtime_logs, "notified")
    assert (logged.levelno, logged.getMessage()) == (logging.INFO, "result notified: nothing to recover")


@pytest.mark.parametrize(
    ("lock", "said"), [({"routing": {"S": "InProgress"}}, "InProgress"), ({}, "unknown")]
)
def test_the_exactly_once_lock_also_says_notified(
    stubs: tuple[Stubber, Stubber, Any, Any], lock: dict[str, Any], said: str
) -> None:
    _expect_get(stubs[1], "result#abc", None)
    _expect_get(
        stubs[1], "idempotency#result#abc#Failed", {"pk": {"S": "idempotency#result#abc#Failed"}, **lock}
    )
    outcome = _recovery(stubs, Route()).recover(
        RecoveredObject("abc", "Failed", BUCKET, "fail/abc-error.out")
    )
    assert (outcome.verdict, outcome.detail) == ("notified", f"exactly-once lock record: routing is {said}")


def test_an_unknown_request_is_not_recovered_unless_allowed(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any
) -> None:
    s3_stub, dynamodb_stub, _, _ = stubs
    obj = RecoveredObject("abc", "Failed", BUCKET, "fail/abc-error.out")
    _expect_get(dynamodb_stub, "result#abc", None)
    _expect_get(dynamodb_stub, "idempotency#result#abc#Failed", None)
    outcome = _recovery(stubs, Route()).recover(obj)
    assert (outcome.verdict, outcome.detail) == (
        "unknown-request",
        "no Submitted record: not a request the client sent (recovery requires one)",
    )
    (logged,) = _records(runtime_logs, "unknown-request")
    assert (logged.levelno, logged.getMessage()) == (
        logging.WARNING,
        "result of an unknown request: not recovered",
    )

    _expect_get(dynamodb_stub, "result#abc", None)
    _expect_get(dynamodb_stub, "idempotency#result#abc#Failed", None)
    _expect_head(s3_stub, "fail/abc-error.out")
    _expect_mark(dynamodb_stub, "abc")
    route = Route()
    allowed = _recovery(stubs, route, require_submitted_record=False).recover(obj, region="us-west-2")
    assert allowed.verdict == "recovered"
    ((notification, _),) = route.calls
    assert notification["failureReason"] == contract.RECOVERED_FAILURE_REASON
    assert notification["awsRegion"] == "us-west-2"
    assert notification["requestParameters"] == {"endpointName": "scorer"}


def test_a_deleted_object_is_nothing_to_recover(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any
) -> None:
    s3_stub, dynamodb_stub, _, _ = stubs
    _expect_get(dynamodb_stub, "result#abc", _submitted())
    _expect_get(dynamodb_stub, "idempotency#result#abc#Completed", None)
    s3_stub.add_client_error("head_object", "404", "Not Found", http_status_code=404)
    route = Route()
    outcome = _recovery(stubs, route).recover(RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"))
    assert (outcome.verdict, outcome.detail) == ("missing", "the object no longer exists")
    assert route.calls == []
    (logged,) = _records(runtime_logs, "missing")
    assert (logged.levelno, logged.getMessage()) == (logging.INFO, "result object gone: nothing to recover")


@pytest.mark.parametrize("code", ["NoSuchKey", "NotFound"])
def test_other_not_found_codes_are_missing_too(stubs: tuple[Stubber, Stubber, Any, Any], code: str) -> None:
    _expect_get(stubs[1], "result#abc", _submitted())
    _expect_get(stubs[1], "idempotency#result#abc#Completed", None)
    stubs[0].add_client_error("head_object", code, "gone")
    outcome = _recovery(stubs, Route()).recover(RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"))
    assert outcome.verdict == "missing"


def test_a_notification_that_routed_it_meanwhile_makes_a_duplicate(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any
) -> None:
    _expect_get(stubs[1], "result#abc", _submitted())
    _expect_get(stubs[1], "idempotency#result#abc#Completed", None)
    _expect_head(stubs[0], "out/abc.out")
    outcome = _recovery(stubs, Route("duplicate")).recover(
        RecoveredObject("abc", "Completed", BUCKET, "out/abc.out")
    )
    assert (outcome.verdict, outcome.detail) == ("duplicate", "routed by its notification")
    (logged,) = _records(runtime_logs, "duplicate")
    assert (logged.levelno, logged.getMessage()) == (
        logging.INFO,
        "result routed by its notification meanwhile: nothing recovered",
    )


@pytest.mark.parametrize(
    ("code", "level"),
    [("ConditionalCheckFailedException", logging.INFO), ("InternalServerError", logging.ERROR)],
)
def test_a_failed_mark_is_logged_and_the_result_still_recovered(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any, code: str, level: int
) -> None:
    _expect_get(stubs[1], "result#abc", _submitted())
    _expect_get(stubs[1], "idempotency#result#abc#Completed", None)
    _expect_head(stubs[0], "out/abc.out")
    stubs[1].add_client_error("update_item", code, "no")
    outcome = _recovery(stubs, Route()).recover(RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"))
    assert outcome.verdict == "recovered"
    (logged,) = [r for r in runtime_logs.records if "not marked recovered" in r.getMessage()]
    assert logged.getMessage() == "recovered, but the result record was not marked recovered"
    assert (logged.levelno, logged.inference_id) == (level, "abc")
    assert code in logged.error


# -- AWS errors and the SQS response -------------------------------------------------------------
def test_a_failed_read_fails_the_message_and_the_others_go_on(
    stubs: tuple[Stubber, Stubber, Any, Any], runtime_logs: Any
) -> None:
    stubs[1].add_client_error("get_item", "ProvisionedThroughputExceededException", "slow")
    _expect_get(stubs[1], "result#def", _submitted(routing="Routed"))
    event = {
        "Records": [
            _s3_message("out/abc.out", message_id="m-1"),
            _s3_message("out/def.out", message_id="m-2"),
        ]
    }
    assert _recovery(stubs, Route())(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    (logged,) = [r for r in runtime_logs.records if r.levelno >= logging.ERROR]
    assert logged.getMessage() == "recovery failed: the message will be delivered again"
    assert (logged.message_id, logged.reason) == ("m-1", "Throttled")
    assert logged.error.startswith("DynamoDB.GetItem (recovery) failed:")
    assert logged.inference_id is None


def test_a_failed_head_is_an_aws_error_of_the_inference(stubs: tuple[Stubber, Stubber, Any, Any]) -> None:
    _expect_get(stubs[1], "result#abc", _submitted())
    _expect_get(stubs[1], "idempotency#result#abc#Completed", None)
    stubs[0].add_client_error("head_object", "403", "Forbidden", http_status_code=403)
    with pytest.raises(AwsCallError) as caught:
        _recovery(stubs, Route()).recover(RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"))
    assert caught.value.message.startswith("S3.HeadObject (recovery) failed:")
    assert caught.value.inference_id == "abc"


def test_an_exception_that_is_not_structured_is_logged_by_its_repr(runtime_logs: Any) -> None:
    def broken(notification: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("app bug")

    class Table:
        def get_item(self, **params: Any) -> dict[str, Any]:
            return {"Item": _submitted()} if params["Key"]["pk"]["S"].startswith("result#") else {}

    class Bucket:
        def head_object(self, **params: Any) -> dict[str, Any]:
            return {"ContentType": "application/json"}

    recovery_ = ResultRecovery(SETTINGS, route=broken, s3=Bucket(), dynamodb=Table())  # type: ignore[arg-type]
    assert recovery_({"Records": [_s3_message("out/abc.out", message_id="m-9")]}) == {
        "batchItemFailures": [{"itemIdentifier": "m-9"}]
    }
    (logged,) = [r for r in runtime_logs.records if r.levelno >= logging.ERROR]
    assert logged.error == "RuntimeError('app bug')"
    assert logged.message_id == "m-9"


@pytest.mark.parametrize(
    "event",
    [None, [], {"Records": "x"}, {"Records": ["not a message"]}, {}],
)
def test_events_without_messages_fail_nothing(event: Any) -> None:
    assert ResultRecovery(SETTINGS, route=Route())(event) == {"batchItemFailures": []}


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("not json", None),
        (json.dumps({"Event": "s3:TestEvent"}), "s3:TestEvent"),
        (json.dumps(["x"]), None),
        (None, None),
    ],
)
def test_bodies_without_s3_records_are_skipped(runtime_logs: Any, body: Any, said: str | None) -> None:
    event = {"Records": [{"messageId": "m-1", "body": body}]}
    assert ResultRecovery(SETTINGS, route=Route())(event) == {"batchItemFailures": []}
    (logged,) = [r for r in runtime_logs.records if r.getMessage() == "not an S3 event notification: skipped"]
    assert logged.event == said


def test_foreign_records_are_skipped_without_a_read(runtime_logs: Any) -> None:
    recovery_ = ResultRecovery(SETTINGS, route=Route())
    removed = recovery_.recover_record(
        {
            "eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": "out/a.out"}},
        }
    )
    assert removed == RecoveryOutcome("foreign", BUCKET, "out/a.out", None, "not an ObjectCreated event")
    odd = recovery_.recover_record(
        {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "out/a+b%21.json"}}}
    )
    assert (odd.verdict, odd.bucket, odd.key) == ("foreign", "", "out/a b!.json")
    assert odd.detail == f"outside s3://{BUCKET}/out/ and s3://{BUCKET}/fail/"
    nothing = recovery_.recover_record({})
    assert (nothing.verdict, nothing.bucket, nothing.key) == ("foreign", "", "")
    assert [(r.levelno, r.getMessage()) for r in _records(runtime_logs, "foreign")] == [
        (logging.INFO, "not a SageMaker result object: skipped")
    ] * 3


def test_an_encoded_key_is_decoded_and_the_region_is_optional(
    stubs: tuple[Stubber, Stubber, Any, Any],
) -> None:
    _expect_get(stubs[1], "result#a b", _submitted(routing="Failed"))
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "out/a+b.out"}},
    }
    outcome = _recovery(stubs, Route()).recover_record(record)
    assert (outcome.verdict, outcome.inference_id, outcome.detail) == ("notified", "a b", "routing is Failed")


def test_a_naive_modification_time_is_taken_as_utc() -> None:
    obj = RecoveredObject("abc", "Completed", BUCKET, "out/abc.out")
    naive = recovery.build_notification(obj, {}, {"LastModified": datetime(2026, 1, 2, 3, 4, 5)}, SETTINGS)
    assert naive["eventTime"] == "2026-01-02T03:04:05.000Z"
    numeric = recovery.build_notification(obj, {"submittedAt": {"N": "1"}}, {}, SETTINGS)
    assert "receivedTime" not in numeric


# -- the Lambda entry ---------------------------------------------------------------------------
def test_the_handler_builds_one_recovery_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    recovery.reset_recovery()
    try:
        first = recovery.get_recovery()
        assert recovery.get_recovery() is first
        assert first.settings == RecoverySettings.from_env(ENV)
        assert recovery.handler({"Records": []}, None) == {"batchItemFailures": []}
        recovery.reset_recovery()
        assert recovery.get_recovery() is not first
    finally:
        recovery.reset_recovery()


def test_without_clients_it_uses_the_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    class App:
        def __init__(self) -> None:
            self.clients = type("C", (), {"s3": object(), "dynamodb": object()})()

        def __call__(self, notification: dict[str, Any], context: Any) -> dict[str, Any]:
            return {}

    app = App()
    monkeypatch.setattr(entrypoint, "get_app", lambda: app)
    recovery_ = ResultRecovery(SETTINGS)
    assert recovery_.s3 is app.clients.s3
    assert recovery_.dynamodb is app.clients.dynamodb
    assert recovery_._app_route() is app


def test_an_absent_table_is_a_problem_too() -> None:
    environ = {k: v for k, v in ENV.items() if k != contract.RESULTS_TABLE}
    with pytest.raises(ConfigurationError, match=f"{contract.RESULTS_TABLE}: required"):
        RecoverySettings.from_env(environ)


def test_an_outcome_defaults_to_no_inference_id_and_no_detail() -> None:
    outcome = RecoveryOutcome("foreign", BUCKET, "k")
    assert outcome.to_dict() == {
        "verdict": "foreign",
        "bucket": BUCKET,
        "key": "k",
        "inferenceId": None,
        "detail": "",
    }


def test_every_outcome_of_the_routing_is_in_the_detail(stubs: tuple[Stubber, Stubber, Any, Any]) -> None:
    _expect_get(stubs[1], "result#abc", _submitted())
    _expect_get(stubs[1], "idempotency#result#abc#Completed", None)
    _expect_head(stubs[0], "out/abc.out")
    _expect_mark(stubs[1], "abc")
    route = Route("routed", "failed")
    record = {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": "out/abc.out"}},
    }
    outcome = _recovery(stubs, route).recover_record(record)
    assert (outcome.verdict, outcome.detail) == ("recovered", "routed,failed")
    ((notification, context),) = route.calls
    assert "awsRegion" not in notification  # the S3 record named none
    assert context is None


def test_a_failing_message_without_an_id_is_reported_with_an_empty_one(
    stubs: tuple[Stubber, Stubber, Any, Any],
) -> None:
    stubs[1].add_client_error("get_item", "InternalServerError", "no")
    message = _s3_message("out/abc.out")
    del message["messageId"]
    assert _recovery(stubs, Route())({"Records": [message]}) == {
        "batchItemFailures": [{"itemIdentifier": ""}]
    }


def test_records_that_are_not_objects_are_ignored(stubs: tuple[Stubber, Stubber, Any, Any]) -> None:
    _expect_get(stubs[1], "result#abc", _submitted(routing="Routed"))
    message = _s3_message("out/abc.out")
    body = json.loads(message["body"])
    message["body"] = json.dumps({"Records": ["not a record", *body["Records"], 7]})
    assert _recovery(stubs, Route())({"Records": [message]}) == {"batchItemFailures": []}


def test_the_verdicts_are_the_documented_six() -> None:
    assert get_args(recovery.Verdict) == (
        "recovered",
        "duplicate",
        "notified",
        "foreign",
        "unknown-request",
        "missing",
    )


@pytest.mark.parametrize(
    "value",
    [
        RecoveredObject("abc", "Completed", BUCKET, "out/abc.out"),
        RecoveryOutcome("foreign", BUCKET, "k"),
        SETTINGS,
    ],
)
def test_recovery_values_are_immutable_and_slotted(value: Any) -> None:
    with pytest.raises(FrozenInstanceError):
        setattr(value, fields(value)[0].name, "other")
    assert not hasattr(value, "__dict__")
