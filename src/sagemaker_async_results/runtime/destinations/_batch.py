"""Sending one entry per result with a batch API (SQS, EventBridge, Kinesis), failing only the entries that failed.

:class:`BatchDestination` is what those destinations share: the switch from the environment, one
``send`` for a lone result, batch calls for a batch and one error per entry.

A batch API answers per entry: some entries of a call can fail while the others took effect. The
entries that failed with a retryable error are sent again (in a new call) up to
:data:`ENTRY_ATTEMPTS` times in all; what still fails is reported for that entry only, so only its
record fails and is retried. A call that fails as a whole (after botocore's retries) fails each of
its entries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.errors import AwsCallError, ResultError
from sagemaker_async_results.runtime.payloads import THROTTLING_CODES, aws_error

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: Sends of one entry before its failure is reported (first send included).
ENTRY_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class EntryFailure:
    """One entry's failure as the service reported it."""

    code: str
    message: str
    retryable: bool = True


#: Sends one call's entries; returns one ``EntryFailure`` or ``None`` per entry, in order.
Call = Callable[[list[dict[str, Any]]], list[EntryFailure | None]]


def chunks(sizes: Sequence[int], *, max_entries: int, max_bytes: int) -> list[list[int]]:
    """Indexes grouped into calls of at most ``max_entries`` entries and ``max_bytes`` bytes."""
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (len(current) >= max_entries or total + size > max_bytes):
            groups.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        groups.append(current)
    return groups


def send_entries(
    entries: Sequence[dict[str, Any]],
    *,
    sizes: Sequence[int],
    max_entries: int,
    max_bytes: int,
    call: Call,
) -> list[Exception | EntryFailure | None]:
    """Send every entry; returns per entry ``None`` (sent), the service's failure, or the call's exception."""
    outcome: list[Exception | EntryFailure | None] = [None] * len(entries)
    pending = list(range(len(entries)))
    for _ in range(ENTRY_ATTEMPTS):
        retry: list[int] = []
        for group in chunks([sizes[i] for i in pending], max_entries=max_entries, max_bytes=max_bytes):
            indexes = [pending[i] for i in group]
            try:
                answers = call([entries[i] for i in indexes])
            except Exception as exc:  # already retried by botocore: the whole call failed
                for i in indexes:
                    outcome[i] = exc
                continue
            for i, answer in zip(indexes, answers, strict=True):
                outcome[i] = answer
                if answer is not None and answer.retryable:
                    retry.append(i)
        if not retry:
            break
        pending = retry
    return outcome


def entry_error(
    outcome: Exception | EntryFailure | None, inference_id: str, operation: str
) -> ResultError | None:
    """The structured error of one entry's outcome from :func:`send_entries`."""
    if outcome is None:
        return None
    if isinstance(outcome, EntryFailure):
        return AwsCallError(
            f"{operation} refused the entry: {outcome.code} {outcome.message}",
            reason="Throttled"
            if outcome.code in THROTTLING_CODES or "Throttl" in outcome.code
            else "AwsCallFailed",
            received=outcome.code,
            expected=f"the entry accepted by {operation}",
            inference_id=inference_id,
        )
    return aws_error(outcome, operation=operation, inference_id=inference_id)


def answer_failures(answers: Sequence[Mapping[str, Any]]) -> list[EntryFailure | None]:
    """Per-entry answers carrying ``ErrorCode``/``ErrorMessage`` (EventBridge, Kinesis) as failures."""
    return [
        EntryFailure(answer["ErrorCode"], answer.get("ErrorMessage", "")) if answer.get("ErrorCode") else None
        for answer in answers
    ]


class BatchDestination:
    """A notify-once destination that sends one entry per result, with a batch API for a batch.

    A subclass names its environment variable (:attr:`target_env`, the queue, bus or stream; absent
    or blank switches the destination off), its batch operation and limits, and writes
    :meth:`send` (one result), :meth:`_entry` (one result's batch entry), :meth:`_entry_size` and
    :meth:`_call` (one batch call, answering per entry). Built with ``clients`` (the runtime's AWS
    clients) and the target named by :attr:`target_keyword`.
    """

    name: str
    stage: Final = "after"
    #: The variable naming the target, and the constructor's keyword for it.
    target_env: ClassVar[str]
    target_keyword: ClassVar[str]
    #: The batch API in errors (``"SQS.SendMessageBatch"``) and its limits of one call.
    batch_operation: ClassVar[str]
    max_batch_entries: ClassVar[int]
    max_batch_bytes: ClassVar[int]

    def __init__(self, target: str, clients: Clients) -> None:
        self._target = target
        self._clients = clients

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients) -> Self | None:
        """On when :attr:`target_env` is set (and :meth:`_check_target` accepts it)."""
        target = text(environ, cls.target_env)
        if target is None:
            return None
        cls._check_target(target)
        arguments: dict[str, Any] = {cls.target_keyword: target, "clients": clients}
        return cls(**arguments)

    @classmethod
    def _check_target(cls, target: str) -> None:
        """Raise a :class:`ConfigurationError` when ``target`` cannot be this destination's target."""

    def applies(self, result: InferenceResult) -> bool:
        return True

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        raise NotImplementedError

    def _entry(self, result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def _entry_size(self, entry: dict[str, Any]) -> int:
        """The entry's bytes as the service counts them against :attr:`max_batch_bytes`."""
        raise NotImplementedError

    def _call(self, entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        """One batch call; one ``EntryFailure`` or ``None`` per entry, in order."""
        raise NotImplementedError

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """One entry per result in batch calls; a failure per result (``None``: sent)."""
        if len(items) == 1:
            return [self._send_one(*items[0])]
        return [
            entry_error(outcome, result.inference_id, self.batch_operation)
            for outcome, (result, _) in zip(self._send_entries(items), items, strict=True)
        ]

    def _send_entries(
        self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]
    ) -> list[Exception | EntryFailure | None]:
        entries = [self._entry(result, record) for result, record in items]
        return send_entries(
            entries,
            sizes=[self._entry_size(entry) for entry in entries],
            max_entries=self.max_batch_entries,
            max_bytes=self.max_batch_bytes,
            call=self._call,
        )

    def _send_one(self, result: InferenceResult, record: dict[str, Any]) -> ResultError | None:
        try:
            self.send(result, record)
        except ResultError as err:
            return err
        return None
