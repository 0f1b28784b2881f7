"""Alarms that reach a person, and a dashboard, for the endpoint, the topics, the handlers and every
dead-letter queue.

Every alarm created here has the alarm topic as its action: a created topic (encrypted with the
stack's key, whose policy lets CloudWatch use it, with e-mail subscriptions that have their own
dead-letter queue) or an existing one. An alarm without an action changes state and tells nobody, while
dead letters expire after 14 days.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_async_results.cdk.constructs._nag import acknowledge
from sagemaker_async_results.cdk.constructs.autoscaling import backlog_metric
from sagemaker_async_results.cdk.constructs.encryption import EncryptionKey
from sagemaker_async_results.cdk.constructs.queues import secure_queue

__all__ = [
    "ENDPOINT_FAILURE_METRICS",
    "PROCESSED_METRIC",
    "Operations",
    "endpoint_metric",
    "topic_failures_metric",
]

#: Per-request async metrics; SageMaker publishes them with EndpointName and VariantName. Any of them
#: above zero means a request whose result may never be routed (or never produced).
ENDPOINT_FAILURE_METRICS = (
    "RequestDownloadFailures",
    "ResponseUploadFailures",
    "NotificationFailures",
    "ExpiredRequests",
    "InvocationFailures",
)
_THIRTY_MINUTES = Duration.minutes(30)
#: The processed count as AWS's async-endpoint monitoring page spells it (three s).
PROCESSED_METRIC = "InvocationsProcesssed"


def endpoint_metric(
    endpoint_name: str, variant_name: str, metric_name: str, statistic: str = "Sum"
) -> cloudwatch.Metric:
    """A per-variant ``AWS/SageMaker`` metric of an async endpoint."""
    return cloudwatch.Metric(
        namespace="AWS/SageMaker",
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
        statistic=statistic,
        period=Duration.minutes(5),
    )


def topic_failures_metric(topic: sns.ITopic) -> cloudwatch.Metric:
    """``AWS/SNS`` ``NumberOfNotificationsFailed`` of a topic (dimension ``TopicName``)."""
    return cloudwatch.Metric(
        namespace="AWS/SNS",
        metric_name="NumberOfNotificationsFailed",
        dimensions_map={"TopicName": topic.topic_name},
        statistic="Sum",
        period=Duration.minutes(5),
    )


class Operations(Construct):
    """Alarms (dead-letter depth > 0, handler errors, endpoint failures, the oldest queued request, topic
    delivery failures), the alarm topic they notify, and one dashboard.

    Parameters
    ----------
    endpoint_names, variant_name: the endpoints to watch (more with :meth:`watch_endpoint`); default none.
    functions: label -> result-handler function.
    dead_letter_queues: label -> dead-letter queue.
    topics: label -> notification topic whose ``NumberOfNotificationsFailed`` is watched; default none.
    encryption: the stack's key; encrypts a created alarm topic and the dead-letter queue of its e-mail
        subscriptions, and lets CloudWatch use it.
    alarm_topic: an existing topic the alarms notify (encrypted with a key CloudWatch may use, or not at
        all); default a new topic.
    alarm_emails: e-mail addresses subscribed to the alarm topic; default none.
    oldest_request_age: alarm when ``ApproximateAgeOfOldestRequest`` exceeds this; default 30 minutes.
    dashboard_name: default generated.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_names: Sequence[str] = (),
        variant_name: str = "AllTraffic",
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        encryption: EncryptionKey,
        topics: Mapping[str, sns.ITopic] | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_emails: Sequence[str] = (),
        oldest_request_age: Duration = _THIRTY_MINUTES,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        dead_letter_queues = dict(dead_letter_queues)
        self.alarm_topic: sns.ITopic
        if alarm_topic is not None:
            self.alarm_topic = alarm_topic
        else:
            self.alarm_topic = sns.Topic(
                self, "AlarmTopic", display_name="Async inference results alarms",
                master_key=encryption.key, enforce_ssl=True,
            )  # fmt: skip
            # CloudWatch publishes alarm notifications with its service principal: it needs the key.
            encryption.allow_service(
                "AllowCloudWatchAlarmsToEncryptedTopic",
                "cloudwatch.amazonaws.com",
                {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        self.alarm_dead_letter_queue: sqs.Queue | None = None
        if alarm_emails:
            dlq = self.alarm_dead_letter_queue = secure_queue(
                self, "AlarmSubscriptionsDeadLetterQueue", encryption_key=encryption.key
            )
            acknowledge(
                dlq,
                "SQS3",
                "this queue is the dead-letter queue of the alarm e-mail subscriptions (their RedrivePolicy)",
            )
            for address in alarm_emails:
                self.alarm_topic.add_subscription(subs.EmailSubscription(address, dead_letter_queue=dlq))
            dead_letter_queues["AlarmSubscriptions"] = dlq
        action = cw_actions.SnsAction(self.alarm_topic)

        def alarm(
            construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 0
        ) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)
            return created

        for label, queue in dead_letter_queues.items():
            alarm(
                f"{label}DeadLetterAlarm",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                f"{label} dead-letter queue holds messages: results were not handled; inspect and redrive",
            )
        for label, function in functions.items():
            alarm(
                f"{label}HandlerErrorsAlarm",
                function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                f"{label} result-handler function raised errors",
            )
        self._alarm = alarm
        self._oldest_request_age = oldest_request_age
        self._variant_name = variant_name
        self._watched: list[str] = []
        watched = list(dict.fromkeys(endpoint_names))
        for endpoint_name in watched[:1]:
            self._watch_alarms(endpoint_name, variant_name, id_prefix="")
        for label, topic in (topics or {}).items():
            alarm(
                f"{label}TopicDeliveryFailuresAlarm",
                topic_failures_metric(topic),
                f"{label} topic: SNS failed to deliver notifications (NumberOfNotificationsFailed > 0)",
            )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        self._backlog_widget = cloudwatch.GraphWidget(title="Endpoint backlog", width=8)
        self._invocations_widget = cloudwatch.GraphWidget(title="Endpoint invocations", width=8)
        self._failures_widget = cloudwatch.GraphWidget(title="Endpoint failures", width=8)
        self.dashboard.add_widgets(self._backlog_widget, self._invocations_widget, self._failures_widget)
        for endpoint_name in watched[:1]:
            self._watch_widgets(endpoint_name, variant_name)
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Handler throughput",
                left=[f.metric_invocations(label=label, statistic="Sum") for label, f in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Handler errors",
                left=[f.metric_errors(label=label, statistic="Sum") for label, f in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Handler duration (p99)",
                left=[f.metric_duration(label=label, statistic="p99") for label, f in functions.items()],
                width=8,
            ),
        )
        if topics:
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Notification delivery failures",
                    left=[topic_failures_metric(t).with_(label=label) for label, t in topics.items()],
                    width=24,
                )
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Dead-letter queues",
                left=[
                    q.metric_approximate_number_of_messages_visible(label=label, statistic="Maximum")
                    for label, q in dead_letter_queues.items()
                ],
                width=24,
            )
        )
        for endpoint_name in watched[1:]:
            self.watch_endpoint(endpoint_name)

    def watch_endpoint(self, endpoint_name: str, variant_name: str | None = None) -> None:
        """Alarms and dashboard metrics of one more endpoint (its failures and oldest queued request).

        The first endpoint's alarms keep unprefixed construct IDs (those of a one-endpoint stack); each
        later one's are prefixed with its name, so adding an endpoint never replaces another's alarms.
        """
        if endpoint_name in self._watched:
            return
        variant = variant_name or self._variant_name
        prefix = (
            ""
            if not self._watched
            else "".join(p.capitalize() for p in re.split(r"[^A-Za-z0-9]+", endpoint_name))
        )
        self._watch_alarms(endpoint_name, variant, id_prefix=prefix)
        self._watch_widgets(endpoint_name, variant)

    def _watch_alarms(self, endpoint_name: str, variant_name: str, *, id_prefix: str) -> None:
        self._watched.append(endpoint_name)
        for metric_name in ENDPOINT_FAILURE_METRICS:
            self._alarm(
                f"{id_prefix}Endpoint{metric_name}Alarm",
                endpoint_metric(endpoint_name, variant_name, metric_name),
                f"{endpoint_name}: {metric_name} > 0",
            )
        seconds = int(self._oldest_request_age.to_seconds())
        self._alarm(
            f"{id_prefix}EndpointOldestRequestAlarm",
            backlog_metric(endpoint_name, "ApproximateAgeOfOldestRequest", "Maximum"),
            f"{endpoint_name}: a queued request is older than {seconds} s",
            threshold=self._oldest_request_age.to_seconds(),
        )

    def _watch_widgets(self, endpoint_name: str, variant_name: str) -> None:
        self._backlog_widget.add_left_metric(backlog_metric(endpoint_name, "ApproximateBacklogSize"))
        self._backlog_widget.add_left_metric(
            backlog_metric(endpoint_name, "ApproximateBacklogSizePerInstance")
        )
        self._backlog_widget.add_right_metric(
            backlog_metric(endpoint_name, "HasBacklogWithoutCapacity", "Maximum")
        )
        self._invocations_widget.add_left_metric(
            endpoint_metric(endpoint_name, variant_name, PROCESSED_METRIC)
        )
        self._invocations_widget.add_right_metric(
            backlog_metric(endpoint_name, "ApproximateAgeOfOldestRequest", "Maximum")
        )
        for name in ENDPOINT_FAILURE_METRICS:
            self._failures_widget.add_left_metric(endpoint_metric(endpoint_name, variant_name, name))
