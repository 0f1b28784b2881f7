"""Exactly-once routing: one write claims a result (and stores its record), one marks it routed.

The lock lives on a record of the results table, next to the fields it guards:

* result store on (the default): on the **result record** itself (``pk = "result#<inferenceId>"``),
  so the claim also stores what the client reads and routing a result costs two DynamoDB writes;
* result store off: on a **lock record** per result and status (``pk =
  "idempotency#result#<inferenceId>#<status>"``, the table's TTL set to ``IDEMPOTENCY_TTL_SECONDS``).

An attempt to route a result:

1. **claims**: one conditional ``UpdateItem`` that writes the record's fields (what the result store
   writes, ``inlineBody`` included), ``routing = InProgress``, ``routedTo`` and the lock
   ``lockOwner = <uuid of this attempt>``, ``lockExpiresAt = now + the invocation's remaining time``.
   Its condition: this status was not routed yet (``routedStatuses`` does not hold it) and no other
   attempt holds a live lock (no owner, an expired lock, **or the owner is this attempt**). Refused,
   the write changes nothing, and the refusal carries the record (``ReturnValuesOnConditionCheckFailure
   = ALL_OLD``), which says why without another read: routed already (a duplicate), or another
   attempt's live lock. Accepted, it returns the record (``ALL_NEW``) with the steps a failed earlier
   attempt completed (``resumeSteps#<status>``, which the claim never writes): they are not run again;
2. user handlers and notify-once destinations run;
3. **completes**: ``routing = Routed``, ``routedTo``, the status added to ``routedStatuses``, the resume
   steps removed and the lock expired, on condition that this attempt still owns it. The small records
   of one batch complete in one ``TransactWriteItems`` (falling back to one ``UpdateItem`` each when the
   transaction is refused or fails). A transaction costs twice the write units of the items it
   writes, and a write to a record costs its whole size: a record above :data:`TRANSACTION_MAX_KB` (a
   large inline body) completes with its own ``UpdateItem``, one call more for half the write units;
4. or **fails**: ``routing = Failed``, ``routingError``, ``routedTo`` and ``resumeSteps#<status>`` (what
   completed) and the lock expired, on the same condition, so the retry claims at once and skips what
   completed: a handler that returned is not called again because a destination after it failed.

The completion and the failure are the writes whose loss a redelivery cannot repair (a lost
completion lets a later duplicate route again once the lock expired; a lost failure makes the retry
run again what had completed), so each gets :data:`FINAL_WRITE_ROUNDS` rounds of botocore's retries;
during an invocation, those retries go on as long as the invocation lives and stop just before its
deadline (:mod:`~sagemaker_async_results.runtime.deadline`), which keeps a margin of the invocation's
time for them: started before the margin, they are not cut off by Lambda's timeout.

Ambiguous writes (the write took effect and the caller was answered with a throttle or a 500) resolve
by themselves: botocore's retry passes its condition again (``lockOwner = :me``), every write is
idempotent (``SET`` of the same values, ``ADD`` of a status already in the set), and the claim's
resume steps live in an attribute the claim does not write, so a retried claim still finds them.
A crashed invocation's lock expires when its time is up, and SQS redelivers only after the
visibility timeout (at least the function timeout); Lambda's own retries of an asynchronous
invocation start after the failed one ended. A duplicate is recognised for as long as the record
lives. Powertools' idempotency utility is not used: its lock has no owner, so a lock write that took
effect and was answered with an error blocked its own record until the lock expired.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.contract import (
    LOCK_EXPIRES_ATTRIBUTE,
    LOCK_OWNER_ATTRIBUTE,
    RESUME_STEPS_ATTRIBUTE,
    ROUTED_STATUSES_ATTRIBUTE,
    ROUTED_TO_ATTRIBUTE,
    ROUTING_ATTRIBUTE,
    ROUTING_ERROR_ATTRIBUTE,
    ROUTING_FAILED,
    ROUTING_IN_PROGRESS,
    ROUTING_ROUTED,
    TABLE_PARTITION_KEY,
    TABLE_TTL_ATTRIBUTE,
    lock_key,
    result_key,
)
from sagemaker_async_results.runtime import deadline
from sagemaker_async_results.runtime.errors import DuplicateInProgressError
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.payloads import aws_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from sagemaker_async_results.runtime.errors import ResultError

#: Lock lifetime when the invocation's remaining time is unknown (no Lambda context: a direct call,
#: a test, the local run): Lambda's longest function timeout, so a live attempt never loses its lock.
DEFAULT_LOCK_SECONDS = 900
#: Claim attempts when the record changes between the refused write and the answer that explains it.
MAX_ACQUIRE_ROUNDS = 3
#: Largest ``TransactWriteItems`` DynamoDB accepts.
MAX_TRANSACTION_ITEMS = 100
#: Records up to this size complete in the batch's transaction; larger ones with their own UpdateItem.
TRANSACTION_MAX_KB = 4.0
#: Rounds of botocore's retries a completion or failure write gets before it is given up (and logged).
FINAL_WRITE_ROUNDS = 3
_CONDITION_FAILED = "ConditionalCheckFailedException"
_NAMES = {
    "#routing": ROUTING_ATTRIBUTE,
    "#to": ROUTED_TO_ATTRIBUTE,
    "#error": ROUTING_ERROR_ATTRIBUTE,
    "#owner": LOCK_OWNER_ATTRIBUTE,
    "#lexp": LOCK_EXPIRES_ATTRIBUTE,
    "#done": ROUTED_STATUSES_ATTRIBUTE,
}


def lock_seconds(context: Any) -> float:
    """How long a lock taken now may live: the invocation's remaining time (at least one second)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_LOCK_SECONDS
    try:
        return max(1.0, float(remaining()) / 1000)
    except Exception:  # a context that cannot say: fall back rather than fail the record
        return DEFAULT_LOCK_SECONDS


def resume_attribute(status: str) -> str:
    """The attribute holding the steps a failed attempt at ``status`` completed."""
    return f"{RESUME_STEPS_ATTRIBUTE}#{status}"


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock this attempt holds: ``owner`` is unique per attempt (two copies of one message differ)."""

    key: str
    inference_id: str
    status: str
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Steps an earlier attempt completed before it failed: not run again.
    resume: tuple[str, ...] = ()
    #: Approximate size in KB of the record the lock lives on (what a write to it costs in write units).
    record_kb: float = 0.0
    #: The record the lock lives on, as the claim wrote or read it (DynamoDB attribute values).
    item: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class AlreadyRouted:
    """The result was routed by an earlier attempt; ``routed_to`` is what that attempt reported."""

    routed_to: list[str]


class RecordGuard:
    """Claims, completes and fails results on the records that hold their locks.

    Parameters
    ----------
    table
        The results table.
    dynamodb
        Callable returning the DynamoDB client (called on first use: keeps cold start light).
    ttl_seconds
        ``None``: the lock lives on the result record (whose TTL the result store sets). A number:
        the lock lives on a lock record per result and status, kept this long
        (``IDEMPOTENCY_TTL_SECONDS``): the time a duplicate is recognised.
    clock
        Epoch seconds now (tests move time forward).

    Example
    -------
    .. code-block:: python

        guard = RecordGuard(table="results", dynamodb=lambda: client)
        claim = guard.claim("abc", "Completed", {"status": {"S": "Completed"}}, lock_seconds=30,
                            routed_to=["resultStore"])
        if isinstance(claim, Lock):
            ...  # handlers, destinations
            guard.complete_many([(claim, ["resultStore", "handler"])])
    """

    def __init__(
        self,
        *,
        table: str,
        dynamodb: Callable[[], DynamoDBClient],
        ttl_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._dynamodb = dynamodb
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    def key(self, inference_id: str, status: str) -> str:
        """The ``pk`` of the record holding the lock of this result."""
        return result_key(inference_id) if self._ttl_seconds is None else lock_key(inference_id, status)

    def claim(
        self,
        inference_id: str,
        status: str,
        values: Mapping[str, Any] | None = None,
        *,
        lock_seconds: float,
        routed_to: Sequence[str] = (),
    ) -> Lock | AlreadyRouted:
        """Store the record's ``values`` (typed attribute values) and take the lock, in one write.

        Raises
        ------
        DuplicateInProgressError
            Another attempt holds a live lock: this record must be retried later.
        AwsCallError
            DynamoDB failed after botocore's retries (a lock that took effect expires with the invocation).
        """
        values = dict(values or {})
        if self._ttl_seconds is not None:
            values[TABLE_TTL_ATTRIBUTE] = {"N": str(int(self._clock()) + self._ttl_seconds)}
        lock = Lock(self.key(inference_id, status), inference_id, status, record_kb=record_kb(values))
        names = dict(_NAMES)
        attribute_values: dict[str, Any] = {}
        assignments = []
        for i, (name, value) in enumerate(values.items()):
            names[f"#a{i}"] = name
            attribute_values[f":a{i}"] = value
            assignments.append(f"#a{i} = :a{i}")
        assignments += ["#routing = :state", "#to = :to", "#owner = :me", "#lexp = :lexp"]
        for _ in range(MAX_ACQUIRE_ROUNDS):
            now = self._clock()
            try:
                response = self._dynamodb().update_item(
                    TableName=self._table,
                    Key={TABLE_PARTITION_KEY: {"S": lock.key}},
                    UpdateExpression="SET " + ", ".join(assignments) + " REMOVE #error",
                    ConditionExpression=(
                        "(attribute_not_exists(#done) OR NOT contains(#done, :status)) AND "
                        "(attribute_not_exists(#owner) OR #owner = :me OR #lexp < :now)"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={
                        **attribute_values,
                        ":state": {"S": ROUTING_IN_PROGRESS},
                        ":to": _list(routed_to),
                        ":me": {"S": lock.owner},
                        ":lexp": {"N": str(math.ceil(now + lock_seconds))},
                        ":now": {"N": str(int(now))},
                        ":status": {"S": status},
                    },
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Exception as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise aws_error(
                        exc, operation="DynamoDB.UpdateItem (claim)", inference_id=inference_id
                    ) from exc
                item = getattr(exc, "response", {}).get("Item") or self._read(lock)
            else:
                return _resumed(lock, response.get("Attributes") or {})
            if item is None:
                continue  # gone since the write was refused: try again
            done = item.get(ROUTED_STATUSES_ATTRIBUTE, {}).get("SS", [])
            if status in done:
                return AlreadyRouted(_names(item.get(ROUTED_TO_ATTRIBUTE)))
            if item.get(LOCK_OWNER_ATTRIBUTE, {}).get("S") == lock.owner:
                return _resumed(lock, item)  # our own write, answered with an error and refused on retry
            expires_at = _number(item, LOCK_EXPIRES_ATTRIBUTE)
            if expires_at is not None and expires_at < int(self._clock()):
                continue  # expired since the write was refused: try again
            raise DuplicateInProgressError(
                "the same result is being routed by another attempt",
                received={"key": lock.key, "lockExpiresAt": expires_at},
                expected="no live lock of another attempt (this record is retried later)",
                inference_id=inference_id,
            )
        raise DuplicateInProgressError(
            f"the lock changed hands {MAX_ACQUIRE_ROUNDS} times while being claimed",
            received={"key": lock.key},
            expected="a lock that stays put long enough to be read",
            inference_id=inference_id,
        )

    def complete_many(self, done: Sequence[tuple[Lock, Sequence[str]]]) -> None:
        """Mark results routed: ``(lock, routedTo)`` each; never raises (logs what it could not write).

        A result that was routed but not marked keeps ``routing = InProgress`` and its lock expires
        with the invocation: failing its record now would route it again, so it is logged instead.
        """
        together = [item for item in done if item[0].record_kb <= TRANSACTION_MAX_KB]
        for item in done:
            if len(together) <= 1 or item[0].record_kb > TRANSACTION_MAX_KB:
                self._complete_one(*item)
        if len(together) <= 1:
            return
        for start in range(0, len(together), MAX_TRANSACTION_ITEMS):
            chunk = together[start : start + MAX_TRANSACTION_ITEMS]
            try:
                self._dynamodb().transact_write_items(
                    TransactItems=[{"Update": self._completion(*item)} for item in chunk]  # type: ignore[typeddict-item]
                )
            except Exception as exc:
                # Refused as a whole (a lock lost, a conflicting write) or failed after retries:
                # each record alone, so one lost lock does not leave the others InProgress.
                reasons = getattr(exc, "response", {}).get("CancellationReasons") or []
                logger.info(
                    "completion transaction not applied: completing one by one",
                    extra={"error": error_code(exc), "reasons": [r.get("Code") for r in reasons]},
                )
                for item in chunk:
                    self._complete_one(*item)

    def fail(self, lock: Lock, routed_to: Sequence[str], error: ResultError, step: str) -> None:
        """``routing = Failed`` with the error and what completed, the lock given up; never raises."""
        update = {
            "TableName": self._table,
            "Key": {TABLE_PARTITION_KEY: {"S": lock.key}},
            "UpdateExpression": (
                "SET #routing = :state, #to = :to, #resume = :to, #error = :error, #lexp = :zero"
            ),
            "ConditionExpression": "#owner = :me",
            "ExpressionAttributeNames": {
                **{k: _NAMES[k] for k in ("#routing", "#to", "#error", "#lexp", "#owner")},
                "#resume": resume_attribute(lock.status),
            },
            "ExpressionAttributeValues": {
                ":state": {"S": ROUTING_FAILED},
                ":to": _list(routed_to),
                ":error": {
                    "M": {
                        "reason": {"S": error.reason},
                        "message": {"S": error.message[:1000]},
                        "handler": {"S": step},
                    }
                },
                ":zero": {"N": "0"},
                ":me": {"S": lock.owner},
            },
        }
        self._final_write(lock, update, operation="DynamoDB.UpdateItem (routing failed)")

    # -- DynamoDB -------------------------------------------------------------------------------
    def _completion(self, lock: Lock, routed_to: Sequence[str]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {TABLE_PARTITION_KEY: {"S": lock.key}},
            "UpdateExpression": (
                "SET #routing = :state, #to = :to, #lexp = :zero REMOVE #error, #resume ADD #done :status"
            ),
            "ConditionExpression": "#owner = :me",
            "ExpressionAttributeNames": {**_NAMES, "#resume": resume_attribute(lock.status)},
            "ExpressionAttributeValues": {
                ":state": {"S": ROUTING_ROUTED},
                ":to": _list(routed_to),
                ":zero": {"N": "0"},
                ":status": {"SS": [lock.status]},
                ":me": {"S": lock.owner},
            },
        }

    def _complete_one(self, lock: Lock, routed_to: Sequence[str]) -> None:
        self._final_write(lock, self._completion(lock, routed_to), operation="DynamoDB.UpdateItem (complete)")

    def _final_write(self, lock: Lock, update: dict[str, Any], *, operation: str) -> None:
        """A completion or failure write, with :data:`FINAL_WRITE_ROUNDS` rounds of retries; never raises.

        During an invocation, no round starts that the deadline leaves no time for.
        """
        budget = deadline.current()
        for round_ in range(1, FINAL_WRITE_ROUNDS + 1):
            if budget is not None and not budget.allows_attempt():
                logger.error(
                    "the routing outcome was not written: the invocation's deadline came first",
                    extra={
                        "key": lock.key,
                        "inference_id": lock.inference_id,
                        "remaining_seconds": round(budget.deadline.remaining(), 3),
                    },
                )
                return
            try:
                self._dynamodb().update_item(**update)
                return
            except Exception as exc:
                if error_code(exc) == _CONDITION_FAILED:
                    # The lock expired and another attempt took it: that attempt decides the outcome.
                    logger.warning(
                        "lock lost before the routing outcome was written", extra={"key": lock.key}
                    )
                    return
                if round_ == FINAL_WRITE_ROUNDS:
                    logger.error(
                        "the routing outcome was not written; the lock expires with this invocation",
                        extra=aws_error(exc, operation=operation, inference_id=lock.inference_id).to_log(),
                    )

    def _read(self, lock: Lock) -> dict[str, Any] | None:
        try:
            response = self._dynamodb().get_item(
                TableName=self._table, Key={TABLE_PARTITION_KEY: {"S": lock.key}}, ConsistentRead=True
            )
        except Exception as exc:
            raise aws_error(
                exc, operation="DynamoDB.GetItem (claim)", inference_id=lock.inference_id
            ) from exc
        item: dict[str, Any] | None = response.get("Item")  # pragma: no mutate (annotation only)
        return item


def _resumed(lock: Lock, item: Mapping[str, Any]) -> Lock:
    """The lock, with the record the claim returned and the steps a failed earlier attempt at the same
    status completed."""
    done = tuple(_names(item.get(resume_attribute(lock.status))))
    return replace(lock, resume=done, item=item)


def record_kb(values: Mapping[str, Any]) -> float:
    """DynamoDB's size of an item with these attributes (names + values), in KB, plus the lock's own."""

    def size(value: Any) -> int:
        if not isinstance(value, Mapping) or len(value) != 1:
            return 0
        ((kind, inner),) = value.items()
        if kind in ("S", "B"):
            return len(inner.encode()) if isinstance(inner, str) else len(inner)
        if kind == "N":
            return 21
        if kind in ("L", "M"):
            items = inner if kind == "L" else inner.values()
            return 3 + sum(1 + size(v) for v in items)
        return 1

    return (sum(len(name) + size(value) for name, value in values.items()) + 200) / 1024


def _list(names: Sequence[str]) -> dict[str, Any]:
    return {"L": [{"S": name} for name in names]}


def _names(value: Any) -> list[str]:
    """The strings of a typed list attribute (``{"L": [{"S": ...}]}``); anything else is empty."""
    items = value.get("L", []) if isinstance(value, Mapping) else []
    return [v["S"] for v in items if isinstance(v, Mapping) and isinstance(v.get("S"), str)]


def _number(item: Mapping[str, Any], name: str) -> int | None:
    try:
        return int(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return None
