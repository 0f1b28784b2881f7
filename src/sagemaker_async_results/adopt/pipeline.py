"""The deployed pipeline as an endpoint sees it: topics, output and failure locations, key, policy.

Read from the stack's outputs (names in :mod:`sagemaker_async_results.contract`), with the construct's
output prefix when a stack holds several pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sagemaker_async_results import contract

#: Outputs every pipeline stack has (without them nothing can be configured).
REQUIRED_OUTPUTS = (
    contract.OUTPUT_SUCCESS_TOPIC_ARN,
    contract.OUTPUT_ERROR_TOPIC_ARN,
    contract.OUTPUT_BUCKET_NAME,
    contract.OUTPUT_OUTPUT_PREFIX,
    contract.OUTPUT_FAILURE_PREFIX,
)


class PipelineNotFoundError(LookupError):
    """No deployed pipeline matches (or several do): the message says which were found."""


@dataclass(frozen=True)
class PipelineOutputs:
    """What an async endpoint is given to deliver its results to the pipeline."""

    success_topic_arn: str
    error_topic_arn: str
    bucket: str
    output_prefix: str
    failure_prefix: str
    #: Where clients upload inputs (the endpoint's role reads them); ``None``: inputs are elsewhere.
    input_prefix: str | None = None
    #: The stack's key (outputs are encrypted with it); stacks deployed before it was an output lack it.
    encryption_key_arn: str | None = None
    #: The managed policy with what an endpoint's execution role needs (same caveat).
    publisher_policy_arn: str | None = None
    stack_name: str | None = None

    @property
    def output_path(self) -> str:
        """``S3OutputPath``: SageMaker writes ``<output path>/<inference id>.out`` under it."""
        return f"s3://{self.bucket}/{self.output_prefix}"

    @property
    def failure_path(self) -> str:
        """``S3FailurePath``: SageMaker writes ``<failure path>/<inference id>-error.out`` under it."""
        return f"s3://{self.bucket}/{self.failure_prefix}"

    @property
    def partition(self) -> str:
        """The AWS partition of the pipeline (``aws``, ``aws-cn``, ``aws-us-gov``), from its topic ARN."""
        return self.success_topic_arn.split(":")[1]

    @classmethod
    def from_outputs(
        cls, outputs: dict[str, str], prefix: str = "", stack_name: str | None = None
    ) -> PipelineOutputs:
        """Read the outputs named as in :mod:`~sagemaker_async_results.contract` (plus ``prefix``)."""
        missing = [prefix + name for name in REQUIRED_OUTPUTS if prefix + name not in outputs]
        if missing:
            raise PipelineNotFoundError(
                f"stack outputs lack {missing}: expected a results pipeline's outputs "
                f"{[prefix + n for n in REQUIRED_OUTPUTS]}, received {sorted(outputs)}"
            )
        return cls(
            success_topic_arn=outputs[prefix + contract.OUTPUT_SUCCESS_TOPIC_ARN],
            error_topic_arn=outputs[prefix + contract.OUTPUT_ERROR_TOPIC_ARN],
            bucket=outputs[prefix + contract.OUTPUT_BUCKET_NAME],
            output_prefix=outputs[prefix + contract.OUTPUT_OUTPUT_PREFIX],
            failure_prefix=outputs[prefix + contract.OUTPUT_FAILURE_PREFIX],
            input_prefix=outputs.get(prefix + contract.OUTPUT_INPUT_PREFIX),
            encryption_key_arn=outputs.get(prefix + contract.OUTPUT_ENCRYPTION_KEY_ARN),
            publisher_policy_arn=outputs.get(prefix + contract.OUTPUT_PUBLISHER_POLICY_ARN),
            stack_name=stack_name,
        )

    @classmethod
    def from_stack(
        cls, cloudformation: Any, stack_name: str | None = None, prefix: str | None = None
    ) -> PipelineOutputs:
        """The pipeline of ``stack_name``, or of the one stack in the account and region that has one.

        ``prefix`` ``None`` accepts any output prefix as long as exactly one pipeline matches.
        """
        if stack_name:
            stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
        else:
            stacks = [
                stack
                for page in cloudformation.get_paginator("describe_stacks").paginate()
                for stack in page.get("Stacks", [])
                if not stack.get("StackStatus", "").startswith(("DELETE_", "REVIEW_"))
            ]
        found: list[tuple[str, str, dict[str, str]]] = []
        for stack in stacks:
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            for candidate in pipeline_prefixes(outputs):
                if prefix is None or candidate == prefix:
                    found.append((stack["StackName"], candidate, outputs))
        if len(found) == 1:
            name, candidate, outputs = found[0]
            return cls.from_outputs(outputs, candidate, stack_name=name)
        where = f"stack {stack_name}" if stack_name else "this account and region"
        if not found:
            raise PipelineNotFoundError(
                f"no results pipeline in {where}: expected the outputs {list(REQUIRED_OUTPUTS)}"
                + (f" with the prefix {prefix!r}" if prefix else "")
            )
        listed = ", ".join(f"{name}" + (f" (prefix {p})" if p else "") for name, p, _ in found)
        raise PipelineNotFoundError(f"several results pipelines in {where}: {listed}; name one")


def pipeline_prefixes(outputs: dict[str, str]) -> list[str]:
    """The output prefixes under which ``outputs`` hold a whole pipeline (``""``: no prefix)."""
    anchor = contract.OUTPUT_SUCCESS_TOPIC_ARN
    candidates = {key[: -len(anchor)] for key in outputs if key.endswith(anchor)}
    return sorted(p for p in candidates if all(p + name in outputs for name in REQUIRED_OUTPUTS))
