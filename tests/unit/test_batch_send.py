"""Batch sends: calls within the service's limits, per-entry failures retried, then reported per entry."""

from __future__ import annotations

from typing import Any

from sagemaker_async_results.runtime.destinations._batch import (
    ENTRY_ATTEMPTS,
    EntryFailure,
    chunks,
    entry_error,
    send_entries,
)


def test_chunks_respect_the_entry_count_and_the_byte_limit() -> None:
    assert chunks([1] * 23, max_entries=10, max_bytes=100) == [
        list(range(10)),
        list(range(10, 20)),
        [20, 21, 22],
    ]
    assert chunks([60, 60, 30, 100], max_entries=10, max_bytes=100) == [[0], [1, 2], [3]]


def test_a_refused_entry_is_sent_again_and_only_it_fails() -> None:
    calls: list[list[str]] = []

    def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        calls.append([e["id"] for e in entries])
        return [
            EntryFailure("InternalError", "x")
            if (e["id"] in ("b", "c") and len(calls) < 2) or e["id"] == "b"
            else None
            for e in entries
        ]

    outcome = send_entries(
        [{"id": i} for i in "abcd"], sizes=[1] * 4, max_entries=10, max_bytes=100, call=call
    )
    assert calls == [["a", "b", "c", "d"], ["b", "c"], ["b"]]
    assert len(calls) == ENTRY_ATTEMPTS
    assert [o is None for o in outcome] == [True, False, True, True]
    error = entry_error(outcome[1], "inf-b", "SQS.SendMessageBatch")
    assert error is not None
    assert (error.reason, error.inference_id) == ("AwsCallFailed", "inf-b")


def test_a_sender_fault_is_not_sent_again_and_a_failed_call_fails_its_entries() -> None:
    calls = 0

    def call(entries: list[dict[str, Any]]) -> list[EntryFailure | None]:
        nonlocal calls
        calls += 1
        if len(entries) == 1:
            raise RuntimeError("connection reset")
        return [EntryFailure("InvalidParameterValue", "x", retryable=False), None]

    assert [
        type(o).__name__
        for o in send_entries([{}, {}, {}], sizes=[60, 30, 60], max_entries=10, max_bytes=100, call=call)
    ] == [
        "EntryFailure",
        "NoneType",
        "RuntimeError",
    ]
    assert calls == 2
    throttled = entry_error(EntryFailure("ThrottlingException", "slow"), "i", "EventBridge.PutEvents")
    assert throttled is not None
    assert throttled.reason == "Throttled"
