"""The asyncio API against the whole local run: simulator -> SNS -> real handler -> result store -> waiter.

The integration tests drive the waiter with records written by hand; here every result comes the way it
would in AWS, in both delivery modes, so ``await`` and ``async for`` are checked against real timing.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from sagemaker_async_results.client import InferenceFailedError, InferenceStatus
from sagemaker_async_results.local.environment import LocalEnvironment

pytestmark = pytest.mark.slow


def _payload(text: str, sleep_seconds: float = 0.0) -> bytes:
    return json.dumps({"inputs": text, "sleep_seconds": sleep_seconds}).encode()


def test_await_predict_returns_the_completed_record_and_raises_for_a_failed_inference(
    env: LocalEnvironment,
) -> None:
    client = env.client()

    async def scenario() -> None:
        record = await client.predict(_payload("a lovely day"), inline=True, timeout=60)
        assert record.status == InferenceStatus.COMPLETED
        assert json.loads(client.fetch_body(record) or b"[]")[0]["chars"] == len("a lovely day")
        with pytest.raises(InferenceFailedError) as failed:
            await client.predict(json.dumps({"fail": "async probe"}).encode(), inline=True, timeout=60)
        assert failed.value.record.status == InferenceStatus.FAILED
        assert "async probe" in (client.fetch_body(failed.value.record) or b"").decode()

    with client:
        asyncio.run(scenario())
        # The default stack pushes each result to this process's own reply queue.
        assert client.waiter.stats.resolved.get("replyQueue", 0) >= 1, client.waiter.stats


def test_async_iteration_yields_each_result_as_it_completes(env: LocalEnvironment) -> None:
    """Submitted slowest first, model times 1.5 s apart: they must come back fastest first.

    Each input's length tells its output apart (the sample model answers with ``chars``).
    """
    client = env.client()
    sleeps = {3.0: "a", 1.5: "bb", 0.0: "ccc"}

    async def scenario() -> list[tuple[InferenceStatus, int]]:
        seen = []
        payloads = [_payload(text, sleep) for sleep, text in sleeps.items()]
        async for future in client.completions(payloads, concurrency=len(payloads), inline=True):
            record = future.result()
            seen.append((record.status, json.loads(client.fetch_body(record) or b"[]")[0]["chars"]))
        return seen

    with client:
        seen = asyncio.run(asyncio.wait_for(scenario(), timeout=120))
    assert seen == [(InferenceStatus.COMPLETED, len(text)) for _, text in sorted(sleeps.items())]
