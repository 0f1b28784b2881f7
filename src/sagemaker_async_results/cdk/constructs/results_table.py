"""DynamoDB table for result records and Powertools idempotency records."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.constructs._props import check, exclusive

__all__ = ["PARTITION_KEY", "TTL_ATTRIBUTE", "ResultsTable", "ResultsTableProps"]

#: docs/architecture.md contract.
PARTITION_KEY = contract.TABLE_PARTITION_KEY
TTL_ATTRIBUTE = contract.TABLE_TTL_ATTRIBUTE


@dataclass(frozen=True)
class ResultsTableProps:
    """Props of a new table. removal_policy: default ``RETAIN``."""

    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class ResultsTable(Construct):
    """On-demand table, partition key ``pk`` (string), TTL ``expiresAt``, point-in-time recovery, KMS CMK.

    Parameters
    ----------
    encryption_key: customer managed key; required when the table is created.
    existing_table: use this table instead (it must follow the same schema).
    table_props: default :class:`ResultsTableProps` ().
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        existing_table: dynamodb.ITable | None = None,
        table_props: ResultsTableProps | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        exclusive(problems, "existing_table", existing_table, "table_props", table_props)
        if existing_table is None and encryption_key is None:
            problems.append("encryption_key: required when the table is created")
        check("ResultsTable", problems)
        if existing_table is not None:
            self.table: dynamodb.ITable = existing_table
            return
        props = table_props or ResultsTableProps()
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            deletion_protection=props.removal_policy == RemovalPolicy.RETAIN,
            removal_policy=props.removal_policy,
        )

    #: Exactly what the runtime does: records (UpdateItem) and idempotency (Get/Put/Update/Delete).
    HANDLER_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
