"""The AsyncInferenceResults construct as another app uses it: props, existing resources, escape hatch,
handler folder bundling, stack outputs and destinations."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from sagemaker_async_results import contract
from sagemaker_async_results.cdk import (
    AsyncInferenceResults,
    AutoscalingProps,
    DeliveryProps,
    EventBridgeDestination,
    ModelProps,
    PropsError,
    ResultStoreDestination,
    StepFunctionsCallbackDestination,
    parse_context,
)
from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from tests.infrastructure.conftest import PROJECT_ROOT, SKIP_BUNDLING, STATE_MACHINE

HANDLERS = PROJECT_ROOT / "functions" / "handlers"
CONTRACT_OUTPUTS = {
    value for name, value in vars(contract).items() if name.startswith("OUTPUT_") and isinstance(value, str)
}
DIRECT_OUTPUTS = CONTRACT_OUTPUTS - {contract.OUTPUT_SUCCESS_QUEUE_URL, contract.OUTPUT_ERROR_QUEUE_URL}


def _stack(outdir: Path | None = None) -> cdk.Stack:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(outdir) if outdir else None)
    return cdk.Stack(app, "Consumer", env=None)


def _template(stack: cdk.Stack) -> dict[str, Any]:
    template: dict[str, Any] = Template.from_stack(stack).to_json()
    return template


def _of_type(template: Mapping[str, Any], type_name: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


#: The result-handler functions: success, error and recovery (CDK's own helper functions are not ours).
HANDLER_STRINGS = (contract.LAMBDA_HANDLER, contract.RECOVERY_LAMBDA_HANDLER)


def _functions(template: Mapping[str, Any], count: int = 3) -> list[dict[str, Any]]:
    functions = [
        f
        for f in _of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") in HANDLER_STRINGS
    ]
    assert len(functions) == count
    return functions


def _env(function: Mapping[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_one_line_with_defaults_creates_the_whole_system_and_passes_cdk_nag(tmp_path: Path) -> None:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(tmp_path))
    stack = cdk.Stack(app, "Consumer")
    results = AsyncInferenceResults(stack, "Results", endpoint_name="scorer", handlers_dir=HANDLERS)
    add_aws_solutions_checks(app)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = _template(stack)
    assert set(template["Outputs"]) == DIRECT_OUTPUTS
    (endpoint,) = _of_type(template, "AWS::SageMaker::Endpoint").values()
    assert endpoint["Properties"]["EndpointName"] == "scorer"
    names = {t["Properties"].get("TopicName") for t in _of_type(template, "AWS::SNS::Topic").values()}
    assert names == {"scorer-success", "scorer-error", None}  # None: the alarm topic
    assert results.recovery is not None
    (model,) = _of_type(template, "AWS::SageMaker::Model").values()
    assert "huggingface-pytorch-inference" in json.dumps(model["Properties"]["PrimaryContainer"]["Image"])
    assert len(_of_type(template, "AWS::KMS::Key")) == 1
    assert len(_of_type(template, "AWS::DynamoDB::Table")) == 1
    assert results.autoscaling is not None
    for function in _functions(template):
        assert _env(function)[contract.HANDLER_MODULES] == "handlers"
        assert _env(function)[contract.RESULT_STORE_ENABLED] == "true"


def test_output_keys_are_exactly_the_contract_names_and_carry_the_output_prefix() -> None:
    stack = _stack()
    AsyncInferenceResults(stack, "Blue", endpoint_name="blue", handlers_dir=HANDLERS, output_prefix="Blue")
    AsyncInferenceResults(
        stack,
        "Green",
        endpoint_name="green",
        handlers_dir=HANDLERS,
        output_prefix="Green",
        delivery=DeliveryProps(mode="buffered"),
    )
    outputs = set(_template(stack)["Outputs"])
    assert outputs == {f"Blue{name}" for name in DIRECT_OUTPUTS} | {
        f"Green{name}" for name in CONTRACT_OUTPUTS
    }


def test_existing_resources_are_used_and_not_created() -> None:
    stack = _stack()
    key = kms.Key.from_key_arn(
        stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    )
    results = AsyncInferenceResults(
        stack,
        "Results",
        endpoint_name="reuse",
        handlers_dir=HANDLERS,
        existing_encryption_key=key,
        existing_bucket=s3.Bucket.from_bucket_name(stack, "Bucket", "my-bucket"),
        existing_table=dynamodb.Table.from_table_name(stack, "Table", "my-table"),
        existing_success_topic=sns.Topic.from_topic_arn(stack, "Ok", "arn:aws:sns:us-east-1:123456789012:ok"),
        existing_error_topic=sns.Topic.from_topic_arn(stack, "Err", "arn:aws:sns:us-east-1:123456789012:err"),
        existing_model_name="my-model",
        existing_model_role=iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/model"),
        alarm_topic=sns.Topic.from_topic_arn(stack, "Alarms", "arn:aws:sns:us-east-1:123456789012:alarms"),
        autoscaling=None,
    )
    template = _template(stack)
    for type_name in (
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::DynamoDB::Table",
        "AWS::SNS::Topic",
        "AWS::SageMaker::Model",
        "AWS::ApplicationAutoScaling::ScalableTarget",
    ):
        assert _of_type(template, type_name) == {}, type_name
    assert results.encryption_key is key
    assert template["Outputs"][contract.OUTPUT_BUCKET_NAME]["Value"] == "my-bucket"
    assert (
        template["Outputs"][contract.OUTPUT_SUCCESS_TOPIC_ARN]["Value"]
        == "arn:aws:sns:us-east-1:123456789012:ok"
    )
    for function in _functions(template):
        assert _env(function)[contract.RESULTS_TABLE] == "my-table"
    assert results.alarm_topic.topic_arn == "arn:aws:sns:us-east-1:123456789012:alarms"
    actions = {
        json.dumps(a["Properties"].get("AlarmActions"))
        for a in _of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    assert actions == {'["arn:aws:sns:us-east-1:123456789012:alarms"]'}


def test_existing_encrypted_resources_have_their_keys_granted() -> None:
    stack = _stack()
    bucket_key = "arn:aws:kms:us-east-1:123456789012:key/bucket-key"
    topic_key = kms.Key.from_key_arn(stack, "TopicKey", "arn:aws:kms:us-east-1:123456789012:key/topic-key")
    AsyncInferenceResults(
        stack,
        "Results",
        handlers_dir=HANDLERS,
        # An imported bucket that knows its key: nothing else to say.
        existing_bucket=s3.Bucket.from_bucket_attributes(
            stack,
            "Bucket",
            bucket_name="my-bucket",
            encryption_key=kms.Key.from_key_arn(stack, "BucketKey", bucket_key),
        ),
        existing_success_topic=sns.Topic.from_topic_arn(stack, "Ok", "arn:aws:sns:us-east-1:123456789012:ok"),
        existing_success_topic_key=topic_key,
    )
    template = _template(stack)
    grants: dict[str, set[str]] = {}
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            ):
                if isinstance(resource, str) and ":kms:" in resource:
                    grants.setdefault(resource, set()).update(
                        json.dumps(r["Ref"]) for r in policy["Properties"]["Roles"]
                    )
    # The execution role uses both keys; the three functions read the bucket with its key.
    assert len(grants[bucket_key]) == 4
    assert len(grants["arn:aws:kms:us-east-1:123456789012:key/topic-key"]) == 1


def test_a_key_without_its_existing_resource_is_a_prop_error() -> None:
    stack = _stack()
    key = kms.Key.from_key_arn(stack, "Key", "arn:aws:kms:us-east-1:123456789012:key/k")
    with pytest.raises(PropsError) as caught:
        AsyncInferenceResults(
            stack, "Results", handlers_dir=HANDLERS, existing_bucket_key=key, existing_error_topic_key=key
        )
    assert caught.value.problems == (
        "existing_bucket_key: expected only with existing_bucket (the key of that existing resource)",
        "existing_error_topic_key: expected only with existing_error_topic (the key of that existing resource)",
    )


def test_recovery_can_be_switched_off() -> None:
    stack = _stack()
    results = AsyncInferenceResults(stack, "Results", handlers_dir=HANDLERS, recovery=None)
    template = _template(stack)
    _functions(template, count=2)
    assert results.recovery is None
    assert _of_type(template, "Custom::S3BucketNotifications") == {}
    assert contract.OUTPUT_RECOVERY_QUEUE_URL not in template["Outputs"]


def test_every_prop_problem_is_reported_at_once(tmp_path: Path) -> None:
    stack = _stack()
    with pytest.raises(PropsError) as caught:
        AsyncInferenceResults(
            stack,
            "Results",
            endpoint_name="bad_name!",
            handlers_dir=tmp_path,  # no __init__.py
            model_props=ModelProps(image="x"),
            existing_model_name="m",
            existing_bucket=s3.Bucket.from_bucket_name(stack, "Bucket", "my-bucket"),
            bucket_props=cdk_bucket_props(),
            input_key_prefix="data/",
            output_key_prefix="data/out/",
            autoscaling=AutoscalingProps(min_capacity=3, max_capacity=2),
            memory_size=64,
            https_subscriptions=["http://insecure.example.com/hook"],
            function_props={"handler": "mine.handler"},
            output_prefix="1st",
        )
    problems = "\n".join(caught.value.problems)
    for text in (
        "endpoint_name",
        "either model_props or existing_model_name",
        "existing_model_role",
        "handlers_dir",
        "existing_bucket or bucket_props",
        "input_key_prefix/output_key_prefix",
        "autoscaling.min_capacity",
        "memory_size",
        "https_subscriptions",
        "function_props",
        "output_prefix",
    ):
        assert text in problems, text
    assert len(caught.value.problems) >= 11


def cdk_bucket_props() -> Any:
    from sagemaker_async_results.cdk.constructs import OutputBucketProps

    return OutputBucketProps()


def test_function_props_escape_hatch_reaches_every_function_and_keeps_the_runtime_environment() -> None:
    stack = _stack()
    results = AsyncInferenceResults(
        stack,
        "Results",
        handlers_dir=HANDLERS,
        function_props={"reserved_concurrent_executions": 7, "environment": {"TEAM": "fraud"}},
    )
    for function in _functions(_template(stack)):
        assert function["Properties"]["ReservedConcurrentExecutions"] == 7
        env = _env(function)
        assert env["TEAM"] == "fraud"
        assert contract.READABLE_LOCATIONS in env
    assert results.success_function.node.scope is results.handlers["Success"]
    assert results.error_function is results.handlers["Error"].function


def test_handler_folder_is_bundled_with_the_runtime_and_names_the_plugin_package(tmp_path: Path) -> None:
    plugins = tmp_path / "billing_plugins"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    (plugins / "invoices.py").write_text("VALUE = 1\n")
    outdir = tmp_path / "cdk.out"
    stack = _stack(outdir)
    AsyncInferenceResults(stack, "Results", handlers_dir=str(plugins))
    assembly = cdk.Stage.of(stack).synth()  # type: ignore[union-attr]
    template = json.loads(Path(assembly.directory, "Consumer.template.json").read_text())
    for function in _functions(template):
        assert _env(function)[contract.HANDLER_MODULES] == "billing_plugins"
    manifest = json.loads(Path(assembly.directory, "Consumer.assets.json").read_text())
    (asset_dir,) = {
        Path(assembly.directory, f["source"]["path"])
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "zip"
    }
    assert (asset_dir / "billing_plugins" / "invoices.py").is_file()
    assert (asset_dir / "sagemaker_async_results" / "runtime" / "entrypoint.py").is_file()
    assert not (asset_dir / "sagemaker_async_results" / "cdk").exists()  # constructs are not deployed


def test_destinations_bind_grants_and_environment_and_the_result_store_is_added() -> None:
    stack = _stack()
    AsyncInferenceResults(
        stack,
        "Results",
        handlers_dir=HANDLERS,
        destinations=[
            EventBridgeDestination(event_bus_name="results-bus"),
            StepFunctionsCallbackDestination(state_machine_arns=[STATE_MACHINE]),
        ],
    )
    template = _template(stack)
    for function in _functions(template):
        env = _env(function)
        assert env[contract.RESULT_STORE_ENABLED] == "true"
        assert env[contract.EVENT_BUS_NAME] == "results-bus"
        assert env[contract.STEP_FUNCTIONS_CALLBACK_ENABLED] == "true"
    statements = [
        s
        for policy in _of_type(template, "AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    callback = [s for s in statements if s.get("Sid") == "CompleteTaskTokens"]
    assert len(callback) == 3  # success, error and recovery functions
    assert all(s["Resource"] == STATE_MACHINE for s in callback)
    assert template["Outputs"]["EventBusName"]["Value"] == "results-bus"


def test_result_store_can_be_switched_off() -> None:
    stack = _stack()
    AsyncInferenceResults(
        stack, "Results", handlers_dir=HANDLERS, destinations=[ResultStoreDestination(enabled=False)]
    )
    for function in _functions(_template(stack)):
        assert _env(function)[contract.RESULT_STORE_ENABLED] == "false"


def test_a_destination_given_twice_is_a_prop_error() -> None:
    with pytest.raises(PropsError, match="each destination once"):
        AsyncInferenceResults(
            _stack(),
            "Results",
            handlers_dir=HANDLERS,
            destinations=[EventBridgeDestination(), EventBridgeDestination(event_bus_name="other")],
        )


def test_from_config_names_the_plugin_package_after_the_folder_unless_the_context_does(
    tmp_path: Path,
) -> None:
    plugins = tmp_path / "scoring"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    for context, expected in (({}, "scoring"), ({"handlerModules": ["scoring", "shared"]}, "scoring,shared")):
        stack = _stack()
        AsyncInferenceResults.from_config(stack, "Results", parse_context(context), handlers_dir=plugins)
        for function in _functions(_template(stack)):
            assert _env(function)[contract.HANDLER_MODULES] == expected


def test_from_config_builds_from_context_and_overrides_take_precedence() -> None:
    stack = _stack()
    config = parse_context(
        {"endpointName": "ctx", "delivery": {"mode": "buffered"}, "functionMemoryMb": 1024}
    )
    results = AsyncInferenceResults.from_config(
        stack, "Results", config, handlers_dir=HANDLERS, memory_size=2048, output_prefix="Ctx"
    )
    template = _template(stack)
    assert {f["Properties"]["MemorySize"] for f in _functions(template)} == {2048}
    assert f"Ctx{contract.OUTPUT_SUCCESS_QUEUE_URL}" in template["Outputs"]
    assert results.endpoint_name == "ctx"


def test_importing_the_package_does_not_import_aws_cdk() -> None:
    code = (
        "import sys, sagemaker_async_results.cdk, sagemaker_async_results.cdk.config;"
        "print('aws_cdk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
