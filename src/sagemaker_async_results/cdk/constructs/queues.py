"""Secure SQS queue defaults shared by delivery and destinations."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

__all__ = ["secure_queue"]

_FOURTEEN_DAYS = Duration.days(14)


def secure_queue(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    retention: Duration = _FOURTEEN_DAYS,
) -> sqs.Queue:
    """A queue encrypted with the customer managed key, SSL only, 14-day retention by default."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=encryption_key,
        data_key_reuse=Duration.minutes(5),
        enforce_ssl=True,
        retention_period=retention,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
    )
