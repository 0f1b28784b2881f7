"""What a client of the pipeline (a notebook, a service, the CLI) may do: exactly the calls the client library
makes, on the pipeline's own resources.

A client submits with ``sagemaker:InvokeEndpointAsync`` after uploading its input under the input prefix,
records and awaits the request in the result store, reads the result or failure object, and may read the
results queue or stream. :class:`ClientAccess` holds those resources and grants them: to a principal of
the same app (:meth:`ClientAccess.grant`, e.g. a task role) or as a managed policy a role outside the app
attaches (:meth:`ClientAccess.managed_policy`, named by a stack output).

Each statement names exact actions; the key may be used only through the services that hold data under
it (``kms:ViaService``: S3, DynamoDB, SQS, Kinesis), so a client cannot decrypt anything else with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct, IConstruct

from sagemaker_async_results.cdk.constructs._nag import acknowledge_iam5_resource

__all__ = ["CLIENT_KEY_SERVICES", "ClientAccess"]

#: Services through which a client uses the key: S3 objects, the result store, the results queue and stream.
CLIENT_KEY_SERVICES = ("s3", "dynamodb", "sqs", "kinesis")
#: What the client library calls on the result store (records a submission, reads one or many records).
TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem")
#: Reading the results queue (long polling, then deleting what was handled).
QUEUE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
#: Reading the results stream shard by shard.
STREAM_ACTIONS = (
    "kinesis:ListShards",
    "kinesis:GetShardIterator",
    "kinesis:GetRecords",
    "kinesis:DescribeStreamSummary",
)


class ClientAccess:
    """The statements a client needs, and the ways to give them.

    Parameters
    ----------
    scope: where ARNs are formatted (the pipeline).
    bucket, input_prefix, output_prefix, failure_prefix: where inputs are uploaded and results read.
    keys: customer managed keys of the bucket, table, queue and stream (created or existing); default none.
    table: the result store; default none (a pipeline without one).
    results_queues, results_streams: results delivery the client reads; default none.
    endpoint_names: endpoints the client may invoke; more with :meth:`add_endpoint`.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        bucket: s3.IBucket,
        input_prefix: str,
        output_prefix: str,
        failure_prefix: str,
        keys: Sequence[kms.IKey] = (),
        table: dynamodb.ITable | None = None,
        results_queues: Sequence[sqs.IQueue] = (),
        results_streams: Sequence[kinesis.IStream] = (),
        endpoint_names: Sequence[str] = (),
    ) -> None:
        self._scope = scope
        stack = Stack.of(scope)
        self._targets: list[iam.IGrantable | iam.ManagedPolicy] = []
        self._endpoints: list[str] = []
        self.invoke = iam.PolicyStatement(sid="InvokeEndpoints", actions=["sagemaker:InvokeEndpointAsync"])
        self.wildcard_resources = [
            bucket.arn_for_objects(f"{input_prefix}*"),
            bucket.arn_for_objects(f"{output_prefix}*"),
            bucket.arn_for_objects(f"{failure_prefix}*"),
        ]
        self.statements: list[iam.PolicyStatement] = [
            iam.PolicyStatement(
                sid="UploadInputs", actions=["s3:PutObject"], resources=[self.wildcard_resources[0]]
            ),
            iam.PolicyStatement(
                sid="ReadResults", actions=["s3:GetObject"], resources=self.wildcard_resources[1:]
            ),
        ]
        if table is not None:
            self.statements.append(
                iam.PolicyStatement(
                    sid="ResultStore", actions=list(TABLE_ACTIONS), resources=[table.table_arn]
                )
            )
        if results_queues:
            self.statements.append(
                iam.PolicyStatement(
                    sid="ReadResultsQueue",
                    actions=list(QUEUE_ACTIONS),
                    resources=[q.queue_arn for q in results_queues],
                )
            )
        if results_streams:
            self.statements.append(
                iam.PolicyStatement(
                    sid="ReadResultsStream",
                    actions=list(STREAM_ACTIONS),
                    resources=[s.stream_arn for s in results_streams],
                )
            )
        key_arns = list(dict.fromkeys(k.key_arn for k in keys))

        def through(*services: str) -> dict[str, Any]:
            return {
                "StringEquals": {
                    "kms:ViaService": [f"{s}.{stack.region}.{stack.url_suffix}" for s in services]
                }
            }

        if key_arns:
            self.statements.append(
                iam.PolicyStatement(
                    sid="UseKeyThroughItsServices",
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=key_arns,
                    conditions=through(*CLIENT_KEY_SERVICES),
                )
            )
        if key_arns and table is not None:
            # Writes to a table encrypted with a customer managed key: the same key actions the functions
            # hold (DynamoDB's documented key permissions for such tables include kms:Encrypt).
            self.statements.append(
                iam.PolicyStatement(
                    sid="UseKeyThroughDynamoDB",
                    actions=["kms:Encrypt", "kms:DescribeKey"],
                    resources=key_arns,
                    conditions=through("dynamodb"),
                )
            )
        for name in endpoint_names:
            self.add_endpoint(name)

    def _endpoint_arn(self, name: str) -> str:
        # SageMaker endpoint ARNs carry the name in lower case.
        resource_name = name if Token.is_unresolved(name) else name.lower()
        return Stack.of(self._scope).format_arn(
            service="sagemaker",
            resource="endpoint",
            resource_name=resource_name,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def add_endpoint(self, name: str) -> None:
        """Let every grantee (and the managed policy) invoke one more endpoint."""
        if name in self._endpoints:
            return
        self._endpoints.append(name)
        self.invoke.add_resources(self._endpoint_arn(name))
        if len(self._endpoints) == 1:
            for target in self._targets:
                self._add(target, [self.invoke])

    def _all(self) -> list[iam.PolicyStatement]:
        return [self.invoke, *self.statements] if self._endpoints else list(self.statements)

    @staticmethod
    def _add(target: iam.IGrantable | iam.ManagedPolicy, statements: list[iam.PolicyStatement]) -> None:
        if isinstance(target, iam.ManagedPolicy):
            target.add_statements(*statements)
            return
        for statement in statements:
            target.grant_principal.add_to_principal_policy(statement)

    def grant(self, grantee: iam.IGrantable) -> None:
        """Give ``grantee`` (a role, a function, a task definition's role) what a client needs."""
        self._targets.append(grantee)
        self._add(grantee, self._all())
        if isinstance(grantee, Construct):
            self._acknowledge(grantee)

    def managed_policy(
        self, scope: Construct, construct_id: str, *, name: str | None = None
    ) -> iam.ManagedPolicy:
        """A customer managed policy with what a client needs (attach it to a role outside the app)."""
        policy = iam.ManagedPolicy(
            scope,
            construct_id,
            managed_policy_name=name,
            description="Client of the async inference results pipeline: submit, upload inputs, read results",
        )
        self._targets.append(policy)
        self._add(policy, self._all())
        self._acknowledge(policy)
        return policy

    def _acknowledge(self, scope: IConstruct) -> None:
        for resource in self.wildcard_resources:
            acknowledge_iam5_resource(
                scope,
                resource,
                "a client uploads and reads objects under exactly one prefix each (objects are "
                "named by request)",
            )
