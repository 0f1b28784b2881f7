"""The exactly-once guard: one lock item per result, owned by the attempt that routes it.

Key ``pk = "idempotency#result#<inferenceId>#<status>"`` in the results table (``expiresAt`` is the
table's TTL attribute). An attempt to route a result:

1. **acquires**: a conditional ``PutItem`` of ``{status: INPROGRESS, owner: <uuid of this attempt>,
   expiresAt: now + the invocation's remaining time}``, allowed when no item exists, the item has
   expired, **or the item's owner is this attempt**;
2. routes the result;
3. **completes**: ``UpdateItem`` to ``{status: COMPLETED, routedTo, expiresAt: now + IDEMPOTENCY_TTL_SECONDS}``
   on condition that it still owns the lock; or, when routing failed, **releases**: a ``DeleteItem``
   on the same condition, so the retry can route.

Why not Powertools idempotency: its lock is a conditional ``PutItem`` that carries no owner. When
that ``PutItem`` takes effect but the client is answered with a throttle or a 500, botocore retries
it and the retry fails its condition against the lock the first attempt wrote. Observed with
Powertools 3.37 on moto, with the write applied and then answered ``ThrottlingException`` at the
botocore boundary: ``IdempotencyAlreadyInProgressError`` although no other invocation existed, and
the ``INPROGRESS`` item stayed. Powertools offers no hook to add an owner to the item or to its
condition, so this module replaces it.

How each ambiguity resolves:

* an acquire that took effect and was answered with an error: botocore's retry passes the
  ``owner = :me`` condition and the attempt proceeds (when the retry still fails its condition,
  a consistent read of the item recognises the owner too);
* a complete that took effect and was answered with an error: its retry passes the same condition;
  completing is idempotent;
* a release that took effect and was answered with an error: its retry finds no item it owns,
  which is what a release wants;
* a crashed invocation (timeout, out of memory): its lock expires when the invocation's time is up
  (``expiresAt`` = now + remaining time of the Lambda context), and SQS redelivers only after the
  visibility timeout, which Lambda requires to be at least the function timeout; Lambda's own
  retries of an asynchronous invocation start after the failed one ended. The redelivery finds an
  expired lock and routes.

Guarantees: a result whose lock is ``COMPLETED`` is not routed again until ``expiresAt``
(``IDEMPOTENCY_TTL_SECONDS``); a duplicate that meets a live ``INPROGRESS`` lock of another owner
raises :class:`~sagemaker_async_results.runtime.errors.DuplicateInProgressError`, which fails the
record so SQS or Lambda delivers it again later; it is never dropped.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.contract import (
    IDEMPOTENCY_KEY_PREFIX,
    ROUTED_TO_ATTRIBUTE,
    TABLE_PARTITION_KEY,
    TABLE_TTL_ATTRIBUTE,
)
from sagemaker_async_results.runtime.errors import DuplicateInProgressError
from sagemaker_async_results.runtime.observability import logger
from sagemaker_async_results.runtime.payloads import aws_error, error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_PROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
STATUS_ATTRIBUTE = "status"
OWNER_ATTRIBUTE = "owner"
#: Lock lifetime when the invocation's remaining time is unknown (no Lambda context: a direct call,
#: a test, the local run): Lambda's longest function timeout, so a live attempt never loses its lock.
DEFAULT_LOCK_SECONDS = 900
#: Acquire attempts when the lock changes between the conditional write and the read that explains it.
MAX_ACQUIRE_ROUNDS = 3
_CONDITION_FAILED = "ConditionalCheckFailedException"


def lock_seconds(context: Any) -> float:
    """How long a lock taken now may live: the invocation's remaining time (at least one second)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return DEFAULT_LOCK_SECONDS
    try:
        return max(1.0, float(remaining()) / 1000)
    except Exception:  # a context that cannot say: fall back rather than fail the record
        return DEFAULT_LOCK_SECONDS


@dataclass(frozen=True, slots=True)
class Lock:
    """A lock this attempt holds: ``owner`` is unique per attempt (two copies of one message differ)."""

    key: str
    inference_id: str
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: Steps an earlier attempt completed before it failed (its ``routedTo``): not run again.
    resume: tuple[str, ...] = ()
    #: Approximate size in KB of the record the lock lives on (what a write to it costs in write units).
    record_kb: float = 0.0


@dataclass(frozen=True, slots=True)
class AlreadyRouted:
    """The result was routed by an earlier attempt; ``routed_to`` is what that attempt reported."""

    routed_to: list[str]


class ExactlyOnceGuard:
    """Lock items in the results table that make routing happen once per result.

    Parameters
    ----------
    table
        The results table (partition key ``pk``, TTL attribute ``expiresAt``).
    dynamodb
        Callable returning the DynamoDB client (called on first use: keeps cold start light).
    ttl_seconds
        How long a completed result is recognised as a duplicate (``IDEMPOTENCY_TTL_SECONDS``).
    clock
        Epoch seconds now (tests move time forward).

    Example
    -------
    .. code-block:: python

        guard = ExactlyOnceGuard(table="results", dynamodb=lambda: client, ttl_seconds=86400)
        claim = guard.acquire("abc", "Completed", lock_seconds=30)
        if isinstance(claim, Lock):
            ...  # route
            guard.complete(claim, routed_to=["resultStore"])
    """

    def __init__(
        self,
        *,
        table: str,
        dynamodb: Callable[[], DynamoDBClient],
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table
        self._dynamodb = dynamodb
        self._ttl_seconds = ttl_seconds
        self._clock = clock

    @staticmethod
    def key(inference_id: str, status: str) -> str:
        """The lock item's ``pk``."""
        return f"{IDEMPOTENCY_KEY_PREFIX}#{inference_id}#{status}"

    def acquire(self, inference_id: str, status: str, *, lock_seconds: float) -> Lock | AlreadyRouted:
        """Take the lock, or learn the result was routed already.

        Raises
        ------
        DuplicateInProgressError
            Another attempt holds a live lock: this record must be retried later.
        AwsCallError
            DynamoDB failed after botocore's retries (the lock may exist: it expires with the invocation).
        """
        lock = Lock(self.key(inference_id, status), inference_id)
        for _ in range(MAX_ACQUIRE_ROUNDS):
            if self._put_lock(lock, lock_seconds):
                return lock
            item = self._read(lock)
            if item is None or self._expired(item):
                continue  # released or expired since the write was refused: try again
            if _text(item, OWNER_ATTRIBUTE) == lock.owner:
                return lock  # our own write, answered with an error and refused on retry
            if _text(item, STATUS_ATTRIBUTE) == COMPLETED:
                routed = item.get(ROUTED_TO_ATTRIBUTE, {}).get("L", [])
                return AlreadyRouted([v.get("S", "") for v in routed])
            raise DuplicateInProgressError(
                "the same result is being routed by another attempt",
                received={"key": lock.key, "lockExpiresAt": _number(item, TABLE_TTL_ATTRIBUTE)},
                expected="no live lock of another attempt (this record is retried later)",
                inference_id=inference_id,
            )
        raise DuplicateInProgressError(
            f"the lock changed hands {MAX_ACQUIRE_ROUNDS} times while being acquired",
            received={"key": lock.key},
            expected="a lock that stays put long enough to be read",
            inference_id=inference_id,
        )

    def complete(self, lock: Lock, routed_to: list[str]) -> None:
        """Mark the result routed. Raises ``AwsCallError`` when DynamoDB fails after its retries."""
        expires_at = int(self._clock()) + self._ttl_seconds
        try:
            self._dynamodb().update_item(
                TableName=self._table,
                Key={TABLE_PARTITION_KEY: {"S": lock.key}},
                UpdateExpression="SET #s = :done, #exp = :exp, #to = :to",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={
                    "#s": STATUS_ATTRIBUTE,
                    "#exp": TABLE_TTL_ATTRIBUTE,
                    "#to": ROUTED_TO_ATTRIBUTE,
                    "#owner": OWNER_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":done": {"S": COMPLETED},
                    ":exp": {"N": str(expires_at)},
                    ":to": {"L": [{"S": name} for name in routed_to]},
                    ":owner": {"S": lock.owner},
                },
            )
        except Exception as exc:
            if error_code(exc) == _CONDITION_FAILED:
                # The lock expired and another attempt took it: that attempt decides the outcome.
                logger.warning("lock lost before routing completed", extra={"key": lock.key})
                return
            raise aws_error(
                exc, operation="DynamoDB.UpdateItem (exactly-once lock)", inference_id=lock.inference_id
            ) from exc

    def release(self, lock: Lock) -> None:
        """Give the lock up after a failed routing so the retry can route; never raises.

        A release that fails leaves a lock that expires with the invocation, before any redelivery.
        """
        try:
            self._dynamodb().delete_item(
                TableName=self._table,
                Key={TABLE_PARTITION_KEY: {"S": lock.key}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": OWNER_ATTRIBUTE},
                ExpressionAttributeValues={":owner": {"S": lock.owner}},
            )
        except Exception as exc:
            if error_code(exc) != _CONDITION_FAILED:  # not ours any more (or gone): nothing to release
                logger.warning(
                    "cannot release the exactly-once lock; it expires with this invocation",
                    extra={"key": lock.key, "error": str(exc)},
                )

    # -- DynamoDB -------------------------------------------------------------------------------
    def _put_lock(self, lock: Lock, seconds: float) -> bool:
        now = self._clock()
        try:
            self._dynamodb().put_item(
                TableName=self._table,
                Item={
                    TABLE_PARTITION_KEY: {"S": lock.key},
                    STATUS_ATTRIBUTE: {"S": IN_PROGRESS},
                    OWNER_ATTRIBUTE: {"S": lock.owner},
                    TABLE_TTL_ATTRIBUTE: {"N": str(math.ceil(now + seconds))},
                },
                ConditionExpression="attribute_not_exists(#pk) OR #exp < :now OR #owner = :owner",
                ExpressionAttributeNames={
                    "#pk": TABLE_PARTITION_KEY,
                    "#exp": TABLE_TTL_ATTRIBUTE,
                    "#owner": OWNER_ATTRIBUTE,
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":owner": {"S": lock.owner},
                },
            )
        except Exception as exc:
            if error_code(exc) == _CONDITION_FAILED:
                return False
            raise aws_error(
                exc, operation="DynamoDB.PutItem (exactly-once lock)", inference_id=lock.inference_id
            ) from exc
        return True

    def _read(self, lock: Lock) -> dict[str, Any] | None:
        try:
            response = self._dynamodb().get_item(
                TableName=self._table, Key={TABLE_PARTITION_KEY: {"S": lock.key}}, ConsistentRead=True
            )
        except Exception as exc:
            raise aws_error(
                exc, operation="DynamoDB.GetItem (exactly-once lock)", inference_id=lock.inference_id
            ) from exc
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _expired(self, item: dict[str, Any]) -> bool:
        expires_at = _number(item, TABLE_TTL_ATTRIBUTE)
        return expires_at is not None and expires_at < int(self._clock())


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _number(item: dict[str, Any], name: str) -> int | None:
    try:
        return int(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return None
