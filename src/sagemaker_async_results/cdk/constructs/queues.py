"""Secure SQS queue defaults shared by delivery and destinations."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

__all__ = ["DEAD_LETTER_RETENTION", "SOURCE_RETENTION", "secure_queue"]

#: Retention of a queue without a dead-letter queue of its own (dead-letter queues): SQS's maximum.
DEAD_LETTER_RETENTION = Duration.days(14)
#: Retention of a queue that has a dead-letter queue. SQS keeps a message's original enqueue time when it
#: moves it to the dead-letter queue, so the dead-letter queue must keep messages longer than the source:
#: a message moved on its source's last day still has a week in the dead-letter queue.
SOURCE_RETENTION = Duration.days(7)


def secure_queue(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    retention: Duration | None = None,
) -> sqs.Queue:
    """A queue encrypted with the customer managed key, SSL only.

    ``retention`` defaults to :data:`SOURCE_RETENTION` (7 days) for a queue with a dead-letter queue and to
    :data:`DEAD_LETTER_RETENTION` (14 days, SQS's maximum) for any other, so that every dead-letter queue
    keeps messages longer than its source.
    """
    if retention is None:
        retention = SOURCE_RETENTION if dead_letter_queue is not None else DEAD_LETTER_RETENTION
    dead_letter = dead_letter_queue.queue.node.default_child if dead_letter_queue is not None else None
    kept = dead_letter.message_retention_period if isinstance(dead_letter, sqs.CfnQueue) else None
    if isinstance(kept, int | float) and kept <= retention.to_seconds():
        raise ValueError(
            f"{construct_id}: expected a retention shorter than its dead-letter queue's ({kept} s), "
            f"received {int(retention.to_seconds())} s"
        )
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
