"""Property: no input goes unhandled. Generated events, records, bodies and notifications.

Every record ends as a routed, duplicate or test outcome, or as a structured :class:`ResultError`
with a reason (never ``Unexpected``), what was received and what was expected; the event's
response is a partial batch response (SQS) or results / a structured error (SNS, bare).

10,400 examples in all, derandomized and without an example database so that CI runs the same
inputs every time. The app has no results table (no AWS at all): S3 is an in-memory fake, so the
time goes to parsing and routing, which is what is under test.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagemaker_async_results.runtime.app import Outcome, ResultsApp
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.errors import ResultError
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.settings import S3Prefix, Settings
from sagemaker_async_results.runtime.testing import sns_envelope, sns_event, sqs_event

PER_STRATEGY = 2_600  # x 4 strategies = 10,400 inputs
FUZZ = settings(
    max_examples=PER_STRATEGY,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

DEEP = "[" * 50_000 + "]" * 50_000
OBJECTS = {
    "ok.json": b'{"label": "POSITIVE"}',
    "deep.json": DEEP.encode(),
    "bad-utf8": b"\xff\xfe\xfa",
    "nul.csv": b"a,b\x00\n1,2",
    "empty": b"",
}


class FakeS3:
    """``HeadObject`` / ``GetObject`` over :data:`OBJECTS` under ``s3://fuzz/out/``."""

    def _body(self, Bucket: str, Key: str) -> bytes:
        data = OBJECTS.get(Key.removeprefix("out/")) if Bucket == "fuzz" else None
        if data is None:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return data

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        return {"ContentLength": len(self._body(Bucket, Key))}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        data = self._body(Bucket, Key)
        return {"Body": io.BytesIO(data), "ContentLength": len(data)}


class RecordingApp(ResultsApp):
    """Keeps what happened to every record (in any thread of the batch pool)."""

    def __init__(self) -> None:
        router = Router()

        @router.on_success()
        def read_body(result: InferenceResult) -> None:
            result.body()

        @router.on_failure()
        def read_text(result: InferenceResult) -> None:
            if result.has_payload:
                result.text()

        super().__init__(
            settings=Settings(
                readable_locations=(S3Prefix.parse("s3://fuzz/out/"),), max_payload_bytes=1 << 20
            ),
            clients=Clients(s3=FakeS3()),  # type: ignore[arg-type]
            routers=[router],
        )
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


@pytest.fixture(scope="module")
def app() -> RecordingApp:
    return RecordingApp()


def assert_structured(error: BaseException) -> None:
    assert isinstance(error, ResultError), f"unhandled {type(error).__name__}: {error!r}"
    assert error.reason, str(error)
    assert error.reason != "Unexpected", str(error)
    assert error.received is not None, str(error)
    assert error.expected, str(error)
    json.dumps(error.to_log(), ensure_ascii=False).encode("utf-8")  # the log line can be written


def check(app: RecordingApp, event: Any) -> None:
    app.seen.clear()
    try:
        response = app(event)
    except ResultError as error:
        assert_structured(error)
        assert any(isinstance(s, BaseException) for s in app.seen), "raised, yet no record failed"
        response = None
    for seen in app.seen:
        if isinstance(seen, Outcome):
            assert seen.outcome in ("routed", "duplicate", "test")
        else:
            assert_structured(seen)
    failed = sum(isinstance(s, BaseException) for s in app.seen)
    if response is None:
        return
    if "batchItemFailures" in response:
        failures = response["batchItemFailures"]
        assert all(isinstance(f["itemIdentifier"], str) for f in failures)
        assert bool(failures) == bool(failed)
    else:
        assert failed == 0, "a direct-mode failure must raise"
        assert len(response["results"]) == len(app.seen)


# -- strategies -------------------------------------------------------------------------------------

# Text from characters that matter to the parsers: JSON and CSV syntax, separators, NUL, non-ASCII,
# astral, and a lone surrogate (JSON can spell it; UTF-8 cannot carry it). A small alphabet keeps
# generation cheap, so the examples go to the runtime rather than to drawing characters.
ALPHABET = [*'aZ09 .,;=:/*-_"\\{}[]\n\t\x00', "é", "€", "\U0001f600", "\ud800", "\udfff"]
text = st.text(st.sampled_from(ALPHABET), max_size=12)
LITERALS = [None, True, False, 0, -1, 2**63, 10**400, 1.5, -0.0, float("inf"), float("nan"), "", "null"]
leaf = st.sampled_from(LITERALS) | st.integers() | text
json_values = st.recursive(
    leaf, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=6
)
s3_uris = (
    st.sampled_from([f"s3://fuzz/out/{key}" for key in (*OBJECTS, "missing")])
    | st.sampled_from(["s3://other/out/x", "s3://fuzz/out/../secret", "s3://fuzz/", "s3://", "http://x"])
    | text
)
times = (
    st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda t: t.isoformat())
    | st.sampled_from(["2022-01-25T22:46:00.608Z", "2022-01-25T22:46:00"])
    | leaf
)
content_types = (
    st.sampled_from(
        [
            "application/json",
            "text/csv",
            "text/plain; charset=idna",
            "text/plain; charset=rot13",
            "text/plain; charset=utf-16",
            "application/jsonlines",
            "application/octet-stream",
        ]
    )
    | text
)
inline = st.fixed_dictionaries(
    {},
    optional={
        "content": st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode()) | text,
        "encoding": st.sampled_from(["BASE64", "base64", "UTF8"]) | leaf,
        "message": text,
    },
)
notifications = st.fixed_dictionaries(
    {
        "eventName": st.sampled_from(["InferenceResult", "InferenceResult", "TestNotification"])
        | json_values,
        "inferenceId": st.text(min_size=1, max_size=8) | st.text(min_size=60, max_size=70) | leaf,
        "invocationStatus": st.sampled_from(["Completed", "Failed"]) | leaf,
    },
    optional={
        "eventSource": st.just("aws:sagemaker") | leaf,
        "eventTime": times,
        "receivedTime": times,
        "requestParameters": st.fixed_dictionaries(
            {}, optional={"endpointName": text, "customAttributes": text, "accept": content_types}
        )
        | json_values,
        "responseParameters": st.fixed_dictionaries(
            {}, optional={"contentType": content_types, "outputLocation": s3_uris, "failureLocation": s3_uris}
        )
        | json_values,
        "responseBody": inline | json_values,
        "failureReason": text | leaf,
        "anythingElse": json_values,
    },
)
bodies = (
    text
    | json_values.map(json.dumps)
    | notifications.map(json.dumps)
    | notifications.map(lambda n: json.dumps(sns_envelope(n)))
    | text.map(lambda t: json.dumps(sns_envelope(t)))
    | st.sampled_from([DEEP, json.dumps({"Type": "Notification", "Message": DEEP}), '"\\ud800"'])
)
sqs_records = st.fixed_dictionaries(
    {"eventSource": st.just("aws:sqs")},
    optional={"messageId": st.sampled_from(["m1", "m2", "m3"]) | leaf, "body": bodies | json_values},
)


# -- properties -------------------------------------------------------------------------------------


@FUZZ
@given(event=json_values | st.dictionaries(text, json_values).map(lambda d: {"Records": [d]}))
def test_any_json_value_as_the_event(app: RecordingApp, event: Any) -> None:
    check(app, event)


@FUZZ
@given(records=st.lists(sqs_records | json_values, min_size=1, max_size=4))
def test_any_sqs_records(app: RecordingApp, records: list[Any]) -> None:
    check(app, {"Records": records})


@FUZZ
@given(body=bodies, raw=st.booleans(), kind=st.sampled_from(["sns", "sqs", "bare"]))
def test_any_message_body(app: RecordingApp, body: str, raw: bool, kind: str) -> None:
    if kind == "sns":
        check(app, sns_event([body]))
    elif kind == "sqs":
        event = sqs_event([body], raw=True)
        check(app, event)
    else:
        check(app, body)


@FUZZ
@given(
    batch=st.lists(notifications, min_size=1, max_size=3), wrap=st.sampled_from(["sns", "sqs", "raw", "bare"])
)
def test_any_notification(app: RecordingApp, batch: list[dict[str, Any]], wrap: str) -> None:
    if wrap == "sns":
        check(app, sns_event(batch))
    elif wrap in ("sqs", "raw"):
        check(app, sqs_event(batch, raw=wrap == "raw"))
    else:
        check(app, batch[0])
