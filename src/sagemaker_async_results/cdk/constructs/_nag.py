"""Acknowledging cdk-nag findings that a construct causes by design (no cdk-nag import needed).

Each acknowledgement names one rule and, for IAM5, one exact action or resource, on the narrowest
construct (usually the policy resource) and carries its reason.
"""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

__all__ = ["acknowledge", "acknowledge_checkov", "acknowledge_iam5_resource", "nag_text"]


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one AwsSolutions finding (``"SQS3"``, ``"IAM5[Resource::*]"``) on ``scope`` and below."""
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=f"AwsSolutions::AwsSolutions-{rule}", reason=reason)
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Fn::Join":
            return str(arg[0]).join(_text(part) for part in arg[1])
        if name == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if name == "Ref":
            return f"<{arg}>"
    return json.dumps(value, sort_keys=True)


def nag_text(scope: IConstruct, value: str) -> str:
    """How cdk-nag prints a (possibly tokenized) string in a finding id, e.g. ``<Bucket123.Arn>/in/*``."""
    return _text(cdk.Stack.of(scope).resolve(value))


def acknowledge_iam5_resource(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge the IAM5 finding of exactly one wildcard resource (given as in the policy)."""
    acknowledge(scope, f"IAM5[Resource::{nag_text(scope, resource)}]", reason)


def acknowledge_checkov(resource: IConstruct, check_id: str, reason: str) -> None:
    """Acknowledge one checkov finding on one CloudFormation resource, with its reason.

    checkov reads ``Metadata.checkov.skip`` (``[{id, comment}]``) of a resource in a CloudFormation
    template; the reason travels with the template, as cdk-nag's acknowledgements do. ``resource`` is
    the ``CfnResource`` or a construct whose default child is one.
    """
    cfn = resource if isinstance(resource, cdk.CfnResource) else resource.node.default_child
    if not isinstance(cfn, cdk.CfnResource):
        raise TypeError(
            f"{resource.node.path}: expected a CloudFormation resource to acknowledge {check_id} on"
        )
    current = cfn.get_metadata("checkov") or {}
    skips = [s for s in current.get("skip", []) if s.get("id") != check_id]
    cfn.add_metadata("checkov", {**current, "skip": [*skips, {"id": check_id, "comment": reason}]})
