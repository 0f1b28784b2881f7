"""What an endpoint's execution role needs to deliver results to the pipeline, and whether it has it.

SageMaker writes outputs and failures and publishes notifications with the endpoint's execution role:
without these grants the endpoint runs, but every result is lost to the pipeline (the write or the
publish fails, counted only in the endpoint metrics ``ResponseUploadFailures`` / ``NotificationFailures``).
"""

from __future__ import annotations

import fnmatch
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.adopt.pipeline import PipelineOutputs

#: Object key used to test S3 grants: SageMaker names outputs ``<inference id>.out``.
_SAMPLE_OBJECT = "00000000-0000-0000-0000-000000000000.out"


def execution_role_statements(pipeline: PipelineOutputs) -> list[dict[str, Any]]:
    """The IAM policy statements an endpoint's execution role needs (the publisher policy's content)."""
    s3 = f"arn:{pipeline.partition}:s3:::{pipeline.bucket}"
    statements: list[dict[str, Any]] = []
    if pipeline.input_prefix:  # clients of the pipeline upload inputs there (SageMaker reads them)
        statements.append(
            {
                "Sid": "ReadAsyncInferenceInputs",
                "Effect": "Allow",
                "Action": ["s3:GetObject"],
                "Resource": [f"{s3}/{pipeline.input_prefix}*"],
            }
        )
    statements += [
        {
            "Sid": "WriteAsyncInferenceResults",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{s3}/{pipeline.output_prefix}*", f"{s3}/{pipeline.failure_prefix}*"],
        },
        {
            "Sid": "PublishAsyncInferenceNotifications",
            "Effect": "Allow",
            "Action": ["sns:Publish"],
            "Resource": [pipeline.success_topic_arn, pipeline.error_topic_arn],
        },
    ]
    if pipeline.encryption_key_arn:
        statements.append(
            {
                "Sid": "UseResultsKey",
                "Effect": "Allow",
                "Action": list(contract.KMS_USE_ACTIONS),
                "Resource": [pipeline.encryption_key_arn],
            }
        )
    return statements


@dataclass(frozen=True)
class MissingGrant:
    """A statement the role lacks (whole or in part): the actions/resources it does not allow."""

    statement: dict[str, Any]
    denied: tuple[tuple[str, str], ...]

    def describe(self) -> str:
        pairs = ", ".join(f"{action} on {resource}" for action, resource in self.denied)
        return f"{self.statement['Sid']}: not allowed {pairs}"


def missing_grants(iam: Any, role_arn: str, pipeline: PipelineOutputs) -> list[MissingGrant]:
    """The statements of :func:`execution_role_statements` that the role's policies do not allow.

    Reads the role's inline and attached managed policies. A pair is allowed when an ``Allow`` statement
    matches its action and resource (wildcards as IAM matches them) and no ``Deny`` does. Conditions,
    permission boundaries, SCPs and resource policies are not evaluated: a role that passes may still
    be refused by those, one that fails is certainly missing a grant.
    """
    documents = role_policy_documents(iam, role_arn)
    missing = []
    for statement in execution_role_statements(pipeline):
        denied = tuple(
            (action, resource)
            for action in statement["Action"]
            for resource in statement["Resource"]
            if not allows(documents, action, _sample(resource))
        )
        if denied:
            missing.append(MissingGrant(statement, denied))
    return missing


def role_policy_documents(iam: Any, role_arn: str) -> list[dict[str, Any]]:
    """The role's inline and attached managed policy documents (decoded)."""
    name = role_arn.rsplit("/", 1)[-1]
    documents: list[Any] = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
        for policy in page.get("PolicyNames", []):
            documents.append(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
        for attached in page.get("AttachedPolicies", []):
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            documents.append(
                iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            )
    return [json.loads(urllib.parse.unquote(d)) if isinstance(d, str) else d for d in documents]


def allows(documents: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Whether ``documents`` allow ``action`` on ``resource`` with no explicit deny (see above)."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _matches(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    def listed(key: str) -> list[str] | None:
        value = statement.get(key)
        return None if value is None else [value] if isinstance(value, str) else list(value)

    actions, not_actions = listed("Action"), listed("NotAction")
    resources, not_resources = listed("Resource"), listed("NotResource")
    if actions is not None:
        action_ok = any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)
    else:
        action_ok = not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in not_actions or [])
    if resources is not None:
        resource_ok = any(fnmatch.fnmatchcase(resource, r) for r in resources)
    else:
        resource_ok = not any(fnmatch.fnmatchcase(resource, r) for r in not_resources or [])
    return action_ok and resource_ok


def _sample(resource: str) -> str:
    """A concrete resource for a statement resource ending in ``*`` (an object SageMaker would write)."""
    return resource[:-1] + _SAMPLE_OBJECT if resource.endswith("*") else resource


#: Condition operators on ``aws:PrincipalArn`` that exempt the principals they list from a ``Deny``.
_EXEMPTING = {"ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike"}


def topic_policy_denials(sns: Any, role_arn: str, pipeline: PipelineOutputs) -> list[str]:
    """The pipeline topics whose resource policy denies ``role_arn`` ``sns:Publish`` (one line each).

    A topic policy may deny every publisher but the execution roles the pipeline was given (the
    constructs write such a ``Deny``): an identity grant does not override it. Only a ``Deny`` whose
    conditions are all ``aws:PrincipalArn`` exemptions is evaluated; other conditions are not judged.
    """
    denials = []
    for topic in dict.fromkeys([pipeline.success_topic_arn, pipeline.error_topic_arn]):
        policy = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("Policy")
        if not policy:
            continue
        statements = json.loads(policy).get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if statement.get("Effect") != "Deny" or not _matches(statement, "sns:Publish", topic):
                continue
            if _everyone(statement.get("Principal")) and _denies(statement.get("Condition", {}), role_arn):
                sid = statement.get("Sid", "(no Sid)")
                denials.append(f"topic {topic}: its policy statement {sid} denies sns:Publish to {role_arn}")
    return denials


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    values = principal.get("AWS") if isinstance(principal, dict) else None
    return values == "*" or (isinstance(values, list) and "*" in values)


def _denies(conditions: dict[str, Any], role_arn: str) -> bool:
    """Whether a ``Deny`` with these conditions applies to ``role_arn`` (unknown conditions: it does not)."""
    for operator, tests in conditions.items():
        if operator not in _EXEMPTING:
            return False
        for key, values in tests.items():
            if key.lower() != "aws:principalarn":
                return False
            listed = [values] if isinstance(values, str) else list(values)
            if any(fnmatch.fnmatchcase(role_arn, value) for value in listed):
                return False  # the role is exempt
    return True
