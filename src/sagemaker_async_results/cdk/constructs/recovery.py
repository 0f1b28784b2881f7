"""Recovery of results whose notification never arrives: S3 events -> a delayed queue -> routing.

SageMaker can fail to publish a notification (the endpoint metric ``NotificationFailures`` counts
these): the result is in S3, but nothing routes it and a client waiting on it reports Expired. This
construct makes sure such a result is still routed, exactly once, by the same handlers and
destinations:

1. the bucket sends an ``ObjectCreated`` event for every object under the output prefix ending in
   ``.out`` and under the failure prefix ending in ``-error.out`` (SageMaker's object names) to the
   **recovery queue**;
2. the queue delays each event by ``delay`` (``DelaySeconds``; default 900 s, SQS's maximum), which
   is the time a notification has to arrive and be routed normally;
3. the **recovery function** (same code asset, handler ``contract.RECOVERY_LAMBDA_HANDLER``) reads
   the result record and routes only what no notification routed, through the runtime's own path
   (see :mod:`sagemaker_async_results.runtime.recovery`). Events it cannot handle move to the
   recovery dead-letter queue after ``max_receive_count`` receives; the alarms watch that queue.

How the bucket gets its event notifications: CDK's bucket-notifications custom resource, for a bucket
this stack creates as for an existing one. It runs once the bucket and the queue policy exist, so the queue
policy names exactly the pipeline's bucket (``aws:SourceArn``) and the account (``aws:SourceAccount``): no
other bucket, of this account or another, can send events to the recovery queue. (A bucket's own
``NotificationConfiguration`` would make S3 check the destination when the bucket is created, before a
policy naming the bucket could exist.) On an existing bucket the custom resource keeps the notifications
others configured there; S3 allows one configuration per overlapping prefix/suffix and event type: an
existing bucket that already sends ``ObjectCreated`` events of these prefixes elsewhere makes the
deployment fail (then switch recovery off, or let that consumer forward the events to the recovery queue).

moto's CloudFormation ignores a bucket's ``NotificationConfiguration`` (and cannot run the custom
resource without Docker): a local run configures the notification with
``PutBucketNotificationConfiguration`` itself (:func:`notification_configuration` gives it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.interfaces.aws_s3 import IBucketRef
from constructs import Construct

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.constructs._nag import acknowledge, acknowledge_checkov
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.encryption import EncryptionKey
from sagemaker_async_results.cdk.constructs.queues import secure_queue
from sagemaker_async_results.cdk.constructs.result_handler import ResultHandlerFunction

__all__ = [
    "FAILURE_SUFFIX",
    "OUTPUT_SUFFIX",
    "QueueNotificationDestination",
    "ResultRecovery",
    "notification_configuration",
]

#: SageMaker's object names: ``<output prefix><inference id>.out``, ``<failure prefix><id>-error.out``.
OUTPUT_SUFFIX = ".out"
FAILURE_SUFFIX = "-error.out"
_FIFTEEN_MINUTES = Duration.minutes(15)
#: Construct ID of CDK's singleton bucket-notifications handler (a stack-level child).
_NOTIFICATIONS_HANDLER_PREFIX = "BucketNotificationsHandler"


@jsii.implements(s3.IBucketNotificationDestination)
class QueueNotificationDestination:
    """S3 -> SQS notification destination whose grants name no token of the bucket in the key policy.

    ``aws_s3_notifications.SqsDestination`` grants the key to S3 with the bucket's ARN as condition;
    when the bucket is encrypted with the same key, that is a reference cycle (key -> bucket -> key).
    Here the queue policy names the exact bucket (a separate resource, no cycle) and the key policy is
    given by :meth:`EncryptionKey.allow_service` with the account as condition.
    """

    def __init__(self, queue: sqs.Queue, encryption: EncryptionKey) -> None:
        self.queue = queue
        self.encryption = encryption

    def allow(self, scope: Construct, source_arn: str, operator: str = "ArnEquals") -> None:
        """Queue and key policy statements that let S3 send events of ``source_arn`` buckets."""
        account = Stack.of(scope).account
        self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowBucketEventNotifications",
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    operator: {"aws:SourceArn": source_arn},
                    "StringEquals": {"aws:SourceAccount": account},
                },
            )
        )
        # S3 encrypts event messages for the encrypted queue with its service principal. The statement
        # has AWS's documented form, without a source condition: S3's KMS requests for event
        # notifications are not documented to carry aws:SourceAccount, and a condition they do not meet
        # would drop every event silently. The queue policy above limits who may send.
        self.encryption.allow_service("AllowS3EventNotificationsToEncryptedQueues", "s3.amazonaws.com")

    def bind(self, scope: Construct, bucket: IBucketRef) -> s3.BucketNotificationDestinationConfig:
        self.allow(scope, bucket.bucket_ref.bucket_arn)
        policy = self.queue.node.try_find_child("Policy")
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[policy] if policy is not None else None,
        )


class ResultRecovery(Construct):
    """Recovery queue (delayed), its dead-letter queue, the S3 event notifications and the function.

    Parameters
    ----------
    bucket, output_prefix, failure_prefix: where SageMaker writes results.
    encryption: the stack's key (queues; S3 and the function use it).
    function: the recovery function (a :class:`ResultHandlerFunction` with the recovery handler string
        and read access to both prefixes), created by the caller like the other functions so that the
        destinations bind to it too.
    endpoint_name: put in recovered notifications when the Submitted record names no endpoint.
    delay: how long a result has for its notification before recovery checks it; default 15 minutes
        (SQS's maximum ``DelaySeconds``).
    require_submitted_record: recover only requests the client recorded; default true.
    max_receive_count: receives of an event before it moves to the dead-letter queue; default 5.
    batch_size: events per invocation; default 10.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        output_prefix: str,
        failure_prefix: str,
        encryption: EncryptionKey,
        function: ResultHandlerFunction,
        endpoint_name: str,
        delay: Duration = _FIFTEEN_MINUTES,
        require_submitted_record: bool = True,
        max_receive_count: int = 5,
        batch_size: int = 10,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if not 0 <= delay.to_seconds() <= 900:
            problems.append(
                f"delay: expected 0-900 seconds (SQS DelaySeconds), received {delay.to_seconds()}"
            )
        if max_receive_count < 1:
            problems.append(f"max_receive_count: expected >= 1, received {max_receive_count}")
        if not 1 <= batch_size <= 10:
            problems.append(f"batch_size: expected 1-10, received {batch_size}")
        check("ResultRecovery", problems)

        self.dead_letter_queue = secure_queue(self, "DeadLetterQueue", encryption_key=encryption.key)
        self.queue = secure_queue(
            self,
            "Queue",
            encryption_key=encryption.key,
            visibility_timeout=Duration.seconds(6 * function.timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=max_receive_count
            ),
        )
        cfn_queue = self.queue.node.default_child
        assert isinstance(cfn_queue, sqs.CfnQueue)
        cfn_queue.delay_seconds = int(delay.to_seconds())
        self.delay = delay

        destination = QueueNotificationDestination(self.queue, encryption)
        for prefix, suffix in ((output_prefix, OUTPUT_SUFFIX), (failure_prefix, FAILURE_SUFFIX)):
            bucket.add_event_notification(
                s3.EventType.OBJECT_CREATED,
                destination,
                s3.NotificationKeyFilter(prefix=prefix, suffix=suffix),
            )
        self._acknowledge_notifications_handler()

        self.function = function.function
        environment: Mapping[str, str] = {
            contract.RECOVERY_OUTPUT_LOCATION: f"s3://{bucket.bucket_name}/{output_prefix}",
            contract.RECOVERY_FAILURE_LOCATION: f"s3://{bucket.bucket_name}/{failure_prefix}",
            contract.RECOVERY_ENDPOINT_NAME: endpoint_name,
            contract.RECOVERY_REQUIRE_SUBMITTED_RECORD: "true" if require_submitted_record else "false",
        }
        for key, value in environment.items():
            self.function.add_environment(key, value)
        self.function.add_event_source(
            event_sources.SqsEventSource(self.queue, batch_size=batch_size, report_batch_item_failures=True)
        )

    def _acknowledge_notifications_handler(self) -> None:
        stack = Stack.of(self)
        for child in stack.node.children:
            if child.node.id.startswith(_NOTIFICATIONS_HANDLER_PREFIX):
                acknowledge(
                    child,
                    "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's bucket-notifications custom resource handler (aws-cdk-lib code, not configurable)",
                )
                acknowledge(
                    child,
                    "L1",
                    "runtime chosen by aws-cdk-lib for its bucket-notifications custom resource handler",
                )
                for resource in child.node.find_all():
                    if (
                        isinstance(resource, CfnResource)
                        and resource.cfn_resource_type == "AWS::Lambda::Function"
                    ):
                        for check_id in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
                            acknowledge_checkov(
                                resource,
                                check_id,
                                "aws-cdk-lib's bucket-notifications custom resource handler (runs at deployment "
                                "only; not configurable)",
                            )


def notification_configuration(output_prefix: str, failure_prefix: str, queue_arn: str) -> dict[str, Any]:
    """The bucket notification configuration of recovery (``PutBucketNotificationConfiguration`` shape)."""
    return {
        "QueueConfigurations": [
            {
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {
                    "Key": {
                        "FilterRules": [
                            {"Name": "prefix", "Value": prefix},
                            {"Name": "suffix", "Value": suffix},
                        ]
                    }
                },
            }
            for prefix, suffix in ((output_prefix, OUTPUT_SUFFIX), (failure_prefix, FAILURE_SUFFIX))
        ]
    }
