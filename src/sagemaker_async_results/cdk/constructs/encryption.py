"""The customer managed KMS key shared by the bucket, topics, queues and table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from sagemaker_async_results.cdk.constructs._props import check, exclusive
from sagemaker_async_results.contract import KMS_SERVICE_ACTIONS

__all__ = ["KEY_USE_ACTIONS", "EncryptionKey", "EncryptionKeyProps"]

#: Exact key actions the data-plane principals need (no wildcards): S3 SSE-KMS reads and writes, SNS and
#: SQS server-side encryption, DynamoDB with a customer managed key.
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")


@dataclass(frozen=True)
class EncryptionKeyProps:
    """Props of a new key.

    Attributes
    ----------
    alias: optional alias (without ``alias/``); default none.
    description: default "SageMaker async inference results".
    pending_window_days: deletion waiting period; default 30.
    removal_policy: default ``RETAIN`` (data encrypted with it may outlive the stack).
    """

    alias: str | None = None
    description: str = "SageMaker async inference results"
    pending_window_days: int = 30
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class EncryptionKey(Construct):
    """A KMS customer managed key with rotation, or an existing key.

    The key policy keeps CDK's default (the account root administers the key, which delegates to IAM),
    so the roles of the pipeline are granted the key by their identity policies (:meth:`allow_use`):
    a key policy naming roles created in the same deployment can be refused by KMS while IAM has not
    yet made the new principals visible, and identity grants are enough within the account. The key
    policy names AWS services only, each with the narrowest condition that creates no reference cycle:
    SNS for the given topics (:meth:`allow_sns_delivery`: SNS encrypts what it delivers to encrypted
    queues), and the services given to :meth:`allow_service` (CloudWatch publishing alarms to an
    encrypted topic, S3 sending event notifications to an encrypted queue).

    Example
    -------
    >>> key = EncryptionKey(stack, "Key")  # doctest: +SKIP
    >>> key.allow_use(role)  # doctest: +SKIP
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        existing_key: kms.IKey | None = None,
        key_props: EncryptionKeyProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        exclusive(problems, "existing_key", existing_key, "key_props", key_props)
        props = key_props or EncryptionKeyProps()
        if not 7 <= props.pending_window_days <= 30:
            problems.append(f"pending_window_days: expected 7-30, received {props.pending_window_days}")
        check("EncryptionKey", problems)

        self._created: kms.Key | None = None
        if existing_key is not None:
            self.key: kms.IKey = existing_key
        else:
            self._created = kms.Key(
                self,
                "Key",
                description=props.description,
                enable_key_rotation=True,
                pending_window=Duration.days(props.pending_window_days),
                removal_policy=props.removal_policy,
                alias=props.alias,
            )
            self.key = self._created
        self._services: set[str] = set()
        self._sns_sources: list[str] = []
        self._sns_statement: iam.PolicyStatement | None = None

    @property
    def created(self) -> bool:
        """True when this construct created the key (its policy can be edited)."""
        return self._created is not None

    def allow_use(self, *grantees: iam.IGrantable) -> None:
        """Let each grantee use the key for encryption and decryption (exact actions, identity policy)."""
        for grantee in grantees:
            self.key.grant(grantee, *KEY_USE_ACTIONS)

    def allow_sns_delivery(self, topic_arns: Sequence[str]) -> None:
        """Let SNS encrypt messages it delivers to encrypted SQS queues, only for the given source topics.

        Every topic whose subscriptions deliver to a queue encrypted with this key (or dead-letter to one)
        must be named: SNS uses the key as its service principal with the topic as ``aws:SourceArn``.
        Calls add to one statement. ``topic_arns`` may contain ``*`` patterns (matched with ``ArnLike``);
        they must not be tokens of topics encrypted with this key (that would be a circular reference):
        pass ARNs built from names (or a name pattern).
        """
        if self._created is None or not topic_arns:
            return
        self._sns_sources.extend(arn for arn in topic_arns if arn not in self._sns_sources)
        if self._sns_statement is None:
            self._sns_statement = iam.PolicyStatement(
                sid="AllowSnsDeliveryToEncryptedQueues",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=list(KMS_SERVICE_ACTIONS),
                resources=["*"],
            )
            self._created.add_to_resource_policy(self._sns_statement)
        # Replaces the condition's value with every source so far (the statement is rendered at synth).
        self._sns_statement.add_condition("ArnLike", {"aws:SourceArn": list(self._sns_sources)})

    def allow_service(
        self,
        sid: str,
        service: str,
        conditions: Mapping[str, Any] | None = None,
        actions: Sequence[str] = KMS_SERVICE_ACTIONS,
    ) -> None:
        """Let an AWS service encrypt and decrypt with the key (default ``kms:GenerateDataKey``, ``kms:Decrypt``).

        Once per ``sid``; a no-op for an existing key, whose policy is the owner's (see docs/security.md).
        ``actions`` follows the form the service's documentation gives (CloudWatch alarms publishing to an
        encrypted topic: ``kms:GenerateDataKey*``, ``kms:Decrypt``).
        """
        if self._created is None or sid in self._services:
            return
        self._services.add(sid)
        self._created.add_to_resource_policy(
            iam.PolicyStatement(
                sid=sid,
                principals=[iam.ServicePrincipal(service)],
                actions=list(actions),
                resources=["*"],  # in a key policy, "*" means this key
                conditions=dict(conditions) if conditions else None,
            )
        )
