"""Reply queues: the callers' own SQS queues the functions send each result to, and their sweeper.

Nothing per caller is created here (each client process creates its own queue at its first submit);
this destination names the prefix those queues share, grants the result-handler functions
``sqs:SendMessage`` on exactly the queues of that prefix and ``dynamodb:BatchGetItem`` on the results
table (the ``replyTo`` of a batch's Submitted records), deploys the scheduled sweeper that deletes the
queues of killed callers, and a managed policy with what a caller's IAM principal needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_dynamodb import ITable
from constructs import Construct, IConstruct

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.constructs._nag import (
    acknowledge,
    acknowledge_checkov,
    acknowledge_iam5_resource,
)
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.result_handler import (
    CHECKOV_FUNCTION_REASONS,
    LOG_GROUP_KMS_REASON,
    RUNTIME,
)
from sagemaker_async_results.cdk.constructs.results_table import ResultsTable
from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations import reply_queue_sweeper
from sagemaker_async_results.runtime.destinations.reply_queue_sweeper import EXPIRY_ENV, PREFIX_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = [
    "OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN",
    "OUTPUT_REPLY_QUEUE_KEY_ARN",
    "OUTPUT_REPLY_QUEUE_PREFIX",
    "ReplyQueueDestination",
]

#: Stack outputs the client reads (names shared with ``client.resources``).
OUTPUT_REPLY_QUEUE_PREFIX = contract.OUTPUT_REPLY_QUEUE_PREFIX
OUTPUT_REPLY_QUEUE_KEY_ARN = contract.OUTPUT_REPLY_QUEUE_KEY_ARN
#: Managed policy to attach to the callers' roles (create, heartbeat, receive from, delete their queue).
OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN = contract.OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN
#: What a caller does with its own queue (``client.sources.reply_queue``). No ``sqs:DeleteMessage``: a
#: received reply stays invisible until it expires (60 s retention, a longer visibility timeout).
CALLER_QUEUE_ACTIONS = (
    "sqs:CreateQueue",
    "sqs:SetQueueAttributes",
    "sqs:TagQueue",
    "sqs:ReceiveMessage",
    "sqs:DeleteQueue",
)
#: SQS names: at most 80 characters, of which the client's suffix takes 32 hex digits.
MAX_PREFIX_LENGTH = 48


def _results_table(scope: Construct) -> ITable | None:
    """The results table of the construct this destination is bound under (its nearest ancestor's)."""
    node: IConstruct | None = scope
    while node is not None:
        for child in node.node.find_all():
            if isinstance(child, ResultsTable):
                return child.table
        node = node.node.scope
    return None


class ReplyQueueDestination:
    """Send each result to its caller's own reply queue (the default push of the client).

    Parameters
    ----------
    enabled:
        Default True (a pipeline binds one unless given one). ``False``: no reply queues; callers read
        the result store (``ReplyQueueDestination(enabled=False)`` switches the default off).
    prefix:
        Name prefix of the reply queues (at most 48 characters: letters, digits, ``-``, ``_``).
        Default: derived from the construct's path and the stack (unique per construct and stack).
    table:
        The results table holding the Submitted records. Default: the table of the construct this
        destination is bound under.
    expiry:
        A queue whose heartbeat (refreshed every 5 minutes by its live client) is older than this is
        deleted by the sweeper; default 15 minutes. At least 10 minutes.
    sweep_every:
        The sweeper's schedule; default 5 minutes. A killed caller's queue is gone within
        ``expiry + sweep_every`` (+ up to 60 s for SQS to delete it).
    """

    construct_id = "ReplyQueues"

    def __init__(
        self,
        *,
        enabled: bool = True,
        prefix: str | None = None,
        table: ITable | None = None,
        expiry: Duration | None = None,
        sweep_every: Duration | None = None,
    ) -> None:
        problems: list[str] = []
        if prefix is not None and (
            not 1 <= len(prefix) <= MAX_PREFIX_LENGTH
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in prefix)
        ):
            problems.append(
                f"prefix: expected 1-{MAX_PREFIX_LENGTH} letters, digits, '-' or '_', received {prefix!r}"
            )
        expiry = expiry or Duration.minutes(15)
        if expiry.to_seconds() < 600:
            problems.append(f"expiry: expected at least 10 minutes (two heartbeats), received {expiry}")
        check("ReplyQueueDestination", problems)
        self.enabled = enabled
        self.prefix = prefix
        self.table = table
        self.expiry = expiry
        self.sweep_every = sweep_every or Duration.minutes(5)
        self.sweeper: lambda_.Function | None = None
        self.caller_policy: iam.ManagedPolicy | None = None
        self._caller_statements: list[iam.PolicyStatement] = []
        self._queues = ""

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> ReplyQueueDestination:
        """On unless ``destinations.replyQueues.enabled`` is false (then bound disabled, so that the
        pipeline does not add its default one): the store stays the safety net and serves other callers."""
        section = config.reply_queues
        return cls(enabled=section.enabled, expiry=Duration.minutes(section.expiry_minutes))

    def queue_prefix(self, scope: Construct) -> str:
        """The prefix: given, or the stack's name and a hash of the construct's path."""
        if self.prefix is not None:
            return self.prefix
        stack = Stack.of(scope)
        digest = hashlib.sha256(Names.unique_id(scope).encode()).hexdigest()[:8]
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in stack.stack_name)
        return f"{name[: MAX_PREFIX_LENGTH - 14]}-{digest}-rq-"

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        if not self.enabled:
            return DestinationBinding()
        table = self.table or _results_table(scope)
        if table is None:
            raise ValueError(
                "ReplyQueueDestination: no results table found above "
                f"{scope.node.path}; expected table= (the table holding the Submitted records)"
            )
        prefix = self.queue_prefix(scope)
        stack = Stack.of(scope)
        queues = stack.format_arn(service="sqs", resource=f"{prefix}*")
        for function in functions:
            function.add_to_role_policy(
                iam.PolicyStatement(sid="SendReplies", actions=["sqs:SendMessage"], resources=[queues])
            )
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadReplyTo", actions=["dynamodb:BatchGetItem"], resources=[table.table_arn]
                )
            )
            function.add_environment(PREFIX_ENV, prefix)
            policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
            if policy is not None:
                acknowledge_iam5_resource(
                    policy, queues, "the callers' own reply queues: created by each client, named by prefix"
                )
        self.sweeper = self._sweeper(scope, prefix, queues)
        self.caller_policy = self._caller_policy(scope, queues, encryption_key)
        return DestinationBinding(
            outputs={
                OUTPUT_REPLY_QUEUE_PREFIX: prefix,
                OUTPUT_REPLY_QUEUE_KEY_ARN: encryption_key.key_arn,
                OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN: self.caller_policy.managed_policy_arn,
            }
        )

    def _sweeper(self, scope: Construct, prefix: str, queues: str) -> lambda_.Function:
        """The scheduled function deleting expired reply queues (inline code: stdlib + boto3)."""
        role = iam.Role(
            scope,
            "SweeperRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reply-queue sweeper (least privilege, no managed policies)",
        )
        log_group = logs.LogGroup(
            scope, "SweeperLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        log_group.grant_write(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(sid="ListReplyQueues", actions=["sqs:ListQueues"], resources=["*"])
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SweepReplyQueues",
                actions=["sqs:ListQueueTags", "sqs:GetQueueAttributes", "sqs:DeleteQueue"],
                resources=[queues],
            )
        )
        sweeper = lambda_.Function(
            scope,
            "Sweeper",
            # The result handlers' Python, declared able to run inline code (CloudFormation's ZipFile).
            runtime=lambda_.Runtime(RUNTIME.name, lambda_.RuntimeFamily.PYTHON, supports_inline_code=True),
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_inline(Path(reply_queue_sweeper.__file__).read_text()),
            role=role,
            timeout=Duration.minutes(2),
            memory_size=128,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={PREFIX_ENV: prefix, EXPIRY_ENV: str(int(self.expiry.to_seconds()))},
            description="Deletes reply queues whose caller stopped its heartbeat",
        )
        events.Rule(
            scope,
            "SweepSchedule",
            schedule=events.Schedule.rate(self.sweep_every),
            targets=[targets.LambdaFunction(sweeper, retry_attempts=0)],
        )
        for check_id, reason in CHECKOV_FUNCTION_REASONS.items():
            acknowledge_checkov(sweeper, check_id, reason)
        acknowledge_checkov(log_group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
        policy = role.node.try_find_child("DefaultPolicy")
        assert policy is not None
        acknowledge(policy, "IAM5[Resource::*]", "sqs:ListQueues has no resource type (filtered by prefix)")
        acknowledge_iam5_resource(policy, queues, "only the reply queues of this stack's prefix")
        return sweeper

    def add_caller_statements(self, policy: iam.ManagedPolicy) -> None:
        """Put the caller policy's statements in another managed policy too (the client policy, so that
        one policy is all a caller needs)."""
        if self.caller_policy is None:
            return  # disabled, or not bound yet
        policy.add_statements(*self._caller_statements)
        acknowledge_iam5_resource(
            policy, self._queues, "each caller creates its own queue of the stack's prefix"
        )

    def grant_caller(self, grantee: iam.IGrantable) -> None:
        """Give a caller's principal the caller policy's statements (its own reply queue and the key)."""
        if self.caller_policy is None:
            return  # disabled, or not bound yet: no reply queues to grant
        for statement in self._caller_statements:
            grantee.grant_principal.add_to_principal_policy(statement)

    def _caller_policy(self, scope: Construct, queues: str, key: kms.IKey) -> iam.ManagedPolicy:
        """What a caller's principal needs for its reply queue (the results table and bucket aside)."""
        self._queues = queues
        self._caller_statements = [
            iam.PolicyStatement(sid="OwnReplyQueue", actions=list(CALLER_QUEUE_ACTIONS), resources=[queues]),
            iam.PolicyStatement(
                sid="ReplyQueueKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            ),
        ]
        policy = iam.ManagedPolicy(
            scope,
            "CallerPolicy",
            description="Create, heartbeat, receive from and delete the caller's own reply queue",
            statements=self._caller_statements,
        )
        acknowledge_iam5_resource(policy, queues, "each caller creates its own queue of the stack's prefix")
        return policy
