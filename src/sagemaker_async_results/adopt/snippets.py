"""The pipeline's configuration written for each tool that deploys async endpoints.

One source: :func:`async_inference_config` is the ``AsyncInferenceConfig`` of ``CreateEndpointConfig``
(the API shape, which CloudFormation, boto3 and the SDKs all end in); every snippet is rendered from it,
so the tools cannot drift apart. Each snippet is a complete piece of code or configuration that runs
or parses as printed (the tests execute them in each tool's own environment).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sagemaker_async_results.adopt.grants import execution_role_statements
from sagemaker_async_results.adopt.pipeline import PipelineOutputs

#: SageMaker includes the response (up to 128 KB) in both notifications: the pipeline then needs no S3
#: read for small results.
INCLUDE_INFERENCE_RESPONSE_IN = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")


def notification_config(pipeline: PipelineOutputs) -> dict[str, Any]:
    """``NotificationConfig``: the pipeline's topics, responses included in both."""
    return {
        "SuccessTopic": pipeline.success_topic_arn,
        "ErrorTopic": pipeline.error_topic_arn,
        "IncludeInferenceResponseIn": list(INCLUDE_INFERENCE_RESPONSE_IN),
    }


def output_config(pipeline: PipelineOutputs) -> dict[str, Any]:
    """``AsyncInferenceConfig.OutputConfig``: where SageMaker writes and whom it notifies."""
    config: dict[str, Any] = {
        "S3OutputPath": pipeline.output_path,
        "S3FailurePath": pipeline.failure_path,
        "NotificationConfig": notification_config(pipeline),
    }
    if pipeline.encryption_key_arn:
        config["KmsKeyId"] = pipeline.encryption_key_arn
    return config


def async_inference_config(pipeline: PipelineOutputs) -> dict[str, Any]:
    """``CreateEndpointConfig``'s ``AsyncInferenceConfig`` for an endpoint that feeds ``pipeline``."""
    return {"OutputConfig": output_config(pipeline)}


def _python(value: Any, indent: int) -> str:
    """``value`` as a Python literal (JSON of strings and lists is valid Python), indented."""
    text = json.dumps(value, indent=4)
    return text.replace("\n", "\n" + " " * indent)


def _sdk(pipeline: PipelineOutputs, module: str, deploy_hint: str) -> str:
    output = output_config(pipeline)
    arguments = [
        f"    output_path={json.dumps(output['S3OutputPath'])},",
        f"    failure_path={json.dumps(output['S3FailurePath'])},",
        f"    notification_config={_python(output['NotificationConfig'], 4)},",
    ]
    if "KmsKeyId" in output:
        arguments.append(f"    kms_key_id={json.dumps(output['KmsKeyId'])},")
    return "\n".join(
        [
            f"from {module} import AsyncInferenceConfig",
            "",
            "async_inference_config = AsyncInferenceConfig(",
            *arguments,
            ")",
            deploy_hint,
        ]
    )


def sdk_v2(pipeline: PipelineOutputs) -> str:
    """SageMaker Python SDK v2 (``sagemaker<3``): ``Model.deploy(async_inference_config=...)``."""
    return _sdk(
        pipeline,
        "sagemaker.async_inference",
        "# predictor = model.deploy(initial_instance_count=1, instance_type=..., "
        "async_inference_config=async_inference_config)",
    )


def sdk_v3(pipeline: PipelineOutputs) -> str:
    """SageMaker Python SDK v3 (``sagemaker>=3``): ``ModelBuilder.deploy(inference_config=...)``."""
    return _sdk(
        pipeline,
        "sagemaker.core.inference_config",
        "# endpoint = model_builder.deploy(instance_type=..., initial_instance_count=1, "
        "inference_config=async_inference_config)",
    )


def boto3_snippet(pipeline: PipelineOutputs) -> str:
    """boto3: the ``AsyncInferenceConfig`` argument of ``create_endpoint_config``."""
    return "\n".join(
        [
            f"async_inference_config = {_python(async_inference_config(pipeline), 0)}",
            "# boto3.client('sagemaker').create_endpoint_config(EndpointConfigName=..., "
            "ProductionVariants=[...], AsyncInferenceConfig=async_inference_config)",
        ]
    )


def _snake(name: str) -> str:
    """Terraform's attribute name of an API member (``S3OutputPath`` -> ``s3_output_path``)."""
    out = ""
    for index, char in enumerate(name):
        if char.isupper() and index and not name[index - 1].isupper():
            out += "_"
        out += char.lower()
    return out


def _hcl(block: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    scalars = {k: v for k, v in block.items() if not isinstance(v, dict)}
    width = max((len(_snake(k)) for k in scalars), default=0)
    lines = [f"{pad}{_snake(k).ljust(width)} = {json.dumps(v)}" for k, v in scalars.items()]
    for key, value in block.items():
        if isinstance(value, dict):
            lines += [f"{pad}{_snake(key)} {{", *_hcl(value, indent + 2), f"{pad}}}"]
    return lines


def terraform(pipeline: PipelineOutputs) -> str:
    """Terraform: the ``async_inference_config`` block of ``aws_sagemaker_endpoint_configuration``.

    The AWS provider names each attribute and nested block as the API member in snake case
    (``OutputConfig.S3OutputPath`` -> ``output_config { s3_output_path }``).
    """
    lines = _hcl({"AsyncInferenceConfig": async_inference_config(pipeline)}, 0)
    return "\n".join(['# inside resource "aws_sagemaker_endpoint_configuration" "..." { ... }', *lines])


def iam_policy(pipeline: PipelineOutputs) -> dict[str, Any]:
    """The policy document the endpoint's execution role needs."""
    return {"Version": "2012-10-17", "Statement": execution_role_statements(pipeline)}


def iam(pipeline: PipelineOutputs) -> str:
    """The execution role's grants: the stack's managed policy to attach, or the statements to add."""
    lines = []
    if pipeline.publisher_policy_arn:
        lines += [
            "# Attach the stack's managed policy to the endpoint's execution role:",
            f"#   aws iam attach-role-policy --role-name <execution role> --policy-arn "
            f"{pipeline.publisher_policy_arn}",
            "# or add these statements to one of its policies:",
        ]
    else:
        lines.append("# Add these statements to a policy of the endpoint's execution role:")
    return "\n".join([*lines, json.dumps(iam_policy(pipeline), indent=2)])


#: ``--format`` choices and their renderers, in the order ``all`` prints them.
RENDERERS: dict[str, Callable[[PipelineOutputs], str]] = {
    "sdk-v2": sdk_v2,
    "sdk-v3": sdk_v3,
    "boto3": boto3_snippet,
    "terraform": terraform,
    "iam": iam,
}
FORMATS = (*RENDERERS, "all")


def render(pipeline: PipelineOutputs, format: str) -> str:
    """The snippet for ``format`` (one of :data:`FORMATS`); ``all`` joins them under headings."""
    if format == "all":
        return "\n\n".join(f"# ---- {name} ----\n{render(pipeline, name)}" for name in RENDERERS)
    try:
        return RENDERERS[format](pipeline)
    except KeyError:
        raise ValueError(f"format: expected one of {list(FORMATS)}, received {format!r}") from None
