"""Property, with every destination on (moto): generated notifications never go unhandled, and the
result record's routing state always matches the outcome.

The unit-level fuzz (tests/unit/test_fuzz.py) covers parsing and routing without AWS; this one
sends what passes parsing through the exactly-once lock, the result store, the routing state and
the notify-once destinations, where odd inference IDs, endpoint names and attributes reach DynamoDB,
SQS and EventBridge. Fewer examples: every one makes several moto calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from conftest import Aws
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagemaker_async_results.runtime.app import Outcome, ResultsApp
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import Settings
from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event

ALPHABET = [*'aZ09 .,;=:/*-_#"\\{}[]\n\x00', "é", "\U0001f600"]
# Mostly text UTF-8 can carry (so most examples reach the destinations), sometimes a lone surrogate.
text = st.text(st.sampled_from(ALPHABET), max_size=12)
sometimes_hostile = st.tuples(text, st.integers(0, 9)).map(lambda p: p[0] + "\ud800" if p[1] == 7 else p[0])


class RecordingApp(ResultsApp):
    def __init__(self) -> None:
        router = Router()
        router.on_result(name="read")(lambda result: result.body())
        super().__init__(settings=Settings.from_env(), routers=[router])
        self.seen: list[Outcome | BaseException] = []

    def process_batch(
        self, extracts: Sequence[Any], context: Any = None, *, concurrent: bool = True
    ) -> list[Outcome | ResultError]:
        try:
            outcomes = super().process_batch(extracts, context, concurrent=concurrent)
        except BaseException as exc:  # the batch itself must never raise
            self.seen.append(exc)
            raise
        self.seen.extend(outcomes)
        return outcomes


messages = st.builds(
    lambda inference_id, status, endpoint, attributes, body, reason: notification(
        inference_id=inference_id,
        status=status,
        endpoint_name=endpoint,
        custom_attributes=attributes,
        body=body,
        failure_reason=reason,
        content_type="text/plain",
    ),
    inference_id=st.uuids().map(str) | st.text(st.sampled_from(ALPHABET), min_size=1, max_size=64),
    status=st.sampled_from(["Completed", "Failed"]),
    endpoint=sometimes_hostile,
    attributes=st.none() | sometimes_hostile,
    body=text.map(str.encode),
    reason=st.none() | text,
)


def test_generated_notifications_through_every_destination(aws: Aws) -> None:
    app = RecordingApp()
    tally: dict[str, int] = {}

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(batch=st.lists(messages, min_size=1, max_size=3))
    def run(batch: list[dict[str, Any]]) -> None:
        app.seen.clear()
        response = app(sqs_event(batch, raw=True), lambda_context())
        assert all(isinstance(f["itemIdentifier"], str) for f in response["batchItemFailures"])
        for seen in app.seen:
            key = seen.reason if isinstance(seen, ResultError) else getattr(seen, "outcome", "?")
            tally[key] = tally.get(key, 0) + 1
            if isinstance(seen, BaseException):
                assert isinstance(seen, ResultError), repr(seen)
                assert seen.reason != "Unexpected", str(seen)
                assert seen.received is not None
                assert seen.expected
                continue
            assert seen.outcome in ("routed", "duplicate")
            record = aws.record(seen.inference_id or "")
            assert record is not None
            assert record["routing"] == "Routed", record
            assert record["routedTo"][0] == "resultStore"

    run()
    print(tally)
    # Most examples must reach the destinations, and repeated IDs the exactly-once lock.
    assert tally.get("routed", 0) > 50, tally
    assert tally.get("duplicate", 0) > 10, tally
