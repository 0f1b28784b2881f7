"""``AsyncResultsEndpoint``: a SageMaker async endpoint (model, endpoint config, endpoint, autoscaling)
that publishes into an :class:`~sagemaker_async_results.cdk.pipeline.AsyncResultsPipeline`.

The endpoint config writes to the pipeline's bucket prefixes, encrypts with its key and notifies its
topics; the pipeline learns the endpoint's execution role (only known publishers may publish to its
topics) and watches the endpoint with alarms. Several endpoints can share one pipeline.

Example
-------
>>> pipeline = AsyncResultsPipeline(stack, "Results", handlers_dir="functions/handlers")  # doctest: +SKIP
>>> AsyncResultsEndpoint(  # doctest: +SKIP
...     stack, "Scorer", pipeline=pipeline, endpoint_name="fraud-scorer",
...     model_props=ModelProps(image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/scorer:1"),
... )
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from sagemaker_async_results.cdk.config import DEFAULT_MODEL_ENVIRONMENT, DEFAULT_MODEL_IMAGE
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.autoscaling import EndpointAutoscaling
from sagemaker_async_results.cdk.constructs.result_handler import retention_days
from sagemaker_async_results.cdk.constructs.sagemaker_endpoint import (
    INCLUDE_INFERENCE_RESPONSE_VALUES,
    AsyncInferenceEndpoint,
    EndpointLogGroup,
    EndpointVpcProps,
    ModelProps,
)
from sagemaker_async_results.cdk.pipeline import NAME_PATTERN, AsyncResultsPipeline

__all__ = [
    "DEFAULT_MODEL",
    "AsyncResultsEndpoint",
    "AutoscalingProps",
    "EndpointProps",
    "build_endpoint",
    "endpoint_problems",
]

#: The model created when neither ``model_props`` nor ``existing_model_name`` is given: a public
#: Hugging Face inference container serving a small sentiment classifier (CPU).
DEFAULT_MODEL = ModelProps(image=DEFAULT_MODEL_IMAGE, environment=dict(DEFAULT_MODEL_ENVIRONMENT))


@dataclass(frozen=True)
class AutoscalingProps:
    """Backlog autoscaling of the endpoint variant.

    Attributes
    ----------
    min_capacity: default 0 (scales to zero; a step policy scales out from zero).
    max_capacity: default 2.
    target_backlog_per_instance: default 5 queued requests.
    scale_in_cooldown_seconds: default 600. scale_out_cooldown_seconds: default 300.
    """

    min_capacity: int = 0
    max_capacity: int = 2
    target_backlog_per_instance: float = 5
    scale_in_cooldown_seconds: int = 600
    scale_out_cooldown_seconds: int = 300


@dataclass(frozen=True)
class EndpointProps:
    """Everything about one endpoint; the defaults are those of :class:`AsyncResultsEndpoint`."""

    endpoint_name: str = "async-results"
    model_props: ModelProps | None = None
    existing_model_name: str | None = None
    existing_model_role: iam.IRole | None = None
    instance_type: str = "ml.m5.xlarge"
    initial_instance_count: int = 1
    max_concurrent_invocations_per_instance: int = 4
    include_inference_response_in: Sequence[str] = INCLUDE_INFERENCE_RESPONSE_VALUES
    autoscaling: AutoscalingProps | None = AutoscalingProps()
    instance_local_storage: bool | None = None
    volume_size_gb: int | None = None
    model_data_download_timeout_seconds: int | None = None
    container_startup_health_check_timeout_seconds: int | None = None
    vpc: EndpointVpcProps | None = None
    log_retention_days: int = 30
    log_group: EndpointLogGroup = "create"


def endpoint_problems(props: EndpointProps, *, check_name: bool = True) -> list[str]:
    """Every problem of the endpoint's props that the pipeline does not check itself."""
    problems: list[str] = []
    if check_name and not NAME_PATTERN.match(props.endpoint_name):
        problems.append(
            f"endpoint_name: expected 1-63 letters, digits or hyphens, received {props.endpoint_name!r}"
        )
    if props.model_props is not None and props.existing_model_name is not None:
        problems.append("give either model_props or existing_model_name, not both")
    if props.existing_model_name is not None and props.existing_model_role is None:
        problems.append("existing_model_role: required with existing_model_name (it publishes the results)")
    autoscaling = props.autoscaling
    if autoscaling is not None:
        if autoscaling.min_capacity < 0:
            problems.append(f"autoscaling.min_capacity: expected >= 0, received {autoscaling.min_capacity}")
        if autoscaling.min_capacity > autoscaling.max_capacity:
            problems.append(
                f"autoscaling.min_capacity: expected <= max_capacity ({autoscaling.max_capacity}), "
                f"received {autoscaling.min_capacity}"
            )
        if props.initial_instance_count > autoscaling.max_capacity:
            problems.append(
                f"initial_instance_count: expected <= autoscaling.max_capacity ({autoscaling.max_capacity}), "
                f"received {props.initial_instance_count}"
            )
    return problems


def build_endpoint(
    scope: Construct, pipeline: AsyncResultsPipeline, props: EndpointProps
) -> tuple[AsyncInferenceEndpoint, EndpointAutoscaling | None]:
    """The endpoint (child ``Inference``) and its autoscaling (child ``Autoscaling``) in ``scope``,
    publishing into ``pipeline``; the pipeline learns the publisher and watches the endpoint."""
    endpoint = AsyncInferenceEndpoint(
        scope,
        "Inference",
        endpoint_name=props.endpoint_name,
        bucket=pipeline.bucket,
        input_prefix=pipeline.input_key_prefix,
        output_prefix=pipeline.output_key_prefix,
        failure_prefix=pipeline.failure_key_prefix,
        success_topic=pipeline.success_topic,
        error_topic=pipeline.error_topic,
        encryption_key=pipeline.encryption_key,
        model_props=props.model_props if props.model_props or props.existing_model_name else DEFAULT_MODEL,
        existing_model_name=props.existing_model_name,
        existing_model_role=props.existing_model_role,
        instance_type=props.instance_type,
        initial_instance_count=props.initial_instance_count,
        max_concurrent_invocations_per_instance=props.max_concurrent_invocations_per_instance,
        include_inference_response_in=props.include_inference_response_in,
        instance_local_storage=props.instance_local_storage,
        volume_size_gb=props.volume_size_gb,
        model_data_download_timeout_seconds=props.model_data_download_timeout_seconds,
        container_startup_health_check_timeout_seconds=props.container_startup_health_check_timeout_seconds,
        vpc=props.vpc,
        additional_keys=pipeline.additional_keys,
        log_retention=retention_days(props.log_retention_days),
        log_group=props.log_group,
    )
    # The execution role's own policy already holds the publisher grants: only the topics learn it.
    pipeline.add_publisher(endpoint.execution_role, attach_policy=False)
    same_stack = Stack.of(scope) is Stack.of(pipeline)
    pipeline.watch_endpoint(
        props.endpoint_name,
        endpoint.variant_name,
        name_value=endpoint.endpoint.attr_endpoint_name if same_stack else None,
    )
    autoscaling: EndpointAutoscaling | None = None
    if props.autoscaling is not None:
        autoscaling = EndpointAutoscaling(
            scope,
            "Autoscaling",
            endpoint_name=props.endpoint_name,
            variant_name=endpoint.variant_name,
            endpoint=endpoint.endpoint,
            min_capacity=props.autoscaling.min_capacity,
            max_capacity=props.autoscaling.max_capacity,
            target_backlog_per_instance=props.autoscaling.target_backlog_per_instance,
            scale_in_cooldown_seconds=props.autoscaling.scale_in_cooldown_seconds,
            scale_out_cooldown_seconds=props.autoscaling.scale_out_cooldown_seconds,
        )
    return endpoint, autoscaling


class AsyncResultsEndpoint(Construct):
    """A SageMaker async endpoint whose results go to a pipeline's bucket, key and topics.

    Changing ``instance_type`` while ``autoscaling`` is on fails the update (the variant is a scaling
    target): deploy once with ``autoscaling=None``, then with the new instance type and autoscaling.

    Parameters
    ----------
    pipeline:
        The :class:`AsyncResultsPipeline` that receives the results.
    endpoint_name:
        Physical name of the endpoint. Default ``"async-results"``.
    model_props:
        The model to create; default :data:`DEFAULT_MODEL` unless ``existing_model_name`` is given.
    existing_model_name, existing_model_role:
        An existing SageMaker model and its execution role (which then gets the publisher grants).
    instance_type: default ``ml.m5.xlarge``. initial_instance_count: default 1.
    max_concurrent_invocations_per_instance: default 4.
    include_inference_response_in: default both notification topics (responses up to 128 KB inline).
    autoscaling: default :class:`AutoscalingProps` (); ``None`` switches autoscaling off.
    instance_local_storage:
        Whether ``instance_type`` has local NVMe storage (no storage ``KmsKeyId`` then); default decided
        from the known instance families.
    volume_size_gb, model_data_download_timeout_seconds, container_startup_health_check_timeout_seconds:
        Production variant settings; default SageMaker's.
    vpc: the model containers' VPC (:class:`EndpointVpcProps`); default none.
    log_retention_days: retention of the endpoint's log group; default 30.
    log_group: who provides the log group ``/aws/sagemaker/Endpoints/<name>``: ``"create"`` (default, with
        the retention above; fails when the group exists), ``"existing"`` (an endpoint of that name ran
        before: adopt its group) or ``"sagemaker"`` (SageMaker creates it, without retention).

    Raises
    ------
    PropsError
        Listing every prop problem at once.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline: AsyncResultsPipeline,
        endpoint_name: str = "async-results",
        model_props: ModelProps | None = None,
        existing_model_name: str | None = None,
        existing_model_role: iam.IRole | None = None,
        instance_type: str = "ml.m5.xlarge",
        initial_instance_count: int = 1,
        max_concurrent_invocations_per_instance: int = 4,
        include_inference_response_in: Sequence[str] = INCLUDE_INFERENCE_RESPONSE_VALUES,
        autoscaling: AutoscalingProps | None = AutoscalingProps(),
        instance_local_storage: bool | None = None,
        volume_size_gb: int | None = None,
        model_data_download_timeout_seconds: int | None = None,
        container_startup_health_check_timeout_seconds: int | None = None,
        vpc: EndpointVpcProps | None = None,
        log_retention_days: int = 30,
        log_group: EndpointLogGroup = "create",
    ) -> None:
        super().__init__(scope, construct_id)
        props = EndpointProps(
            endpoint_name=endpoint_name,
            model_props=model_props,
            existing_model_name=existing_model_name,
            existing_model_role=existing_model_role,
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
            include_inference_response_in=include_inference_response_in,
            autoscaling=autoscaling,
            instance_local_storage=instance_local_storage,
            volume_size_gb=volume_size_gb,
            model_data_download_timeout_seconds=model_data_download_timeout_seconds,
            container_startup_health_check_timeout_seconds=container_startup_health_check_timeout_seconds,
            vpc=vpc,
            log_retention_days=log_retention_days,
            log_group=log_group,
        )
        problems = endpoint_problems(props)
        try:
            retention_days(log_retention_days)
        except ValueError as exc:
            problems.append(str(exc))
        check("AsyncResultsEndpoint", problems)
        self.endpoint_name = endpoint_name
        self.pipeline = pipeline
        self.inference, self.autoscaling = build_endpoint(self, pipeline, props)
        self.execution_role: iam.IRole = self.inference.execution_role
