"""How SNS notifications reach a result-handler function: ``direct`` or ``buffered``.

- ``direct``: SNS -> Lambda subscription. SNS retries, then sends to the subscription dead-letter
  queue; Lambda's asynchronous invocation retries twice, then sends the invocation record to the same
  queue (on-failure destination). Nothing is dropped after retries.
- ``buffered``: SNS -> SQS -> Lambda with batching and partial batch responses; messages that keep
  failing move to a redrive dead-letter queue after ``max_receive_count`` receives (default 5: AWS
  advises at least 5, so that a batch failed by throttling is not dead-lettered). The SNS -> SQS
  subscription has the same dead-letter queue: SNS discards a message it cannot deliver to the queue
  (delivery policy exhausted, or refused after a key or queue policy change) unless the subscription
  names one. Both paths put the SNS envelope there, so one redrive to the queue serves both. The subscription
  does *not* use raw message delivery: every SQS body is the SNS envelope (``Type``, ``MessageId``,
  ``TopicArn``, ``Message`` ...), the same notification shape the direct mode hands over.
"""

from __future__ import annotations

from typing import Literal

import jsii
from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_async_results.cdk.constructs._nag import acknowledge
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.queues import secure_queue

__all__ = ["BufferedDelivery", "DeliveryMode", "DirectDelivery", "QueueOnFailureDestination", "deliver"]

DeliveryMode = Literal["direct", "buffered"]
_ONE_SECOND = Duration.seconds(1)
_SIX_HOURS = Duration.hours(6)


@jsii.implements(lambda_.IDestination)
class QueueOnFailureDestination:
    """Lambda on-failure destination granting exactly ``sqs:SendMessage`` on the queue.

    ``aws_lambda_destinations.SqsDestination`` grants ``grant_send_messages``, which adds wildcard KMS
    actions (``kms:GenerateDataKey*``, ``kms:ReEncrypt*``); the key use is granted separately.
    """

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(
        self, _scope: Construct, fn: lambda_.IFunction, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendToDeadLetterQueue", actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]
            )
        )
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


class DirectDelivery(Construct):
    """SNS -> Lambda, with one dead-letter queue per function for both failure paths.

    Parameters
    ----------
    topic, function, encryption_key: what is connected, and the key of the dead-letter queue.
    retry_attempts: Lambda async retries; default 2.
    max_event_age: how long Lambda keeps retrying an event; default 6 hours.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        function: lambda_.IFunction,
        encryption_key: kms.IKey,
        retry_attempts: int = 2,
        max_event_age: Duration = _SIX_HOURS,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if not 0 <= retry_attempts <= 2:
            problems.append(f"retry_attempts: expected 0-2, received {retry_attempts}")
        check("DirectDelivery", problems)
        self.dead_letter_queue = secure_queue(self, "DeadLetterQueue", encryption_key=encryption_key)
        acknowledge(
            self.dead_letter_queue,
            "SQS3",
            "this queue is the dead-letter queue of the SNS subscription (RedrivePolicy) and the Lambda "
            "on-failure destination; cdk-nag only recognizes dead-letter queues named in an SQS RedrivePolicy",
        )
        self.queue: sqs.IQueue | None = None
        topic.add_subscription(subs.LambdaSubscription(function, dead_letter_queue=self.dead_letter_queue))
        lambda_.EventInvokeConfig(
            self,
            "AsyncInvokeConfig",
            function=function,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_failure=QueueOnFailureDestination(self.dead_letter_queue),
        )


class BufferedDelivery(Construct):
    """SNS -> SQS (SNS envelope, not raw) -> Lambda with batching and partial batch responses.

    Parameters
    ----------
    topic, function, encryption_key: what is connected, and the key of both queues.
    function_timeout: the function's timeout; the queue's visibility timeout is 6x this.
    batch_size: default 10. max_batching_window: default 1 s.
    max_receive_count: receives before a message moves to the dead-letter queue; default 5.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: sns.ITopic,
        function: lambda_.IFunction,
        encryption_key: kms.IKey,
        function_timeout: Duration,
        batch_size: int = 10,
        max_batching_window: Duration = _ONE_SECOND,
        max_receive_count: int = 5,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if not 1 <= batch_size <= 10000:
            problems.append(f"batch_size: expected 1-10000, received {batch_size}")
        if max_receive_count < 1:
            problems.append(f"max_receive_count: expected >= 1, received {max_receive_count}")
        check("BufferedDelivery", problems)

        self.dead_letter_queue = secure_queue(self, "DeadLetterQueue", encryption_key=encryption_key)
        self.queue = secure_queue(
            self,
            "Queue",
            encryption_key=encryption_key,
            visibility_timeout=Duration.seconds(6 * function_timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )
        # Built by hand (not SqsSubscription) so that the key policy is not given a Ref to the topic,
        # which would be circular when the topic is encrypted with the same key.
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowTopicToSend",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": topic.topic_arn}},
            )
        )
        self.subscription = sns.Subscription(
            self,
            "Subscription",
            topic=topic,
            endpoint=self.queue.queue_arn,
            protocol=sns.SubscriptionProtocol.SQS,
            raw_message_delivery=False,
            dead_letter_queue=self.dead_letter_queue,
        )
        queue_policy = self.queue.node.try_find_child("Policy")
        if queue_policy is not None:
            self.subscription.node.add_dependency(queue_policy)
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=batch_size,
                max_batching_window=max_batching_window,
                report_batch_item_failures=True,
            )
        )


def deliver(
    scope: Construct,
    construct_id: str,
    *,
    mode: DeliveryMode,
    topic: sns.ITopic,
    function: lambda_.IFunction,
    encryption_key: kms.IKey,
    function_timeout: Duration,
    batch_size: int = 10,
    max_batching_window: Duration = _ONE_SECOND,
    max_receive_count: int = 5,
) -> DirectDelivery | BufferedDelivery:
    """Create the delivery construct of ``mode`` ("direct" or "buffered")."""
    if mode == "direct":
        return DirectDelivery(
            scope, construct_id, topic=topic, function=function, encryption_key=encryption_key
        )
    if mode == "buffered":
        return BufferedDelivery(
            scope,
            construct_id,
            topic=topic,
            function=function,
            encryption_key=encryption_key,
            function_timeout=function_timeout,
            batch_size=batch_size,
            max_batching_window=max_batching_window,
            max_receive_count=max_receive_count,
        )
    check("deliver", [f"mode: expected 'direct' or 'buffered', received {mode!r}"])
    raise AssertionError("unreachable")
