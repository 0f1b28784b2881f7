"""Step Functions callback: the functions may answer task tokens of exactly the given state machines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations.stepfunctions import ENABLED_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["TASK_TOKEN_ACTIONS", "StepFunctionsCallbackDestination"]

#: What answering a task token takes (the runtime calls SendTaskSuccess and SendTaskFailure).
TASK_TOKEN_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")


class StepFunctionsCallbackDestination:
    """Answer the task token carried in a request's custom attributes (``taskToken=<token>``).

    Parameters
    ----------
    state_machine_arns: state machines whose tokens the functions may answer; at least one.
    """

    construct_id = "StepFunctionsCallback"

    def __init__(self, *, state_machine_arns: Sequence[str]) -> None:
        check(
            "StepFunctionsCallbackDestination",
            [] if state_machine_arns else ["state_machine_arns: expected at least one ARN, received none"],
        )
        self.state_machine_arns = tuple(state_machine_arns)

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> StepFunctionsCallbackDestination | None:
        section = config.step_functions_callback
        return cls(state_machine_arns=section.state_machine_arns) if section.enabled else None

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        for function in functions:
            function.add_environment(ENABLED_ENV, "true")
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="CompleteTaskTokens",
                    actions=list(TASK_TOKEN_ACTIONS),
                    resources=list(self.state_machine_arns),
                )
            )
        return DestinationBinding()
