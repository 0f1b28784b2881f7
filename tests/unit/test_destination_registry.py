"""The destination registry: each destination reads only its own variables; problems reported at once."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime.clients import Clients
from sagemaker_async_results.runtime.destinations import BUILT_IN_DESTINATIONS, Stage, build_destinations
from sagemaker_async_results.runtime.destinations.kinesis import STREAM_ARN_ENV
from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.settings import Settings


def _names(env: dict[str, str]) -> tuple[list[str], list[str]]:
    before, after = build_destinations(Settings.from_env(env), Clients())
    return [d.name for d in before], [d.name for d in after]


def test_nothing_configured_means_no_destination() -> None:
    assert _names({}) == ([], [])


def test_result_store_is_on_with_a_table_unless_switched_off() -> None:
    assert _names({names.RESULTS_TABLE: "t"}) == (["resultStore"], [])
    assert _names({names.RESULTS_TABLE: "t", names.RESULT_STORE_ENABLED: "false"}) == ([], [])
    assert _names({names.RESULT_STORE_ENABLED: "true"}) == ([], [])  # no table: nothing to write to


def test_every_destination_switched_on_runs_in_its_stage() -> None:
    env = {
        names.RESULTS_TABLE: "t",
        names.EVENT_BUS_NAME: "bus",
        names.RESULTS_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        names.STEP_FUNCTIONS_CALLBACK_ENABLED: "true",
        STREAM_ARN_ENV: "arn:aws:kinesis:us-east-1:123456789012:stream/results",
    }
    assert _names(env) == (["resultStore"], ["stepFunctions", "sqs", "eventBridge", "kinesis"])


def test_blank_values_switch_destinations_off() -> None:
    env = {names.EVENT_BUS_NAME: " ", names.RESULTS_QUEUE_URL: "", names.STEP_FUNCTIONS_CALLBACK_ENABLED: ""}
    assert _names(env) == ([], [])


def test_settings_built_directly_enable_no_notify_once_destination(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.EVENT_BUS_NAME, "bus")  # the process environment is not consulted
    assert build_destinations(Settings(results_table="t"), Clients())[1] == []


def test_invalid_switches_of_several_destinations_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        _names({names.STEP_FUNCTIONS_CALLBACK_ENABLED: "maybe", names.RESULT_STORE_ENABLED: "sometimes"})
    assert names.STEP_FUNCTIONS_CALLBACK_ENABLED in info.value.message
    assert names.RESULT_STORE_ENABLED in info.value.message
    assert "'maybe'" in info.value.message


def test_every_registered_destination_has_a_stage_and_a_factory() -> None:
    assert get_args(Stage) == ("before", "after")
    for factory in BUILT_IN_DESTINATIONS:
        assert factory.stage in get_args(Stage), factory
        assert callable(factory.from_env), factory


def test_destination_modules_import_neither_boto3_nor_powertools() -> None:
    code = (
        "import sys, sagemaker_async_results.runtime.destinations;"
        "print(','.join(m for m in ('boto3', 'botocore', 'aws_lambda_powertools') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_problems_are_one_error_naming_each_variable_in_registry_order() -> None:
    with pytest.raises(ConfigurationError) as info:
        _names(
            {
                STREAM_ARN_ENV: "results",
                names.STEP_FUNCTIONS_CALLBACK_ENABLED: "maybe",
                names.EVENT_BUS_NAME: "b",
            }
        )
    assert info.value.message == (
        "invalid destination environment: "
        f"{names.STEP_FUNCTIONS_CALLBACK_ENABLED}='maybe': expected true or false; "
        f"{STREAM_ARN_ENV}='results': expected a Kinesis stream ARN"
    )
    assert info.value.expected == "see docs/destinations.md for every variable"
