"""Context -> StackConfig: defaults, JSON text from `-c`, and one error listing every problem."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_async_results.cdk.config import (
    ConfigError,
    StackConfig,
    context_keys,
    context_reference_markdown,
    default_context,
    is_context_key,
    parse_context,
)
from tests.infrastructure.conftest import cdk_json_context


def _leaf_paths(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [p for key, inner in value.items() for p in _leaf_paths(inner, f"{prefix}{key}.")]
    return [prefix.rstrip(".")]


def test_every_cdk_json_context_key_is_known_to_the_model_and_valid() -> None:
    own = {key: value for key, value in cdk_json_context().items() if is_context_key(key)}
    assert own, "cdk.json lists the sample's choices"
    known = set(context_keys())
    for path in _leaf_paths(own):
        assert path in known, path
    parse_context(cdk_json_context())  # raises on any invalid value


def test_cdk_feature_flags_and_cdk_keys_are_not_context_keys() -> None:
    assert not is_context_key("@aws-cdk/core:checkSecretUsage")
    assert not is_context_key("aws:cdk:bundling-stacks")
    assert not is_context_key("acknowledged-issue-numbers")
    assert not is_context_key("availability-zones:account=123456789012:region=us-east-1")
    assert is_context_key("endpointName")


def test_default_context_is_derived_from_the_model() -> None:
    defaults = default_context()
    assert defaults == StackConfig().model_dump(mode="json", by_alias=True)
    assert parse_context(defaults) == StackConfig()
    assert defaults["delivery"]["maxBatchingWindowSeconds"] == 1
    assert defaults["destinations"]["eventBridge"] == {"enabled": False, "busName": "default"}


def test_context_reference_is_deterministic_and_lists_every_key_path() -> None:
    table = context_reference_markdown()
    assert table == context_reference_markdown()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == context_keys()
    (row,) = [r for r in rows if r.startswith("| `delivery.batchSize`")]
    assert "| integer | `10` |" in row
    assert "records per invocation" in row
    (mode,) = [r for r in rows if r.startswith("| `delivery.mode`")]
    assert "`direct` or `buffered`" in mode
    for key in default_context():
        assert f"| `{key}` |" in table, key


def test_empty_context_gives_the_sample_defaults() -> None:
    config = parse_context({})
    assert isinstance(config, StackConfig)
    assert config.endpoint_name == "async-results-demo"
    assert config.model is not None
    assert "huggingface-pytorch-inference" in config.model.image
    assert config.delivery.mode == "direct"
    assert config.autoscaling.min_capacity == 0
    assert config.include_inference_response_in == ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")


def test_partial_objects_merge_over_defaults_and_cli_strings_are_json() -> None:
    config = parse_context(
        {
            "autoscaling": '{"enabled": false}',
            "delivery": {"mode": "buffered"},
            "initialInstanceCount": "2",
            "handlerModules": "handlers,my_pkg.results",
            "existingBucketName": "null",
            "existingSuccessTopicArn": "",
        }
    )
    assert config.autoscaling.enabled is False
    assert config.autoscaling.max_capacity == 2
    assert config.delivery.mode == "buffered"
    assert config.delivery.batch_size == 10
    assert config.initial_instance_count == 2
    assert config.handler_modules == ("handlers", "my_pkg.results")
    assert (config.existing_bucket_name, config.existing_success_topic_arn) == (None, None)


def test_null_for_a_key_with_a_default_means_the_default() -> None:
    config = parse_context({"instanceType": None, "delivery": {"batchSize": None}})
    assert config.instance_type == "ml.m5.xlarge"
    assert config.delivery.batch_size == 10


def test_unknown_keys_are_errors_naming_the_known_ones() -> None:
    problems = _problems({"endpointname": "typo", "delivery": {"modes": "buffered"}})
    (top,) = [p for p in problems if p.startswith("endpointname:")]
    assert "unknown key" in top
    assert "'endpointName'" in top
    assert "received 'typo'" in top
    (nested,) = [p for p in problems if p.startswith("delivery.modes:")]
    assert "['batchSize', 'maxBatchingWindowSeconds', 'maxReceiveCount', 'mode']" in nested


def test_existing_model_with_model_null() -> None:
    config = parse_context(
        {**cdk_json_context(), "existingModelName": "m", "existingModelRoleArn": "arn:aws:iam::123456789012:role/r",
         "model": "null"}
    )  # fmt: skip
    assert config.model is None
    assert config.existing_model_name == "m"


def _problems(context: dict[str, Any]) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_context({**cdk_json_context(), **context})
    return caught.value.problems


def test_one_error_lists_every_problem_with_received_and_expected() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_context(
            {
                **cdk_json_context(),
                "existingModelName": "my-model",
                "existingModelRoleArn": "arn:aws:iam::123456789012:role/r",
                "model": {"image": "my-image"},
                "includeInferenceResponseIn": ["SUCCESS_NOTIFICATION_TOPIC", "BOTH_TOPICS"],
                "autoscaling": {"minCapacity": 3, "maxCapacity": 2},
                "delivery": {"mode": "firehose"},
                "outputPrefix": "/outputs",
                "functionMemoryMb": "lots",
            }
        )
    problems = caught.value.problems
    message = str(caught.value)
    assert len(problems) == 6, problems
    assert "6 problems" in message
    expectations = {
        "existingModelName/model": "either existingModelName or model",
        "includeInferenceResponseIn[1]": "'BOTH_TOPICS'",
        "autoscaling.minCapacity": "at most maxCapacity (2), received 3",
        "delivery.mode": "received 'firehose'",
        "outputPrefix": "received '/outputs'",
        "functionMemoryMb": "expected an integer between 128 and 10240, received 'lots' (str)",
    }
    for key, text in expectations.items():
        (line,) = [p for p in problems if p.startswith(f"{key}:")]
        assert text in line, line
        assert "expected" in line
        assert "received" in line


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({"endpointName": "bad_name!"}, "endpointName"),
        ({"instanceType": "m5.xlarge"}, "instanceType"),
        ({"inputPrefix": "inputs"}, "inputPrefix"),
        ({"failurePrefix": "a//b/"}, "failurePrefix"),
        ({"outputPrefix": "async-inference/inputs/"}, "inputPrefix/outputPrefix"),
        ({"existingSuccessTopicArn": "my-topic"}, "existingSuccessTopicArn"),
        ({"existingModelName": "m", "model": None}, "existingModelRoleArn"),
        ({"subscriptions": {"email": ["not-an-email"]}}, "subscriptions.email[0]"),
        ({"subscriptions": {"emails": []}}, "subscriptions.emails"),
        ({"autoscaling": {"minCapacity": 3, "maxCapacity": 2}}, "autoscaling.minCapacity"),
        ({"initialInstanceCount": 3}, "initialInstanceCount"),
        ({"existingSuccessTopicArn": "arn:aws:sns:us-east-1:123456789012:t", "existingErrorTopicArn": "arn:aws:sns:us-east-1:123456789012:t"}, "existingErrorTopicArn"),
        ({"existingModelRoleArn": "arn:aws:iam::123456789012:role/r"}, "existingModelRoleArn"),
        ({"autoscaling": {"enabled": "yes"}}, "autoscaling.enabled"),
        ({"autoscaling": []}, "autoscaling"),
        ({"delivery": {"batchSize": 100, "maxBatchingWindowSeconds": 0}}, "delivery.maxBatchingWindowSeconds"),
        ({"destinations": {"stepFunctionsCallback": {"enabled": True}}}, "destinations.stepFunctionsCallback.stateMachineArns"),
        ({"logRetentionDays": 31}, "logRetentionDays"),
        ({"initialInstanceCount": True}, "initialInstanceCount"),
        ({"model": {"image": "x", "modelDataUrl": "http://x"}}, "model.modelDataUrl"),
    ],
)  # fmt: skip
def test_single_problems(context: dict[str, Any], key: str) -> None:
    problems = _problems(context)
    assert [p for p in problems if p.startswith(f"{key}:")], problems


def test_app_reports_config_errors_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import aws_cdk as cdk

    import app as cdk_app

    real_app = cdk.App
    monkeypatch.setattr(
        cdk, "App", lambda: real_app(context={"delivery": {"mode": "x"}, "endpointName": "-"})
    )
    with pytest.raises(SystemExit) as exited:
        cdk_app.main()
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert "delivery.mode" in err
    assert "endpointName" in err
