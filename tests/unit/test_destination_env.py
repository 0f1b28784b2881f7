"""A destination's environment variables: blank means off, and a flag is spelled one known way or refused."""

from __future__ import annotations

import pytest

from sagemaker_async_results.runtime.destinations._env import flag, text
from sagemaker_async_results.runtime.errors import ConfigurationError


def test_text_is_the_stripped_value_and_blank_or_absent_is_off() -> None:
    assert text({"URL": "  https://q  "}, "URL") == "https://q"
    assert text({"URL": "   "}, "URL") is None
    assert text({}, "URL") is None


@pytest.mark.parametrize("spelling", ["true", "1", "yes", "on", " TRUE ", "On"])
def test_true_spellings(spelling: str) -> None:
    assert flag({"F": spelling}, "F", default=False) is True


@pytest.mark.parametrize("spelling", ["false", "0", "no", "off", "", "  ", " False "])
def test_false_spellings(spelling: str) -> None:
    assert flag({"F": spelling}, "F", default=True) is False


def test_an_absent_flag_takes_its_default() -> None:
    assert flag({}, "F", default=True) is True
    assert flag({}, "F", default=False) is False


def test_any_other_spelling_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError) as raised:
        flag({"STORE_ENABLED": "maybe"}, "STORE_ENABLED", default=True)
    error = raised.value
    assert error.message == "STORE_ENABLED='maybe': expected true or false"
    assert (error.received, error.expected, error.reason) == (
        "maybe",
        "true or false",
        "InvalidConfiguration",
    )
