"""The exactly-once guard's DynamoDB requests and its answers to every reply, on a scripted client.

What each write says (its expressions, conditions and returned values) is the guard's contract with
DynamoDB: the moto tests in tests/integration/test_record_guard.py show the writes behave; these pin
the requests themselves and walk every branch of the replies (a refusal with and without the record,
a record gone or expired between the write and the read, errors that are not refusals, rounds of
retries, the transaction's limits), which a real table cannot be made to produce on demand.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError

from sagemaker_async_results.runtime import record_guard as record_guard_module
from sagemaker_async_results.runtime.errors import AwsCallError, DuplicateInProgressError, ResultError
from sagemaker_async_results.runtime.record_guard import (
    AlreadyRouted,
    Lock,
    RecordGuard,
    lock_seconds,
    record_kb,
    resume_attribute,
)

TABLE = "results"
NOW = 1_800_000_000.25
Answer = Callable[[dict[str, Any]], Any]
#: The names every guard write uses, spelled out here as DynamoDB receives them.
LOCK_NAMES = {
    "#routing": "routing",
    "#to": "routedTo",
    "#error": "routingError",
    "#owner": "lockOwner",
    "#lexp": "lockExpiresAt",
    "#done": "routedStatuses",
}


def client_error(code: str, operation: str = "UpdateItem", **extra: Any) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": f"{code} message"}, **extra}
    return ClientError(response, operation)


def refused(item: dict[str, Any] | None = None) -> ClientError:
    """A refused conditional write; with ``item``, the record DynamoDB returned with the refusal."""
    if item is None:
        return client_error("ConditionalCheckFailedException")
    return client_error("ConditionalCheckFailedException", Item=item)


class ScriptedDynamoDB:
    """Answers each call with the next scripted answer of its operation (a value, an exception, or a
    callable of the request); records every request."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = {operation: list(script) for operation, script in answers.items()}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, operation: str, request: dict[str, Any]) -> Any:
        self.calls.append((operation, request))
        script = self.answers.get(operation, [])
        answer = script.pop(0) if script else {}
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(request)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def update_item(self, **request: Any) -> Any:
        return self._answer("update_item", request)

    def get_item(self, **request: Any) -> Any:
        return self._answer("get_item", request)

    def transact_write_items(self, **request: Any) -> Any:
        return self._answer("transact_write_items", request)

    def operations(self) -> list[str]:
        return [operation for operation, _ in self.calls]


class Logs:
    """The guard's log lines, by level."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        def log(message: str, *, extra: dict[str, Any] | None = None) -> None:
            self.lines.append((level, message, extra or {}))

        return log

    def at(self, level: str) -> list[tuple[str, dict[str, Any]]]:
        return [(message, extra) for lvl, message, extra in self.lines if lvl == level]


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Logs:
    recorded = Logs()
    monkeypatch.setattr(record_guard_module, "logger", recorded)
    return recorded


def guard(client: ScriptedDynamoDB, *, ttl_seconds: int | None = None, clock: float = NOW) -> RecordGuard:
    return RecordGuard(
        table=TABLE, dynamodb=lambda: cast(Any, client), ttl_seconds=ttl_seconds, clock=lambda: clock
    )


def owner_of(request: dict[str, Any]) -> str:
    owner: str = request["ExpressionAttributeValues"][":me"]["S"]
    return owner


def lock(inference_id: str = "inf-1", *, kb: float = 0.5, status: str = "Completed") -> Lock:
    return Lock(f"result#{inference_id}", inference_id, status, owner=f"owner-{inference_id}", record_kb=kb)


# -- small pieces ----------------------------------------------------------------------------------
class Context:
    def __init__(self, millis: Any) -> None:
        self._millis = millis

    def get_remaining_time_in_millis(self) -> Any:
        if isinstance(self._millis, Exception):
            raise self._millis
        return self._millis


def test_a_lock_lives_for_the_invocations_remaining_time_at_least_a_second_else_lambdas_longest_timeout() -> (
    None
):
    assert lock_seconds(Context(30_500)) == 30.5
    assert lock_seconds(Context(999)) == 1.0  # never a lock that expires before it is written
    assert lock_seconds(None) == 900  # Lambda's longest function timeout
    assert lock_seconds(object()) == 900
    assert lock_seconds(Context(RuntimeError("no deadline"))) == 900
    assert lock_seconds(Context("soon")) == 900


def test_resume_steps_are_kept_per_status() -> None:
    assert resume_attribute("Completed") == "resumeSteps#Completed"
    assert resume_attribute("Failed") == "resumeSteps#Failed"


def test_a_lock_is_frozen_and_unique_per_attempt() -> None:
    first = Lock("k", "inf", "Completed")
    second = Lock("k", "inf", "Completed")
    assert first.owner != second.owner
    assert len(first.owner) == 32
    assert (first.resume, first.record_kb) == ((), 0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.owner = "other"  # type: ignore[misc]
    assert not hasattr(first, "__dict__")  # slots: thousands are built per minute under load
    routed = AlreadyRouted(["resultStore"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        routed.routed_to = []  # type: ignore[misc]
    assert not hasattr(routed, "__dict__")


def test_record_size_follows_dynamodbs_item_size_rule_plus_the_locks_own_attributes() -> None:
    assert record_kb({}) == 200 / 1024
    assert record_kb({"ab": {"S": "héllo"}}) == (2 + 6 + 200) / 1024  # UTF-8 bytes
    assert record_kb({"b": {"B": b"\x00\x01\x02"}}) == (1 + 3 + 200) / 1024
    assert record_kb({"b": {"B": "abcd"}}) == (1 + 4 + 200) / 1024  # base64 text, as the client sends it
    assert record_kb({"n": {"N": "12"}}) == (1 + 21 + 200) / 1024
    assert record_kb({"t": {"BOOL": True}}) == (1 + 1 + 200) / 1024
    nested = {"l": {"L": [{"S": "ab"}, {"N": "1"}]}, "m": {"M": {"k": {"S": "abc"}}}}
    assert record_kb(nested) == (1 + 3 + (1 + 2) + (1 + 21) + 1 + 3 + (1 + 3) + 200) / 1024
    assert record_kb({"odd": "not typed", "two": {"S": "a", "N": "1"}}) == (3 + 3 + 200) / 1024


# -- the claim -------------------------------------------------------------------------------------
def test_the_claim_stores_the_record_and_takes_the_lock_in_one_conditional_write() -> None:
    client = ScriptedDynamoDB()
    values = {"status": {"S": "Completed"}, "inlineBody": {"S": "abc"}}
    claim = guard(client).claim("inf-1", "Completed", values, lock_seconds=30.2, routed_to=["resultStore"])

    assert isinstance(claim, Lock)
    ((operation, request),) = client.calls
    assert operation == "update_item"
    assert request == {
        "TableName": TABLE,
        "Key": {"pk": {"S": "result#inf-1"}},
        "UpdateExpression": (
            "SET #a0 = :a0, #a1 = :a1, #routing = :state, #to = :to, #owner = :me, #lexp = :lexp REMOVE #error"
        ),
        "ConditionExpression": (
            "(attribute_not_exists(#done) OR NOT contains(#done, :status)) AND "
            "(attribute_not_exists(#owner) OR #owner = :me OR #lexp < :now)"
        ),
        "ExpressionAttributeNames": {
            **LOCK_NAMES,
            "#a0": "status",
            "#a1": "inlineBody",
        },
        "ExpressionAttributeValues": {
            ":a0": {"S": "Completed"},
            ":a1": {"S": "abc"},
            ":state": {"S": "InProgress"},
            ":to": {"L": [{"S": "resultStore"}]},
            ":me": {"S": claim.owner},
            ":lexp": {"N": str(math.ceil(NOW + 30.2))},
            ":now": {"N": str(int(NOW))},
            ":status": {"S": "Completed"},
        },
        # ALL_NEW: the resume steps of a failed earlier attempt; ALL_OLD on refusal: why, without a read.
        "ReturnValues": "ALL_NEW",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    assert (claim.key, claim.inference_id, claim.status, claim.resume) == (
        "result#inf-1",
        "inf-1",
        "Completed",
        (),
    )
    assert claim.record_kb == record_kb(values)


def test_without_the_result_store_the_lock_lives_on_a_lock_record_kept_for_the_ttl() -> None:
    client = ScriptedDynamoDB()
    records = guard(client, ttl_seconds=3600)
    claim = records.claim("inf-1", "Failed", lock_seconds=10)

    (_, request) = client.calls[0]
    assert request["Key"] == {"pk": {"S": "idempotency#result#inf-1#Failed"}}
    assert records.key("inf-1", "Failed") == "idempotency#result#inf-1#Failed"
    assert request["ExpressionAttributeNames"]["#a0"] == "expiresAt"
    assert request["ExpressionAttributeValues"][":a0"] == {"N": str(int(NOW) + 3600)}
    assert request["ExpressionAttributeValues"][":to"] == {"L": []}
    assert request["UpdateExpression"].startswith("SET #a0 = :a0, #routing = :state")
    assert isinstance(claim, Lock)
    assert claim.key == "idempotency#result#inf-1#Failed"
    assert guard(client).key("inf-1", "Failed") == "result#inf-1"


def test_an_accepted_claim_carries_the_steps_a_failed_attempt_at_its_status_completed() -> None:
    client = ScriptedDynamoDB(
        update_item=[
            {
                "Attributes": {
                    "resumeSteps#Completed": {"L": [{"S": "resultStore"}, {"S": "handler"}]},
                    "resumeSteps#Failed": {"L": [{"S": "other"}]},
                }
            }
        ]
    )
    claim = guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert isinstance(claim, Lock)
    assert claim.resume == ("resultStore", "handler")


def test_a_refusal_that_carries_a_routed_record_is_a_duplicate_without_another_read() -> None:
    item = {"routedStatuses": {"SS": ["Completed"]}, "routedTo": {"L": [{"S": "resultStore"}, {"S": "h"}]}}
    client = ScriptedDynamoDB(update_item=[refused(item)])
    assert guard(client).claim("inf-1", "Completed", lock_seconds=10) == AlreadyRouted(["resultStore", "h"])
    assert client.operations() == ["update_item"]


def test_a_refusal_without_the_record_reads_it_consistently() -> None:
    client = ScriptedDynamoDB(
        update_item=[refused()], get_item=[{"Item": {"routedStatuses": {"SS": ["Completed"]}}}]
    )
    assert guard(client).claim("inf-1", "Completed", lock_seconds=10) == AlreadyRouted([])
    assert client.calls[1] == (
        "get_item",
        {"TableName": TABLE, "Key": {"pk": {"S": "result#inf-1"}}, "ConsistentRead": True},
    )


def test_another_status_routed_does_not_make_this_one_a_duplicate() -> None:
    item = {"routedStatuses": {"SS": ["Failed"]}, "lockOwner": {"S": "other"}, "lockExpiresAt": {"N": "0"}}
    client = ScriptedDynamoDB(update_item=[refused(item), {}])
    assert isinstance(guard(client).claim("inf-1", "Completed", lock_seconds=10), Lock)


def test_a_refusal_of_its_own_write_answered_with_an_error_is_the_lock_with_its_resume_steps() -> None:
    def own_record(request: dict[str, Any]) -> ClientError:
        return refused(
            {
                "lockOwner": {"S": owner_of(request)},
                "lockExpiresAt": {"N": str(int(NOW) + 60)},
                "resumeSteps#Completed": {"L": [{"S": "handler"}]},
            }
        )

    client = ScriptedDynamoDB(update_item=[own_record])
    claim = guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert isinstance(claim, Lock)
    assert claim.resume == ("handler",)
    assert claim.owner == owner_of(client.calls[0][1])


def test_a_live_lock_of_another_attempt_is_a_duplicate_in_progress_that_says_until_when() -> None:
    item = {"lockOwner": {"S": "other"}, "lockExpiresAt": {"N": str(int(NOW))}}  # expires now: still live
    client = ScriptedDynamoDB(update_item=[refused(item)])
    with pytest.raises(DuplicateInProgressError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    error = raised.value
    assert (error.reason, error.inference_id) == ("DuplicateInProgress", "inf-1")
    assert error.message == "the same result is being routed by another attempt"
    assert error.received == str({"key": "result#inf-1", "lockExpiresAt": int(NOW)})
    assert error.expected == "no live lock of another attempt (this record is retried later)"
    assert client.operations() == ["update_item"]


def test_a_lock_without_an_expiry_is_never_taken_over() -> None:
    client = ScriptedDynamoDB(update_item=[refused({"lockOwner": {"S": "other"}})])
    with pytest.raises(DuplicateInProgressError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert raised.value.received == str({"key": "result#inf-1", "lockExpiresAt": None})


def test_a_lock_that_expired_between_the_write_and_the_answer_is_claimed_on_the_next_round() -> None:
    expired = {"lockOwner": {"S": "other"}, "lockExpiresAt": {"N": str(int(NOW) - 1)}}
    client = ScriptedDynamoDB(update_item=[refused(expired), {}])
    assert isinstance(guard(client).claim("inf-1", "Completed", lock_seconds=10), Lock)
    assert client.operations() == ["update_item", "update_item"]


def test_a_record_gone_between_the_write_and_the_read_is_claimed_again_up_to_three_rounds() -> None:
    client = ScriptedDynamoDB(update_item=[refused(), refused(), {}], get_item=[{}, {}])
    assert isinstance(guard(client).claim("inf-1", "Completed", lock_seconds=10), Lock)

    client = ScriptedDynamoDB(update_item=[refused()] * 4, get_item=[{}] * 4)
    with pytest.raises(DuplicateInProgressError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert client.operations() == ["update_item", "get_item"] * 3
    assert raised.value.message == "the lock changed hands 3 times while being claimed"
    assert raised.value.received == str({"key": "result#inf-1"})
    assert raised.value.expected == "a lock that stays put long enough to be read"
    assert raised.value.inference_id == "inf-1"


@pytest.mark.parametrize(
    ("code", "reason"), [("ThrottlingException", "Throttled"), ("InternalServerError", "AwsCallFailed")]
)
def test_a_claim_that_failed_after_retries_is_a_structured_aws_error(code: str, reason: str) -> None:
    client = ScriptedDynamoDB(update_item=[client_error(code)])
    with pytest.raises(AwsCallError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert (raised.value.reason, raised.value.received, raised.value.inference_id) == (reason, code, "inf-1")
    assert raised.value.message.startswith("DynamoDB.UpdateItem (claim) failed: ")
    assert isinstance(raised.value.__cause__, ClientError)


def test_a_failed_read_after_a_refusal_is_a_structured_aws_error() -> None:
    client = ScriptedDynamoDB(
        update_item=[refused()], get_item=[client_error("InternalServerError", "GetItem")]
    )
    with pytest.raises(AwsCallError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert raised.value.message.startswith("DynamoDB.GetItem (claim) failed: ")
    assert (raised.value.received, raised.value.inference_id) == ("InternalServerError", "inf-1")
    assert isinstance(raised.value.__cause__, ClientError)


def test_an_exception_that_is_not_from_aws_is_a_structured_error_too() -> None:
    client = ScriptedDynamoDB(update_item=[ConnectionError("reset")])
    with pytest.raises(AwsCallError) as raised:
        guard(client).claim("inf-1", "Completed", lock_seconds=10)
    assert raised.value.received == "ConnectionError"


# -- completion ------------------------------------------------------------------------------------
def completion(done: Lock, routed_to: list[str]) -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "Key": {"pk": {"S": done.key}},
        "UpdateExpression": (
            "SET #routing = :state, #to = :to, #lexp = :zero REMOVE #error, #resume ADD #done :status"
        ),
        "ConditionExpression": "#owner = :me",
        "ExpressionAttributeNames": {**LOCK_NAMES, "#resume": f"resumeSteps#{done.status}"},
        "ExpressionAttributeValues": {
            ":state": {"S": "Routed"},
            ":to": {"L": [{"S": name} for name in routed_to]},
            ":zero": {"N": "0"},
            ":status": {"SS": [done.status]},
            ":me": {"S": done.owner},
        },
    }


def test_nothing_to_complete_makes_no_call() -> None:
    client = ScriptedDynamoDB()
    guard(client).complete_many([])
    assert client.calls == []


def test_a_lone_record_completes_with_one_update_naming_what_ran() -> None:
    client = ScriptedDynamoDB()
    done = lock(status="Failed")
    guard(client).complete_many([(done, ["resultStore", "h"])])
    assert client.calls == [("update_item", completion(done, ["resultStore", "h"]))]


def test_small_records_complete_in_one_transaction_of_at_most_a_hundred() -> None:
    client = ScriptedDynamoDB()
    locks = [lock(f"inf-{i}", kb=4.0) for i in range(150)]  # 4 KB: still small
    guard(client).complete_many([(done, ["h"]) for done in locks])

    assert client.operations() == ["transact_write_items", "transact_write_items"]
    first, second = (request["TransactItems"] for _, request in client.calls)
    assert (len(first), len(second)) == (100, 50)
    assert first[0] == {"Update": completion(locks[0], ["h"])}
    assert second[-1] == {"Update": completion(locks[-1], ["h"])}


def test_a_large_record_completes_alone_and_two_small_ones_together() -> None:
    client = ScriptedDynamoDB()
    large, small_a, small_b = lock("large", kb=4.01), lock("a"), lock("b")
    guard(client).complete_many([(small_a, ["h"]), (large, ["h"]), (small_b, ["h"])])

    assert client.calls[0] == ("update_item", completion(large, ["h"]))
    assert client.calls[1] == (
        "transact_write_items",
        {"TransactItems": [{"Update": completion(small_a, ["h"])}, {"Update": completion(small_b, ["h"])}]},
    )
    assert len(client.calls) == 2


def test_a_large_record_and_one_small_one_each_complete_alone() -> None:
    client = ScriptedDynamoDB()
    guard(client).complete_many([(lock("large", kb=9.0), ["h"]), (lock("a"), ["h"])])
    assert client.operations() == ["update_item", "update_item"]


def test_a_refused_transaction_completes_each_record_alone(logs: Logs) -> None:
    cancelled = client_error(
        "TransactionCanceledException",
        "TransactWriteItems",
        CancellationReasons=[{"Code": "None"}, {"Code": "ConditionalCheckFailed"}],
    )
    client = ScriptedDynamoDB(transact_write_items=[cancelled], update_item=[{}, refused()])
    kept, lost = lock("kept"), lock("lost")
    guard(client).complete_many([(kept, ["h"]), (lost, ["h"])])

    assert client.calls[1:] == [
        ("update_item", completion(kept, ["h"])),
        ("update_item", completion(lost, ["h"])),
    ]
    ((message, extra),) = logs.at("info")
    assert message == "completion transaction not applied: completing one by one"
    assert extra == {"error": "TransactionCanceledException", "reasons": ["None", "ConditionalCheckFailed"]}
    ((warning, where),) = logs.at("warning")  # the lost lock: another attempt decides its outcome
    assert warning == "lock lost before the routing outcome was written"
    assert where == {"key": "result#lost"}
    assert logs.at("error") == []


def test_a_transaction_that_failed_without_reasons_completes_each_record_alone(logs: Logs) -> None:
    client = ScriptedDynamoDB(transact_write_items=[ConnectionError("reset")])
    guard(client).complete_many([(lock("a"), ["h"]), (lock("b"), ["h"])])
    assert client.operations() == ["transact_write_items", "update_item", "update_item"]
    assert logs.at("info")[0][1] == {"error": "", "reasons": []}


# -- outcome writes: failure and rounds of retries -----------------------------------------------
def test_a_failure_records_the_error_the_step_and_what_completed_and_gives_the_lock_up() -> None:
    client = ScriptedDynamoDB()
    failed = lock(status="Completed")
    error = ResultError("x" * 1500, reason="HandlerFailed", received="r", expected="e")
    guard(client).fail(failed, ["resultStore"], error, "h")

    assert client.calls == [
        (
            "update_item",
            {
                "TableName": TABLE,
                "Key": {"pk": {"S": "result#inf-1"}},
                "UpdateExpression": (
                    "SET #routing = :state, #to = :to, #resume = :to, #error = :error, #lexp = :zero"
                ),
                "ConditionExpression": "#owner = :me",
                "ExpressionAttributeNames": {
                    "#routing": "routing",
                    "#to": "routedTo",
                    "#error": "routingError",
                    "#lexp": "lockExpiresAt",
                    "#owner": "lockOwner",
                    "#resume": "resumeSteps#Completed",
                },
                "ExpressionAttributeValues": {
                    ":state": {"S": "Failed"},
                    ":to": {"L": [{"S": "resultStore"}]},
                    ":error": {
                        "M": {
                            "reason": {"S": "HandlerFailed"},
                            "message": {"S": error.message[:1000]},
                            "handler": {"S": "h"},
                        }
                    },
                    ":zero": {"N": "0"},
                    ":me": {"S": "owner-inf-1"},
                },
            },
        )
    ]
    assert len(error.message) > 1000  # the record keeps the first 1,000 characters


@pytest.mark.parametrize("write", ["complete", "fail"])
def test_an_outcome_write_gets_three_rounds_of_retries(write: str, logs: Logs) -> None:
    throttled = client_error("ThrottlingException")
    client = ScriptedDynamoDB(update_item=[throttled, throttled, {}])
    outcome(guard(client), write)
    assert client.operations() == ["update_item"] * 3
    assert logs.at("error") == []


@pytest.mark.parametrize(
    ("write", "operation"),
    [("complete", "DynamoDB.UpdateItem (complete)"), ("fail", "DynamoDB.UpdateItem (routing failed)")],
)
def test_an_outcome_write_that_never_gets_through_is_logged_once_as_an_error(
    write: str, operation: str, logs: Logs
) -> None:
    client = ScriptedDynamoDB(update_item=[client_error("InternalServerError")] * 5)
    outcome(guard(client), write)  # never raises: the lock expires with the invocation
    assert client.operations() == ["update_item"] * 3
    ((message, extra),) = logs.at("error")
    assert message == "the routing outcome was not written; the lock expires with this invocation"
    assert extra["error"].startswith(f"{operation} failed: ")
    assert (extra["inference_id"], extra["received"], extra["reason"]) == (
        "inf-1",
        "InternalServerError",
        "AwsCallFailed",
    )


@pytest.mark.parametrize("write", ["complete", "fail"])
def test_an_outcome_write_refused_because_the_lock_was_lost_is_not_retried(write: str, logs: Logs) -> None:
    client = ScriptedDynamoDB(update_item=[refused()])
    outcome(guard(client), write)
    assert client.operations() == ["update_item"]
    assert [message for message, _ in logs.at("warning")] == [
        "lock lost before the routing outcome was written"
    ]
    assert logs.at("error") == []


def outcome(records: RecordGuard, write: str) -> None:
    if write == "complete":
        records.complete_many([(lock(), ["h"])])
    else:
        records.fail(lock(), ["h"], ResultError("boom", reason="Boom"), "h")


def test_a_routed_record_with_odd_entries_in_routed_to_reports_the_names_it_can_read() -> None:
    odd = {"L": ["junk", {"S": 1}, {"N": "2"}, {"S": "h"}]}
    item = {"routedStatuses": {"SS": ["Completed"]}, "routedTo": odd}
    client = ScriptedDynamoDB(update_item=[refused(item)])
    assert guard(client).claim("inf-1", "Completed", lock_seconds=10) == AlreadyRouted(["h"])
    item = {"routedStatuses": {"SS": ["Completed"]}, "routedTo": {"S": "not a list"}}
    client = ScriptedDynamoDB(update_item=[refused(item)])
    assert guard(client).claim("inf-1", "Completed", lock_seconds=10) == AlreadyRouted([])
