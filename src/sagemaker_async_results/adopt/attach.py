"""Point an endpoint that already runs at the pipeline, and back, as SageMaker updates do it.

An endpoint's config cannot be edited: SageMaker swaps it for another with ``UpdateEndpoint`` (without
downtime: new instances take over, then the old ones stop). :func:`plan_attach` copies the endpoint's
current config and changes only where results go (output and failure paths, their key, the
notification topics and ``IncludeInferenceResponseIn``); the copy is tagged with the config it
replaces, which :func:`plan_detach` restores. Nothing is created before :func:`apply`.
"""

from __future__ import annotations

import copy
import difflib
import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sagemaker_async_results.adopt.grants import MissingGrant, missing_grants, topic_policy_denials
from sagemaker_async_results.adopt.pipeline import PipelineOutputs
from sagemaker_async_results.adopt.snippets import output_config

#: Tag on an attached endpoint config naming the config it replaced (what ``detach`` restores).
PREVIOUS_CONFIG_TAG = "async-results:previous-endpoint-config"
#: Endpoint statuses in which SageMaker refuses ``UpdateEndpoint``.
_BUSY = {"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting", "UpdateRollbackFailed"}
_MAX_CONFIG_NAME = 63


class Refusal(Enum):
    """Why an endpoint cannot be attached or detached (each has its own exit code on the command line)."""

    NOT_ASYNC = "not an asynchronous endpoint"
    BUSY = "endpoint is not InService"
    MISSING_GRANTS = "execution role lacks grants"
    NOT_ATTACHED = "endpoint is not attached"


class AttachRefused(Exception):
    """The endpoint cannot be changed as asked: :attr:`reason` says why, the message what to do."""

    def __init__(self, reason: Refusal, message: str, missing: list[MissingGrant] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.missing = missing or []


@dataclass
class Plan:
    """A config swap: the endpoint, the config it serves now, the config it will serve, the difference."""

    endpoint_name: str
    current_config: str
    new_config: str
    #: ``CreateEndpointConfig`` arguments of a config to create first (``None``: it exists already).
    create: dict[str, Any] | None
    diff: str
    notes: list[str] = field(default_factory=list)


def plan_attach(
    sagemaker: Any,
    iam: Any,
    endpoint_name: str,
    pipeline: PipelineOutputs,
    *,
    check_grants: bool = True,
    sns: Any = None,
) -> Plan:
    """The new config that delivers ``endpoint_name``'s results to ``pipeline`` (nothing is created).

    ``check_grants`` reads the execution role's policies (``iam``) and, given ``sns``, the topics'
    policies: a role they would refuse is reported before anything changes.
    """
    endpoint = _in_service(sagemaker, endpoint_name)
    current_name = endpoint["EndpointConfigName"]
    current = sagemaker.describe_endpoint_config(EndpointConfigName=current_name)
    async_config = current.get("AsyncInferenceConfig")
    if not async_config:
        raise AttachRefused(
            Refusal.NOT_ASYNC,
            f"endpoint {endpoint_name} serves {current_name}, which has no AsyncInferenceConfig: only "
            "asynchronous endpoints publish results; deploy it with an AsyncInferenceConfig "
            "(`async-results config` prints one for each tool)",
        )
    if check_grants:
        _require_grants(sagemaker, iam, sns, current, pipeline)
    arguments, tags = _create_arguments(sagemaker, current)
    new_async = copy.deepcopy(async_config)
    new_output = {**new_async.get("OutputConfig", {}), **output_config(pipeline)}
    if not pipeline.encryption_key_arn:
        new_output.pop("KmsKeyId", None)
    new_async["OutputConfig"] = new_output
    before = {"AsyncInferenceConfig": async_config}
    after = {"AsyncInferenceConfig": new_async}
    if before == after:
        return Plan(endpoint_name, current_name, current_name, None, "", ["already attached: no change"])
    new_name = _config_name(current_name)
    arguments.update(
        EndpointConfigName=new_name,
        AsyncInferenceConfig=new_async,
        # Attached again (to another pipeline): detach still restores the config from before the first.
        Tags=[
            *arguments.get("Tags", []),
            {"Key": PREVIOUS_CONFIG_TAG, "Value": tags.get(PREVIOUS_CONFIG_TAG, current_name)},
        ],
    )
    return Plan(
        endpoint_name, current_name, new_name, arguments, _diff(current_name, before, new_name, after)
    )


def plan_detach(sagemaker: Any, endpoint_name: str) -> Plan:
    """Swap ``endpoint_name`` back to the config it served before :func:`plan_attach`'s."""
    endpoint = _in_service(sagemaker, endpoint_name)
    current_name = endpoint["EndpointConfigName"]
    current = sagemaker.describe_endpoint_config(EndpointConfigName=current_name)
    tags = {
        t["Key"]: t["Value"]
        for t in sagemaker.list_tags(ResourceArn=current["EndpointConfigArn"]).get("Tags", [])
    }
    previous_name = tags.get(PREVIOUS_CONFIG_TAG)
    if previous_name is None:
        raise AttachRefused(
            Refusal.NOT_ATTACHED,
            f"endpoint {endpoint_name} serves {current_name}, which `async-results attach` did not create "
            f"(no {PREVIOUS_CONFIG_TAG} tag): nothing to restore",
        )
    previous = sagemaker.describe_endpoint_config(EndpointConfigName=previous_name)
    diff = _diff(
        current_name,
        {"AsyncInferenceConfig": current.get("AsyncInferenceConfig")},
        previous_name,
        {"AsyncInferenceConfig": previous.get("AsyncInferenceConfig")},
    )
    return Plan(endpoint_name, current_name, previous_name, None, diff)


def apply(sagemaker: Any, plan: Plan, *, wait_seconds: float = 0, poll_seconds: float = 15) -> str:
    """Create the plan's config (if any) and swap the endpoint to it; returns the endpoint's status.

    With ``wait_seconds`` waits (polling ``DescribeEndpoint``) until the endpoint is back ``InService``.
    """
    if plan.new_config == plan.current_config:
        return str(sagemaker.describe_endpoint(EndpointName=plan.endpoint_name)["EndpointStatus"])
    if plan.create is not None:
        sagemaker.create_endpoint_config(**plan.create)
    sagemaker.update_endpoint(EndpointName=plan.endpoint_name, EndpointConfigName=plan.new_config)
    deadline = time.monotonic() + wait_seconds
    while True:
        status = str(sagemaker.describe_endpoint(EndpointName=plan.endpoint_name)["EndpointStatus"])
        if status != "Updating" or time.monotonic() >= deadline:
            return status
        time.sleep(poll_seconds)


def _in_service(sagemaker: Any, endpoint_name: str) -> dict[str, Any]:
    endpoint: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    status = endpoint.get("EndpointStatus", "InService")
    if status in _BUSY or status == "Failed":
        raise AttachRefused(
            Refusal.BUSY,
            f"endpoint {endpoint_name} is {status}: SageMaker updates only an InService endpoint; "
            "wait until it is InService (aws sagemaker wait endpoint-in-service "
            f"--endpoint-name {endpoint_name}) and try again",
        )
    return endpoint


def _execution_roles(sagemaker: Any, config: dict[str, Any]) -> list[str]:
    roles = [config["ExecutionRoleArn"]] if config.get("ExecutionRoleArn") else []
    for variant in config.get("ProductionVariants", []):
        if variant.get("ModelName"):
            role = sagemaker.describe_model(ModelName=variant["ModelName"]).get("ExecutionRoleArn")
            if role:
                roles.append(role)
    return list(dict.fromkeys(roles))


def _require_grants(
    sagemaker: Any, iam: Any, sns: Any, config: dict[str, Any], pipeline: PipelineOutputs
) -> None:
    problems: list[str] = []
    missing_all: list[MissingGrant] = []
    for role in _execution_roles(sagemaker, config):
        denials = topic_policy_denials(sns, role, pipeline) if sns is not None else []
        if denials:
            problems.append(
                "; ".join(denials)
                + f"\ngive {role} to the pipeline as an execution role (it adds the role to the topics' "
                "policies) and deploy the pipeline's stack again"
            )
        missing = missing_grants(iam, role, pipeline)
        if missing:
            missing_all += missing
            statements = json.dumps([m.statement for m in missing], indent=2)
            attach = (
                f"attach {pipeline.publisher_policy_arn} to it, or add"
                if pipeline.publisher_policy_arn
                else "add"
            )
            problems.append(
                f"execution role {role} lacks: "
                + "; ".join(m.describe() for m in missing)
                + f"\n{attach} these statements to one of its policies:\n{statements}"
            )
    if problems:
        raise AttachRefused(Refusal.MISSING_GRANTS, "\n".join(problems), missing_all)


def _create_arguments(sagemaker: Any, described: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``CreateEndpointConfig`` arguments that recreate ``described`` (a ``DescribeEndpointConfig``), and
    its tags.

    Kept: every member of the create call's input shape, recursively (so fields SageMaker adds to the
    description, such as ARNs and times, are dropped); tags are read separately and copied, except
    AWS's own and this module's.
    """
    model = sagemaker.meta.service_model.operation_model("CreateEndpointConfig").input_shape
    arguments = _only_members(described, model)
    tags = sagemaker.list_tags(ResourceArn=described["EndpointConfigArn"]).get("Tags", [])
    kept = [t for t in tags if t["Key"] != PREVIOUS_CONFIG_TAG and not t["Key"].startswith("aws:")]
    if kept:
        arguments["Tags"] = kept
    return arguments, {t["Key"]: t["Value"] for t in tags}


def _only_members(value: Any, shape: Any) -> Any:
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: _only_members(item, shape.members[key])
            for key, item in value.items()
            if key in shape.members and item not in (None, {})  # moto describes absent parts as {}
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_only_members(item, shape.member) for item in value]
    return value


def _config_name(current: str) -> str:
    now = time.time()
    suffix = f"-results-{time.strftime('%Y%m%d%H%M%S', time.gmtime(now))}{int(now * 1000) % 1000:03d}"
    base = current.split("-results-", 1)[0]
    return base[: _MAX_CONFIG_NAME - len(suffix)] + suffix


def _diff(before_name: str, before: dict[str, Any], after_name: str, after: dict[str, Any]) -> str:
    lines = difflib.unified_diff(
        json.dumps(before, indent=2, sort_keys=True).splitlines(),
        json.dumps(after, indent=2, sort_keys=True).splitlines(),
        fromfile=before_name,
        tofile=after_name,
        lineterm="",
    )
    return "\n".join(lines)
