"""The await-at-scale case on the in-memory AWS, CI-sized: the real client and its one waiter, every
future resolved once with its own result, calls per result computed from the calls counted at the
botocore boundary. No timing thresholds: a loaded CI machine makes those flaky.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.await_at_scale import MAX_CALLS_PER_RESULT, MAX_P50_RATIO, fake_burst, run_fake

STREAM_OPERATIONS = {"GetRecords", "ListShards", "GetShardIterator"}
SUBMIT_OPERATIONS = {"InvokeEndpointAsync", "UpdateItem", "PutItem", "PutObject"}


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "fallback"])
def test_every_future_resolves_once_with_its_own_result(stream: bool) -> None:
    run = fake_burst(100, 1000.0, stream=stream)

    assert run.results == 100
    assert len(run.resolutions) == 100
    assert set(run.resolutions.values()) == {1}
    assert run.settled == 100, "the waiter settled some future twice or missed one"
    assert run.wrong == []
    assert len(run.seconds) == 100
    assert all(s >= 0 for s in run.seconds)
    assert run.wall > 0


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "fallback"])
def test_calls_per_result_come_from_the_waiting_calls_counted_at_botocore(stream: bool) -> None:
    run = fake_burst(100, 1000.0, stream=stream)

    counted = sum(run.calls.values())
    assert counted > 0
    assert run.calls_per_result == counted / 100
    # The botocore boundary and the waiter's own count agree: nothing else called AWS while waiting
    # (give or take the one read in flight when the last submit returned: the waiter counts it just
    # before botocore does).
    for operation in set(run.calls) | set(run.waiter_calls):
        assert abs(run.calls[operation] - run.waiter_calls[operation]) <= 1, operation
    assert not set(run.calls) & SUBMIT_OPERATIONS, "submit calls leaked into the waiting's count"
    if stream:
        assert run.calls["GetRecords"] >= 1
        assert set(run.calls) <= STREAM_OPERATIONS | {"BatchGetItem"}
    else:
        assert set(run.calls) == {"BatchGetItem"}


def test_the_summary_judges_each_target_from_its_values() -> None:
    summary = run_fake(requests=30, rates=(1000.0,), lone_samples=2)
    runs = summary["runs"]

    assert set(runs) == {"fake_lone", "fake_stream_1000", "fake_lone_fallback", "fake_fallback_1000"}
    for name, entry in runs.items():
        assert entry["resolvedExactlyOnce"] is True, name
        assert entry["wrongResults"] == 0, name
        assert entry["callsPerResult"] == sum(entry["calls"].values()) / entry["results"]
    for name, lone in (("fake_stream_1000", "fake_lone"), ("fake_fallback_1000", "fake_lone_fallback")):
        targets = runs[name]["targets"]
        calls = targets["callsPerResult"]
        assert calls["met"] == (calls["value"] <= MAX_CALLS_PER_RESULT)
        ratio = targets["p50VsLone"]
        assert ratio["value"] == pytest.approx(runs[name]["p50"] / runs[lone]["p50"])
        assert ratio["met"] == (ratio["value"] <= MAX_P50_RATIO)
    assert Counter(runs["fake_lone"]["calls"])["GetRecords"] >= 2
    assert summary["latencyMs"] == 10


def test_callers_case_ci_sized_reply_queue_unthrottled_stream_throttled() -> None:
    """bench.await_callers at CI size: 1 and 4 caller processes x 20 futures, an idle caller 2 minutes
    (compressed). What must hold on any machine: every future resolved with its own result, the reply
    queues never throttled, each target's met flag judged from its value, and an idle reply-queue
    caller making no receive at all. Whether 4 stream readers exceed Kinesis' 5 reads/s per shard
    depends on the CPU they get (a CI run at load 10 saw none), so that is shown by the full bench's
    rows, not asserted here."""
    from bench.await_callers import MAX_IDLE_CALLS_PER_MINUTE, rows, run_callers

    summary = run_callers(
        callers=(1, 4), futures=20, rate=200.0, lone_samples=5, idle_minutes=2, trade_off_wait=None
    )
    runs = summary["runs"]
    assert set(runs) == {"replyQueue_1", "replyQueue_4", "stream_1", "stream_4"}
    for name, entry in runs.items():
        assert entry["wrongResults"] == 0, name
        assert sum(entry["resolvedBy"].values()) == entry["callers"] * 20, name
        targets = entry["targets"]
        calls, ratio, throttled = targets["callsPerResult"], targets["p50VsLone"], targets["throttled"]
        assert calls["met"] == (calls["value"] <= MAX_CALLS_PER_RESULT), name
        assert ratio["met"] == (ratio["value"] <= MAX_P50_RATIO), name
        assert throttled["met"] == (throttled["value"] == 0), name
        assert ratio["value"] == pytest.approx(entry["p50"] / summary["lone"][entry["design"]]["p50"])
    assert runs["replyQueue_4"]["throttledCalls"] == 0
    assert runs["replyQueue_4"]["resolvedBy"].get("replyQueue", 0) >= 70, (
        "the reply queues pushed few results"
    )
    assert not {"GetRecords", "ListShards"} & set(runs["replyQueue_4"]["callsByOperation"])
    assert "DeleteMessageBatch" not in runs["replyQueue_4"]["callsByOperation"], (
        "replies expire, never deleted"
    )
    idle = summary["idle"]["replyQueue"]
    assert "ReceiveMessage" not in idle["idleCalls"]
    assert idle["targets"]["idleCallsPerMinute"]["value"] <= MAX_IDLE_CALLS_PER_MINUTE
    assert len(rows(summary)) == 4 * 3 + 2 * 2
