"""Exactly-once on the result record itself: one write claims a result and stores it, one completes it.

Used when the result store is on (the default): the lock lives on the result record
(``pk = "result#<inferenceId>"``) next to the fields the client reads, so routing a result costs
two DynamoDB writes instead of five (lock, ``InProgress``, store, ``Routed``, complete):

1. **claim**: one conditional ``UpdateItem`` that writes the result record's fields (what the
   result store writes, ``inlineBody`` included), ``routing = InProgress``, ``routedTo =
   ["resultStore"]`` and the lock ``lockOwner = <uuid of this attempt>``, ``lockExpiresAt = now +
   the invocation's remaining time``. Its condition: this status was not routed yet
   (``routedStatuses`` does not hold it) and no other attempt holds a live lock (no owner, an
   expired lock, **or the owner is this attempt**). Refused, the write changes nothing, and the
   refusal carries the record (``ReturnValuesOnConditionCheckFailure = ALL_OLD``), which says why
   without another read: routed already (a duplicate), or another attempt's live lock;
2. user handlers and notify-once destinations run;
3. **complete**: ``routing = Routed``, ``routedTo``, the status added to ``routedStatuses`` and the
   lock expired, on condition that this attempt still owns it. The small records of one batch
   complete in one ``TransactWriteItems`` (one call for up to 100 records; falling back to one
   ``UpdateItem`` each when the transaction is refused or fails). A transaction costs twice the
   write units of the items it writes, and a write to a record costs its whole size: a record above
   :data:`TRANSACTION_MAX_KB` (a large inline body) completes with its own ``UpdateItem`` instead,
   one call more for half the write units. This is the one write whose loss a redelivery
   cannot repair (the lock would expire and a later duplicate would route again), so it gets
   :data:`COMPLETION_ROUNDS` rounds of botocore's retries, not one;
4. or **fail**: ``routing = Failed``, ``routingError``, ``routedTo`` (what completed) and the lock
   expired in one ``UpdateItem``, on the same condition, so the retry can claim at once. The claim
   of that retry reads the failed attempt's ``routedTo`` (``ReturnValues = UPDATED_OLD``, no extra
   call) and the lifecycle skips the steps it names: a handler that returned is not called again
   because a destination after it failed.

Ambiguous writes resolve as with the separate lock item (:mod:`~sagemaker_async_results.runtime.guard`):
a claim, completion or failure write that took effect and was answered with a throttle or a 500 is
retried by botocore and passes its condition again (``lockOwner = :me``); every write is
idempotent (``SET`` of the same values, ``ADD`` of a status already in the set). A duplicate is
recognised for as long as the result record lives (``RESULT_TTL_DAYS``), not only
``IDEMPOTENCY_TTL_SECONDS``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.contract import (
    ROUTED_TO_ATTRIBUTE,
    ROUTING_ATTRIBUTE,
    ROUTING_ERROR_ATTRIBUTE,
    ROUTING_FAILED,
    ROUTING_IN_PROGRESS,
    ROUTING_ROUTED,
    TABLE_PARTITION_KEY,
    result_key,
)
from sagemaker_async_results.runtime.errors import DuplicateInProgressError
from sagemaker_async_results.runtime.guard import MAX_ACQUIRE_ROUNDS, AlreadyRouted, Lock
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.payloads import aws_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from sagemaker_async_results.runtime.errors import ResultError

#: Result record attributes of the lock (the client ignores them).
LOCK_OWNER_ATTRIBUTE = "lockOwner"
LOCK_EXPIRES_ATTRIBUTE = "lockExpiresAt"
#: String set of the statuses (``Completed`` / ``Failed``) whose notification was routed.
ROUTED_STATUSES_ATTRIBUTE = "routedStatuses"
#: Largest ``TransactWriteItems`` DynamoDB accepts.
MAX_TRANSACTION_ITEMS = 100
#: Records up to this size complete in the batch's transaction; larger ones with their own UpdateItem.
TRANSACTION_MAX_KB = 4.0
#: Rounds of botocore's retries a completion write gets before it is given up (and logged).
COMPLETION_ROUNDS = 3
_CONDITION_FAILED = "ConditionalCheckFailedException"
_NAMES = {
    "#routing": ROUTING_ATTRIBUTE,
    "#to": ROUTED_TO_ATTRIBUTE,
    "#error": ROUTING_ERROR_ATTRIBUTE,
    "#owner": LOCK_OWNER_ATTRIBUTE,
    "#lexp": LOCK_EXPIRES_ATTRIBUTE,
    "#done": ROUTED_STATUSES_ATTRIBUTE,
}


class RecordGuard:
    """Claims, completes and fails results on their result records.

    Parameters
    ----------
    table
        The results table.
    dynamodb
        Callable returning the DynamoDB client (called on first use: keeps cold start light).
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
            guard.complete_many([(claim, "Completed", ["resultStore", "handler"])])
    """

    def __init__(
        self, *, table: str, dynamodb: Callable[[], DynamoDBClient], clock: Callable[[], float] = time.time
    ) -> None:
        self._table = table
        self._dynamodb = dynamodb
        self._clock = clock

    def claim(
        self,
        inference_id: str,
        status: str,
        values: Mapping[str, Any],
        *,
        lock_seconds: float,
        routed_to: Sequence[str] = (),
    ) -> Lock | AlreadyRouted:
        """Store the record (``values``: typed attribute values) and take the lock, in one write.

        Raises
        ------
        DuplicateInProgressError
            Another attempt holds a live lock: this record must be retried later.
        AwsCallError
            DynamoDB failed after botocore's retries (a lock that took effect expires with the invocation).
        """
        lock = Lock(result_key(inference_id), inference_id, record_kb=record_kb(values))
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
                    ReturnValues="UPDATED_OLD",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except Exception as exc:
                if error_code(exc) != _CONDITION_FAILED:
                    raise aws_error(
                        exc, operation="DynamoDB.UpdateItem (claim)", inference_id=inference_id
                    ) from exc
                item = getattr(exc, "response", {}).get("Item") or self._read(lock)
            else:
                return _resumed(lock, response.get("Attributes") or {}, status)
            if item is None:
                continue  # gone since the write was refused: try again
            done = item.get(ROUTED_STATUSES_ATTRIBUTE, {}).get("SS", [])
            if status in done:
                routed = item.get(ROUTED_TO_ATTRIBUTE, {}).get("L", [])
                return AlreadyRouted([v.get("S", "") for v in routed])
            if item.get(LOCK_OWNER_ATTRIBUTE, {}).get("S") == lock.owner:
                return lock  # our own write, answered with an error and refused on retry
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

    def complete_many(self, done: Sequence[tuple[Lock, str, Sequence[str]]]) -> None:
        """Mark results routed: ``(lock, status, routedTo)`` each; never raises (logs what it could not write).

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
        """``routing = Failed`` with the error, and the lock given up so the retry claims at once; never raises."""
        try:
            self._dynamodb().update_item(
                TableName=self._table,
                Key={TABLE_PARTITION_KEY: {"S": lock.key}},
                UpdateExpression="SET #routing = :state, #to = :to, #error = :error, #lexp = :zero",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={
                    k: _NAMES[k] for k in ("#routing", "#to", "#error", "#lexp", "#owner")
                },
                ExpressionAttributeValues={
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
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:  # not ours any more, or never written: nothing to do
                logger.error(
                    "cannot record the routing failure; the lock expires with this invocation",
                    extra={"key": lock.key, "error": str(exc)},
                )

    # -- DynamoDB -------------------------------------------------------------------------------
    def _completion(self, lock: Lock, status: str, routed_to: Sequence[str]) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": {TABLE_PARTITION_KEY: {"S": lock.key}},
            "UpdateExpression": "SET #routing = :state, #to = :to, #lexp = :zero REMOVE #error ADD #done :status",
            "ConditionExpression": "#owner = :me",
            "ExpressionAttributeNames": dict(_NAMES),
            "ExpressionAttributeValues": {
                ":state": {"S": ROUTING_ROUTED},
                ":to": _list(routed_to),
                ":zero": {"N": "0"},
                ":status": {"SS": [status]},
                ":me": {"S": lock.owner},
            },
        }

    def _complete_one(self, lock: Lock, status: str, routed_to: Sequence[str]) -> None:
        for round_ in range(1, COMPLETION_ROUNDS + 1):
            try:
                self._dynamodb().update_item(**self._completion(lock, status, routed_to))
                return
            except Exception as exc:
                if error_code(exc) == _CONDITION_FAILED:
                    # The lock expired and another attempt took it: that attempt decides the outcome.
                    logger.warning("lock lost before routing completed", extra={"key": lock.key})
                    return
                if round_ == COMPLETION_ROUNDS:
                    # Failing the record would route it again now; a duplicate after the lock expires may.
                    logger.error(
                        "routed, but the result record was not marked Routed",
                        extra=aws_error(
                            exc, operation="DynamoDB.UpdateItem (complete)", inference_id=lock.inference_id
                        ).to_log(),
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
        item: dict[str, Any] | None = response.get("Item")
        return item


def _resumed(lock: Lock, old: Mapping[str, Any], status: str) -> Lock:
    """The lock, with the steps a failed earlier attempt at the same result completed."""
    if old.get(ROUTING_ATTRIBUTE, {}).get("S") != ROUTING_FAILED or old.get("status", {}).get("S") != status:
        return lock
    done = tuple(v.get("S", "") for v in old.get(ROUTED_TO_ATTRIBUTE, {}).get("L", []))
    return replace(lock, resume=done) if done else lock


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


def _number(item: Mapping[str, Any], name: str) -> int | None:
    try:
        return int(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return None
