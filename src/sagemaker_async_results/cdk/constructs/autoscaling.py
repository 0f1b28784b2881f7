"""Backlog-driven autoscaling of an async endpoint variant, down to (and back up from) zero instances."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from sagemaker_async_results.cdk.constructs._props import check

__all__ = ["EndpointAutoscaling", "backlog_metric"]

NAMESPACE = "AWS/SageMaker"


def backlog_metric(endpoint_name: str, metric_name: str, statistic: str = "Average") -> cloudwatch.Metric:
    """An async-endpoint backlog metric. SageMaker publishes ``ApproximateBacklogSize``,
    ``ApproximateBacklogSizePerInstance``, ``ApproximateAgeOfOldestRequest`` and
    ``HasBacklogWithoutCapacity`` with the ``EndpointName`` dimension only (no ``VariantName``)."""
    return cloudwatch.Metric(
        namespace=NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"EndpointName": endpoint_name},
        statistic=statistic,
        period=Duration.minutes(1),
    )


class EndpointAutoscaling(Construct):
    """Target tracking on ``ApproximateBacklogSizePerInstance`` plus, when ``min_capacity`` is 0, a step
    scaling policy on ``HasBacklogWithoutCapacity`` so the variant scales out from zero instances
    (target tracking cannot: with no instance the per-instance backlog is undefined).

    Parameters
    ----------
    endpoint_name, variant_name: the scaled variant (resource id ``endpoint/<name>/variant/<variant>``).
    endpoint: construct the scalable target depends on (the CfnEndpoint); default none.
    min_capacity: default 0. max_capacity: default 2.
    target_backlog_per_instance: default 5 queued requests per instance.
    scale_in_cooldown_seconds: default 600. scale_out_cooldown_seconds: default 300.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        variant_name: str = "AllTraffic",
        endpoint: IConstruct | None = None,
        min_capacity: int = 0,
        max_capacity: int = 2,
        target_backlog_per_instance: float = 5,
        scale_in_cooldown_seconds: int = 600,
        scale_out_cooldown_seconds: int = 300,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if min_capacity < 0:
            problems.append(f"min_capacity: expected >= 0, received {min_capacity}")
        if max_capacity < 1:
            problems.append(f"max_capacity: expected >= 1, received {max_capacity}")
        if min_capacity > max_capacity:
            problems.append(
                f"min_capacity: expected <= max_capacity ({max_capacity}), received {min_capacity}"
            )
        if target_backlog_per_instance <= 0:
            problems.append(
                f"target_backlog_per_instance: expected > 0, received {target_backlog_per_instance}"
            )
        check("EndpointAutoscaling", problems)

        # Application Auto Scaling's service-linked role for SageMaker (created by the service on first use);
        # without it CDK would create an extra role.
        service_linked_role = iam.Role.from_role_arn(
            self,
            "ServiceLinkedRole",
            Stack.of(self).format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            ),
            mutable=False,
        )
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            role=service_linked_role,
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=min_capacity,
            max_capacity=max_capacity,
        )
        if endpoint is not None:
            self.target.node.add_dependency(endpoint)

        self.target.scale_to_track_metric(
            "BacklogPerInstance",
            target_value=target_backlog_per_instance,
            custom_metric=backlog_metric(endpoint_name, "ApproximateBacklogSizePerInstance"),
            scale_in_cooldown=Duration.seconds(scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scale_out_cooldown_seconds),
        )

        self.scale_out_from_zero_alarm: cloudwatch.Alarm | None = None
        if min_capacity == 0:
            action = appscaling.StepScalingAction(
                self,
                "ScaleOutFromZero",
                scaling_target=self.target,
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=Duration.seconds(scale_out_cooldown_seconds),
                metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
            )
            action.add_adjustment(adjustment=1, lower_bound=0)
            self.scale_out_from_zero_alarm = cloudwatch.Alarm(
                self,
                "HasBacklogWithoutCapacityAlarm",
                alarm_description=f"{endpoint_name}: requests are queued and no instance runs; scale out from 0",
                metric=backlog_metric(endpoint_name, "HasBacklogWithoutCapacity", "Maximum"),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.scale_out_from_zero_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(action))
