"""The deployed resources a client needs, read from a stack's outputs (never hard-coded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.client.errors import ResourcesNotFoundError

#: Stack output of the Kinesis results stream (``destinations.kinesis``): a push source of the waiter.
RESULTS_STREAM_OUTPUT = "ResultsStreamArn"
#: Stack output of the reply-queue destination: the name prefix of the callers' own reply queues.
REPLY_QUEUE_PREFIX_OUTPUT = contract.OUTPUT_REPLY_QUEUE_PREFIX
#: Stack output of the reply-queue destination: the customer managed key the reply queues use.
REPLY_QUEUE_KEY_OUTPUT = contract.OUTPUT_REPLY_QUEUE_KEY_ARN


@dataclass(frozen=True)
class StackResources:
    """The deployed resources the client needs, read from the stack's outputs (never hard-coded)."""

    endpoint_name: str
    bucket: str
    input_prefix: str
    results_table: str
    functions: dict[str, str] = field(default_factory=dict)
    dead_letter_queues: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_outputs(cls, outputs: dict[str, str], prefix: str = "") -> StackResources:
        """Read the construct's outputs (named as in :mod:`~sagemaker_async_results.contract`, plus
        ``prefix`` when the construct was given an output prefix)."""
        missing = [prefix + k for k in contract.CLIENT_OUTPUTS if prefix + k not in outputs]
        if missing:
            raise ResourcesNotFoundError(f"stack outputs lack {missing}; received outputs {sorted(outputs)}")
        kinds = {
            "success": (contract.OUTPUT_SUCCESS_FUNCTION_NAME, contract.OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL),
            "error": (contract.OUTPUT_ERROR_FUNCTION_NAME, contract.OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL),
        }
        own = {key.removeprefix(prefix): value for key, value in outputs.items() if key.startswith(prefix)}
        return cls(
            # Absent when the stack serves several endpoints (or none yet): the caller names one.
            endpoint_name=own.get(contract.OUTPUT_ENDPOINT_NAME, ""),
            bucket=own[contract.OUTPUT_BUCKET_NAME],
            input_prefix=own[contract.OUTPUT_INPUT_PREFIX],
            results_table=own[contract.OUTPUT_RESULTS_TABLE_NAME],
            functions={kind: own[names[0]] for kind, names in kinds.items() if names[0] in own},
            dead_letter_queues={kind: own[names[1]] for kind, names in kinds.items() if names[1] in own},
            outputs=own,
        )

    @classmethod
    def from_stack(cls, cloudformation: Any, stack_name: str, prefix: str | None = None) -> StackResources:
        """The resources of the construct in ``stack_name``; ``prefix`` ``None`` finds the one prefix used."""
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if prefix is None:
            prefixes = output_prefixes(outputs)
            if len(prefixes) > 1:
                raise ResourcesNotFoundError(
                    f"stack {stack_name} holds {len(prefixes)} AsyncInferenceResults constructs "
                    f"(output prefixes {prefixes}); name one with the output prefix"
                )
            prefix = prefixes[0] if prefixes else ""
        return cls.from_outputs(outputs, prefix)


def output_prefixes(outputs: dict[str, str]) -> list[str]:
    """The output prefixes under which ``outputs`` hold every output a client needs (``""``: no prefix)."""
    candidates = {
        key[: -len(contract.OUTPUT_RESULTS_TABLE_NAME)]
        for key in outputs
        if key.endswith(contract.OUTPUT_RESULTS_TABLE_NAME)
    }
    return sorted(p for p in candidates if all(p + name in outputs for name in contract.CLIENT_OUTPUTS))


@dataclass(frozen=True)
class DeployedConstruct:
    """One ``AsyncInferenceResults`` construct found in a deployed stack."""

    stack_name: str
    prefix: str
    resources: StackResources


def find_constructs(cloudformation: Any) -> list[DeployedConstruct]:
    """Every construct deployed in the account and region, found by its outputs (any stack name).

    Stacks being deleted or never created are skipped; the stack's name is whatever the user's app
    chose, so only the outputs in :data:`~sagemaker_async_results.contract.CLIENT_OUTPUTS` identify it.
    """
    found = []
    for page in cloudformation.get_paginator("describe_stacks").paginate():
        for stack in page.get("Stacks", []):
            if stack.get("StackStatus", "").startswith(("DELETE_", "REVIEW_")):
                continue
            outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
            for prefix in output_prefixes(outputs):
                found.append(
                    DeployedConstruct(
                        stack["StackName"], prefix, StackResources.from_outputs(outputs, prefix)
                    )
                )
    return found
