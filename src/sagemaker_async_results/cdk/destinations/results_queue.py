"""SQS: a KMS-encrypted results queue (with its own dead-letter queue) the functions may send to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_async_results.cdk.constructs.queues import secure_queue
from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations.sqs import QUEUE_URL_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["OUTPUT_RESULTS_QUEUE_URL", "ResultsQueueDestination"]

#: Stack output naming the results queue consumers read.
OUTPUT_RESULTS_QUEUE_URL = "ResultsQueueUrl"


class ResultsQueueDestination:
    """Send every result record to a results queue.

    Parameters
    ----------
    existing_queue: send to this queue instead of creating one (its key use is yours to grant).
    max_receive_count: consumer receives before a message moves to the created dead-letter queue;
        default 5.
    """

    construct_id = "ResultsQueue"

    def __init__(self, *, existing_queue: sqs.IQueue | None = None, max_receive_count: int = 5) -> None:
        self.existing_queue = existing_queue
        self.max_receive_count = max_receive_count
        self.queue: sqs.IQueue | None = None

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> ResultsQueueDestination | None:
        return cls() if config.sqs.enabled else None

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        dead_letter_queues: dict[str, sqs.IQueue] = {}
        if self.existing_queue is not None:
            queue = self.existing_queue
        else:
            dead_letter_queue = secure_queue(scope, "DeadLetterQueue", encryption_key=encryption_key)
            queue = secure_queue(
                scope,
                "Queue",
                encryption_key=encryption_key,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=dead_letter_queue, max_receive_count=self.max_receive_count
                ),
            )
            dead_letter_queues["Results"] = dead_letter_queue
        self.queue = queue
        for function in functions:
            # Exactly SendMessage: grant_send_messages would add wildcard KMS actions; the functions
            # already use the key with exact actions.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="SendResults", actions=["sqs:SendMessage"], resources=[queue.queue_arn]
                )
            )
            function.add_environment(QUEUE_URL_ENV, queue.queue_url)
        return DestinationBinding(
            outputs={OUTPUT_RESULTS_QUEUE_URL: queue.queue_url}, dead_letter_queues=dead_letter_queues
        )
