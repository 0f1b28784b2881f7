"""Reply queues: each result record sent to the queue its caller named in the request's Submitted record.

The client of a caller process creates one SQS queue of its own, named with the stack's prefix
(``REPLY_QUEUE_PREFIX``), and writes its URL into each request's Submitted record (``replyTo``) before
it invokes the endpoint. This destination takes the ``replyTo`` from the record the routing claim
returned (:attr:`InferenceResult.submitted`, result store on: no read of its own), else reads it (one
consistent ``BatchGetItem`` per 100 results, charged by each whole record's size), and sends the
records to their queues: several records per message (``{"results": [...]}``, at most
:data:`MAX_MESSAGE_BYTES`), up to 10 messages per ``SendMessageBatch``. A request without ``replyTo``
(submitted by the SDK, the CLI, another language) gets nothing here: its caller reads the result store.

It never fails a result: the result store has every result, the reply is only the fast way there. A
queue that is gone (its caller exited or was swept), a refused or throttled send, a ``replyTo`` that
is not a queue of this stack's prefix: logged, counted in the ``ReplySendFailed`` metric, and the
result is routed as usual (never dead-lettered for it).

Queues of callers killed before they could delete their own are deleted by the stack's scheduled
sweeper (:mod:`~sagemaker_async_results.runtime.destinations.reply_queue_sweeper`).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from sagemaker_async_results import contract
from sagemaker_async_results.runtime.destinations._batch import chunks
from sagemaker_async_results.runtime.destinations._env import text
from sagemaker_async_results.runtime.destinations.reply_queue_sweeper import PREFIX_ENV, queue_name
from sagemaker_async_results.runtime.errors import ConfigurationError, ResultError

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.result import InferenceResult
    from sagemaker_async_results.runtime.settings import Settings

#: Submitted-record attribute holding the caller's reply queue URL (the client writes it).
REPLY_TO_ATTRIBUTE = contract.REPLY_TO_ATTRIBUTE
#: SQS limits: bytes of one message (and of one SendMessageBatch), entries of one batch.
MAX_MESSAGE_BYTES = 262_144
MAX_BATCH_ENTRIES = 10
#: An inline response is put in the reply only up to this size (base64 grows it by a third).
MAX_INLINE_BYTES = 64 * 1024
#: BatchGetItem reads at most this many keys per call.
_BATCH_GET_LIMIT = 100
_ENVELOPE_BYTES = len('{"results": []}')


def _log() -> Any:
    # Imported when first needed: the CDK app imports this module for its names only.
    from sagemaker_async_results.runtime.observability import logger

    return logger


class ReplyQueueDestination:
    """Sends each result record to its caller's reply queue (see the module docstring).

    Parameters
    ----------
    prefix: the reply queues' name prefix. table: the results table (the Submitted records).
    clients: the runtime's AWS clients (``dynamodb`` and ``sqs`` are used).
    emit: metrics sink ``(name, value)``; default the runtime's EMF metrics.
    """

    name = "replyQueue"
    stage: Final = "after"

    def __init__(
        self,
        *,
        prefix: str,
        table: str,
        clients: Clients,
        emit: Callable[[str, float], None] | None = None,
    ) -> None:
        self._prefix = prefix
        self._table = table
        self._clients = clients
        self._emit = emit or _emit_metric

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], *, settings: Settings, clients: Clients
    ) -> ReplyQueueDestination | None:
        """On when ``REPLY_QUEUE_PREFIX`` is set; needs the results table (where ``replyTo`` is)."""
        prefix = text(environ, PREFIX_ENV)
        if prefix is None:
            return None
        if not settings.results_table:
            raise ConfigurationError(
                f"{PREFIX_ENV} is set but the function has no results table",
                received=f"{PREFIX_ENV}={prefix}, {contract.RESULTS_TABLE} unset",
                expected=f"{contract.RESULTS_TABLE} set (the Submitted records name the reply queues)",
            )
        return cls(prefix=prefix, table=settings.results_table, clients=clients)

    def applies(self, result: InferenceResult) -> bool:
        return True

    def send(self, result: InferenceResult, record: dict[str, Any]) -> None:
        self.send_batch([(result, record)])

    def send_batch(self, items: Sequence[tuple[InferenceResult, dict[str, Any]]]) -> list[ResultError | None]:
        """Send each record to its caller's queue; never a failure (see the module docstring)."""
        reply_to = {
            result.inference_id: url
            for result, _ in items
            if result.submitted is not None and (url := result.submitted.get(REPLY_TO_ATTRIBUTE, {}).get("S"))
        }
        unread = [result.inference_id for result, _ in items if result.submitted is None]
        if unread:
            try:
                reply_to.update(self._reply_to(unread))
            except Exception as exc:
                self._skipped(len(unread), "DynamoDB.BatchGetItem failed", exc)
        by_queue: dict[str, list[dict[str, Any]]] = {}
        for result, record in items:
            url = reply_to.get(result.inference_id)
            if url is None:
                continue
            if not queue_name(url).startswith(self._prefix):
                self._skipped(1, f"replyTo {url!r} is not a queue of prefix {self._prefix!r}", None)
                continue
            by_queue.setdefault(url, []).append(self._reply(result, record))
        for url, records in by_queue.items():
            self._send(url, records)
        return [None] * len(items)

    @staticmethod
    def _reply(result: InferenceResult, record: dict[str, Any]) -> dict[str, Any]:
        reply = dict(record)
        if result.payload.is_inline and result.size() <= MAX_INLINE_BYTES:
            reply[contract.INLINE_BODY_ATTRIBUTE] = base64.b64encode(result.raw()).decode()
        return reply

    def _reply_to(self, inference_ids: list[str]) -> dict[str, str]:
        """Inference ID -> the reply queue URL its Submitted record names (consistent reads)."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(inference_ids))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys = [
                {contract.TABLE_PARTITION_KEY: {"S": contract.result_key(i)}}
                for i in unique[start : start + _BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {
                self._table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "#pk, #to",
                    "ExpressionAttributeNames": {
                        "#pk": contract.TABLE_PARTITION_KEY,
                        "#to": REPLY_TO_ATTRIBUTE,
                    },
                }
            }
            for _ in range(5):
                response = self._clients.dynamodb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    url = item.get(REPLY_TO_ATTRIBUTE, {}).get("S")
                    if url:
                        key = item[contract.TABLE_PARTITION_KEY]["S"]
                        found[key.removeprefix(contract.RESULT_KEY_PREFIX)] = url
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05)
        return found

    def _send(self, url: str, records: list[dict[str, Any]]) -> None:
        """Records packed into messages of at most 256 KiB, 10 messages per ``SendMessageBatch``."""
        sizes = [len(json.dumps(r).encode()) + 2 for r in records]
        oversized = [i for i, size in enumerate(sizes) if size + _ENVELOPE_BYTES > MAX_MESSAGE_BYTES]
        if oversized:
            self._skipped(len(oversized), "a record is larger than an SQS message", None)
        fitting = [i for i in range(len(records)) if i not in set(oversized)]
        groups = chunks(
            [sizes[i] for i in fitting], max_entries=10_000, max_bytes=MAX_MESSAGE_BYTES - _ENVELOPE_BYTES
        )
        bodies = [json.dumps({"results": [records[fitting[i]] for i in group]}) for group in groups]
        for batch in chunks(
            [len(b.encode()) for b in bodies], max_entries=MAX_BATCH_ENTRIES, max_bytes=MAX_MESSAGE_BYTES
        ):
            entries = [{"Id": str(n), "MessageBody": bodies[i]} for n, i in enumerate(batch)]
            try:
                response = self._clients.sqs.send_message_batch(QueueUrl=url, Entries=entries)  # type: ignore[arg-type]
            except Exception as exc:
                self._skipped(len(entries), f"SQS.SendMessageBatch to {url} failed", exc)
                continue
            if response.get("Failed"):
                self._skipped(len(response["Failed"]), f"SQS.SendMessageBatch to {url} refused entries", None)

    def _skipped(self, messages: int, why: str, exc: Exception | None) -> None:
        """A reply not sent: logged and counted, never a failure (the result store has the result)."""
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "") if exc is not None else ""
        _log().warning(
            f"reply not sent: {why}; the caller reads the result store",
            extra={"error_code": code, "error": str(exc) if exc is not None else None, "messages": messages},
        )
        self._emit("ReplySendFailed", messages)


def _emit_metric(name: str, value: float) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    from sagemaker_async_results.runtime.observability import emit

    try:
        emit(contract.METRICS_NAMESPACE, {}, {name: (value, MetricUnit.Count)})
    except Exception as exc:  # a metric never changes a result's outcome
        _log().warning(f"metric {name} not emitted: {exc}")
