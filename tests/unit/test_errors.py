"""Structured errors: reason codes, bounded excerpts of what was received, log fields and text."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_async_results.runtime.errors import (
    MAX_MESSAGE_CHARS,
    MAX_RECEIVED_CHARS,
    AwsCallError,
    ConfigurationError,
    DecodeError,
    DestinationError,
    DuplicateInProgressError,
    HandlerError,
    LocationRefusedError,
    NotificationError,
    PayloadNotFoundError,
    PayloadTooLargeError,
    RecordsFailedError,
    ResultError,
)


def test_limits() -> None:
    assert (MAX_RECEIVED_CHARS, MAX_MESSAGE_CHARS) == (500, 2000)


@pytest.mark.parametrize(
    ("error_type", "reason"),
    [
        (ResultError, "Unexpected"),
        (ConfigurationError, "InvalidConfiguration"),
        (NotificationError, "NotSageMakerMessage"),
        (LocationRefusedError, "LocationRefused"),
        (PayloadNotFoundError, "PayloadNotFound"),
        (DecodeError, "UndecodableContent"),
        (AwsCallError, "AwsCallFailed"),
        (HandlerError, "HandlerFailed"),
        (DestinationError, "DestinationFailed"),
        (DuplicateInProgressError, "DuplicateInProgress"),
    ],
)
def test_each_error_type_has_its_reason_and_can_override_it(
    error_type: type[ResultError], reason: str
) -> None:
    err = error_type("m")
    assert err.reason == reason
    assert error_type("m", reason="Throttled").reason == "Throttled"
    assert error_type("m").reason == reason  # the override belongs to that one error only
    assert isinstance(err, ResultError)


def test_fields_and_defaults() -> None:
    err = ResultError("summary")
    assert (err.message, err.received, err.expected, err.inference_id) == ("summary", None, None, None)
    assert err.args == ("summary",)
    full = ResultError("summary", reason="R", received={"a": 1}, expected="e", inference_id="i")
    assert (full.message, full.reason, full.received, full.expected, full.inference_id) == (
        "summary",
        "R",
        "{'a': 1}",
        "e",
        "i",
    )


def test_received_none_is_reported_as_none() -> None:
    assert ResultError("m", received=None).received == "None"
    assert ResultError("m").received is None


def test_received_text_is_kept_verbatim_up_to_the_limit() -> None:
    text = "r" * MAX_RECEIVED_CHARS
    assert ResultError("m", received=text).received == text
    assert ResultError("m", received="it's").received == "it's"  # text is not repr'd


def test_received_text_one_char_over_the_limit_is_shortened() -> None:
    text = "r" * (MAX_RECEIVED_CHARS + 1)
    assert ResultError("m", received=text).received == "r" * 500 + "... (501 chars)"


def test_received_values_are_bounded_in_depth_width_and_length() -> None:
    assert ResultError("m", received=[[[[[[1]]]]]]).received == "[[[[[[1]]]]]]"  # six levels
    assert ResultError("m", received=[[[[[[[1]]]]]]]).received == "[[[[[[[...]]]]]]]"
    assert ResultError("m", received=list(range(10))).received == "[0, 1, 2, 3, 4, 5, ...]"
    assert ResultError("m", received=10**99).received == "1" + "0" * 99  # 100 digits: whole
    big = ResultError("m", received=10**100).received
    assert big == "1" + "0" * 47 + "..." + "0" * 49  # 101 digits: 48 first, 49 last
    # a string inside keeps 500 chars of its repr, then the list's 502 chars are cut to 500
    assert (
        ResultError("m", received=["x" * 600]).received
        == "['" + "x" * 247 + "..." + "x" * 248 + "... (502 chars)"
    )


class LongRepr:
    def __repr__(self) -> str:
        return "o" * 700


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no")


class BadList(list[int]):
    """A container whose length cannot be taken: reprlib's list handler raises."""

    def __len__(self) -> int:
        raise RuntimeError("no")


BadList.__name__ = "list"  # reprlib picks its handler by the type's name


def test_objects_with_a_long_or_failing_repr() -> None:
    # reprlib keeps 500 chars of the object's repr, then the list's 502 chars are cut to 500
    shortened = "[" + "o" * 248 + "..." + "o" * 248 + "... (502 chars)"
    assert ResultError("m", received=[LongRepr()]).received == shortened
    assert (ResultError("m", received=BadRepr()).received or "").startswith("<BadRepr instance at 0x")
    assert ResultError("m", received=BadList()).received == "<unprintable list: RuntimeError>"


def test_message_up_to_the_limit_is_kept_whole() -> None:
    message = "m" * MAX_MESSAGE_CHARS
    err = ResultError(message)
    assert err.message == message
    assert err.args == (message,)


def test_message_one_char_over_the_limit_is_shortened() -> None:
    err = ResultError("m" * (MAX_MESSAGE_CHARS + 1))
    assert err.message == "m" * 2000 + "... (2001 chars)"
    assert err.args == (err.message,)


def test_text_that_utf8_cannot_carry_is_escaped() -> None:
    err = ResultError("bad \ud800 message", received="bad \udfff", inference_id="id-\ud800")
    assert err.message == "bad \\ud800 message"
    assert err.args == ("bad \\ud800 message",)
    assert err.received == "bad \\udfff"
    assert err.inference_id == "id-\\ud800"
    err.inference_id = "later-\udfff"
    assert err.inference_id == "later-\\udfff"
    err.inference_id = None
    assert err.inference_id is None
    fine = ResultError("é ✓", received="é", inference_id="ü")
    assert (fine.message, fine.received, fine.inference_id) == ("é ✓", "é", "ü")


def test_to_log_fields() -> None:
    err = NotificationError("summary", received=[1], expected="e", inference_id="i")
    assert err.to_log() == {
        "reason": "NotSageMakerMessage",
        "error": "summary",
        "inference_id": "i",
        "received": "[1]",
        "expected": "e",
        "error_type": "NotificationError",
    }
    assert ResultError("m").to_log() == {
        "reason": "Unexpected",
        "error": "m",
        "inference_id": None,
        "received": None,
        "expected": None,
        "error_type": "ResultError",
    }


def test_str_lists_the_known_parts() -> None:
    assert str(ResultError("m")) == "Unexpected: m"
    full = ResultError("m", reason="R", received="x", expected="e", inference_id="i")
    assert str(full) == "R: m; inference_id=i; received=x; expected=e"
    assert str(ResultError("m", received=None)) == "Unexpected: m; received=None"
    assert str(ResultError("m", received="", expected="", inference_id="")) == "Unexpected: m; received="


def test_payload_too_large_fields() -> None:
    err = PayloadTooLargeError("too big", size=11, limit=10, inference_id="i")
    assert (err.reason, err.message, err.size, err.limit, err.inference_id) == (
        "PayloadTooLarge",
        "too big",
        11,
        10,
        "i",
    )
    assert err.received == "11 bytes"
    assert err.expected == "at most 10 bytes for an in-memory read (stream it with result.open())"
    assert PayloadTooLargeError("x", size=1, limit=0).inference_id is None


def test_records_failed_with_one_failure_names_its_inference() -> None:
    only = HandlerError("h", inference_id="a")
    err = RecordsFailedError([only])
    assert err.reason == "RecordsFailed"
    assert err.message == "1 record(s) failed: HandlerFailed"
    assert err.received == "['a']"
    assert err.expected == "every record processed"
    assert err.inference_id == "a"
    assert err.failures == [only]


def test_records_failed_with_several_failures_lists_reasons_once_sorted() -> None:
    failures: list[ResultError] = [
        NotificationError("n"),
        HandlerError("h", inference_id="b"),
        AwsCallError("t", reason="Throttled", inference_id="c"),
        HandlerError("h", inference_id="d"),
    ]
    err = RecordsFailedError(failures)
    assert err.message == "4 record(s) failed: HandlerFailed, NotSageMakerMessage, Throttled"
    assert err.received == "['unknown', 'b', 'c', 'd']"
    assert err.inference_id is None
    assert err.failures is failures


def test_errors_are_raisable_and_catchable_as_result_errors() -> None:
    def fail() -> Any:
        raise DecodeError("bad", inference_id="i")

    with pytest.raises(ResultError) as info:
        fail()
    assert info.value.reason == "UndecodableContent"
