"""CloudWatch alarms and a dashboard for the endpoint, the handlers and the dead-letter queues."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_async_results.cdk.constructs.autoscaling import backlog_metric

__all__ = ["ENDPOINT_FAILURE_METRICS", "Operations", "endpoint_metric"]

#: Per-request async metrics; SageMaker publishes them with EndpointName and VariantName.
ENDPOINT_FAILURE_METRICS = ("NotificationFailures", "ExpiredRequests", "InvocationFailures")


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


class Operations(Construct):
    """Alarms (dead-letter depth > 0, handler errors, endpoint failures) and one dashboard.

    Parameters
    ----------
    endpoint_name, variant_name: the endpoint to watch.
    functions: label -> result-handler function.
    dead_letter_queues: label -> dead-letter queue.
    alarm_topic: where alarms notify; default none (alarms only change state).
    dashboard_name: default generated.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variant_name: str = "AllTraffic",
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarm_topic: sns.ITopic | None = None,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []

        def alarm(construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
            created = cloudwatch.Alarm(
                self,
                construct_id,
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            if alarm_topic is not None:
                created.add_alarm_action(cw_actions.SnsAction(alarm_topic))
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
        for metric_name in ENDPOINT_FAILURE_METRICS:
            alarm(
                f"Endpoint{metric_name}Alarm",
                endpoint_metric(endpoint_name, variant_name, metric_name),
                f"{endpoint_name}: {metric_name} > 0",
            )

        def em(metric_name: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return endpoint_metric(endpoint_name, variant_name, metric_name, statistic)

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Endpoint backlog",
                left=[
                    backlog_metric(endpoint_name, "ApproximateBacklogSize"),
                    backlog_metric(endpoint_name, "ApproximateBacklogSizePerInstance"),
                ],
                right=[backlog_metric(endpoint_name, "HasBacklogWithoutCapacity", "Maximum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Endpoint invocations",
                # The AWS documentation spells the metric "InvocationsProcesssed"; graph both spellings.
                left=[em("InvocationsProcesssed"), em("InvocationsProcessed")],
                right=[backlog_metric(endpoint_name, "ApproximateAgeOfOldestRequest", "Maximum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Endpoint failures",
                left=[em(name) for name in ENDPOINT_FAILURE_METRICS],
                width=8,
            ),
        )
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
