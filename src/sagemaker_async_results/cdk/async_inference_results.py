"""``AsyncInferenceResults``: a SageMaker async endpoint and its whole result pipeline in one construct.

It is the composition of :class:`~sagemaker_async_results.cdk.pipeline.AsyncResultsPipeline` (everything
that receives and routes results) and the endpoint part of
:class:`~sagemaker_async_results.cdk.endpoint.AsyncResultsEndpoint` (model, endpoint config, endpoint,
autoscaling), built in one scope so that its construct IDs, and so the logical IDs of apps that used it
before the two parts existed, are unchanged. Together they compose the small constructs of :mod:`sagemaker_async_results.cdk.constructs` with every grant and
ordering the system needs: a customer managed key, the output bucket, the success and error topics
(publishable only by the endpoint's execution role), the endpoint, backlog autoscaling, the results
table, the two result-handler functions (the runtime plus the user's handler folder, bundled at synth
without Docker), their delivery (direct or buffered), the recovery of results whose notification
never arrives (S3 events -> a delayed queue -> a third function with the same code), the built-in
destinations, alarms that notify an alarm topic, a dashboard, and the stack outputs the client and the
local run look up.

Example
-------
>>> results = AsyncInferenceResults(  # doctest: +SKIP
...     stack, "Results",
...     endpoint_name="fraud-scorer",
...     model_props=ModelProps(image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/scorer:1"),
...     handlers_dir="functions/handlers",
... )
>>> results.success_function  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.autoscaling import EndpointAutoscaling
from sagemaker_async_results.cdk.constructs.encryption import EncryptionKeyProps
from sagemaker_async_results.cdk.constructs.output_bucket import OutputBucketProps
from sagemaker_async_results.cdk.constructs.results_table import ResultsTableProps
from sagemaker_async_results.cdk.constructs.sagemaker_endpoint import (
    INCLUDE_INFERENCE_RESPONSE_VALUES,
    AsyncInferenceEndpoint,
    EndpointLogGroup,
    EndpointVpcProps,
    ModelProps,
)
from sagemaker_async_results.cdk.destinations import ResultDestination, destinations_from_config
from sagemaker_async_results.cdk.endpoint import (
    DEFAULT_MODEL,
    AutoscalingProps,
    EndpointProps,
    build_endpoint,
    endpoint_problems,
)
from sagemaker_async_results.cdk.pipeline import (
    AsyncResultsPipeline,
    DeliveryProps,
    RecoveryProps,
    pipeline_problems,
)

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import StackConfig

__all__ = [
    "DEFAULT_MODEL",
    "AsyncInferenceResults",
    "AutoscalingProps",
    "DeliveryProps",
    "EndpointVpcProps",
    "RecoveryProps",
]

_SIXTY_SECONDS = Duration.seconds(60)
_THIRTY_MINUTES = Duration.minutes(30)


class AsyncInferenceResults(AsyncResultsPipeline):
    """A SageMaker async endpoint whose every result is routed exactly once to handler plugins.

    An :class:`AsyncResultsPipeline` (all its attributes and methods) that also owns one endpoint:
    ``endpoint`` (:class:`AsyncInferenceEndpoint`) and ``autoscaling``. More endpoints can publish into
    it (:class:`AsyncResultsEndpoint` with ``pipeline=`` this construct).

    Secure by default: one customer managed key (rotated) encrypts bucket, topics, queues and table;
    SSL-only bucket, topics and queues; topics publishable only by the execution role; functions granted
    exact actions on their own prefix, table, key and destinations; nothing dropped: every subscription
    and queue has a dead-letter queue, every dead-letter queue an alarm, every alarm notifies the alarm
    topic, and a result whose notification never arrives is recovered from its S3 object.

    Changing ``instance_type`` while ``autoscaling`` is on fails the update (the variant is a scaling
    target): deploy once with ``autoscaling=None``, then with the new instance type and autoscaling.

    Parameters
    ----------
    endpoint_name:
        Physical name of the endpoint; also names the created topics ``<name>-success`` and
        ``<name>-error``. Default ``"async-results"``.
    model_props:
        The model to create; default :data:`DEFAULT_MODEL` unless ``existing_model_name`` is given.
        Give at most one of ``model_props`` and ``existing_model_name``.
    existing_model_name, existing_model_role:
        An existing SageMaker model and its execution role (which then gets ``sns:Publish`` and key use).
    handlers_dir:
        Folder of handler plugins (a Python package; every module is loaded), deployed with the runtime
        as the package of the folder's name; a ``requirements.txt`` in it is installed too. Required
        unless ``code`` is given.
    code:
        A ready code asset instead of bundling ``handlers_dir``; default none.
    handler_modules:
        Plugin packages the runtime loads; default the folder name of ``handlers_dir`` (``("handlers",)``
        with ``code``).
    existing_encryption_key, encryption_key_props:
        Use this key, or create one with these props; default a new key with :class:`EncryptionKeyProps`
        defaults (rotation on, retained).
    existing_bucket, bucket_props:
        Use this bucket (its encryption is left alone), or create one with these props; default a new
        bucket with :class:`OutputBucketProps` defaults.
    input_key_prefix, output_key_prefix, failure_key_prefix:
        S3 key prefixes of requests, responses and failures; default ``async-inference/inputs/``,
        ``async-inference/outputs/``, ``async-inference/failures/``. They must not overlap.
    existing_success_topic, existing_error_topic:
        Use these topics (each independently); default new topics named after the endpoint.
    topic_display_name:
        Display name of created topics; default none.
    email_subscriptions, https_subscriptions, sqs_subscription_queue_arns:
        Extra subscriptions of both topics; default none.
    existing_table, table_props:
        Use this results table (same schema: ``pk`` string, TTL ``expiresAt``), or create one with
        these props; default a new table with :class:`ResultsTableProps` defaults (retained).
    instance_type: default ``ml.m5.xlarge``. initial_instance_count: default 1.
    max_concurrent_invocations_per_instance: default 4.
    include_inference_response_in: default both notification topics (responses up to 128 KB inline).
    autoscaling:
        Default :class:`AutoscalingProps` (); ``None`` switches autoscaling off.
    delivery:
        Default :class:`DeliveryProps` () (direct).
    destinations:
        Built-in destinations to bind (see :mod:`sagemaker_async_results.cdk.destinations`); default
        the result store only. The result store is added unless a ``ResultStoreDestination`` is given
        (``ResultStoreDestination(enabled=False)`` switches it off).
    memory_size: default 512 MB. timeout: default 60 seconds. log_retention_days: default 30.
    max_payload_bytes: larger payloads are handed to handlers by reference; default 10 MiB.
    result_ttl_days: days a result record is kept; default 30.
    function_props:
        Escape hatch: ``aws_lambda.Function`` keyword arguments merged into both functions (``vpc``,
        ``reserved_concurrent_executions``, ``layers``, extra ``environment``...); default none. The
        functions are also exposed as :attr:`success_function` and :attr:`error_function`.
    alarm_topic:
        An existing topic every alarm notifies (its key, if any, must let ``cloudwatch.amazonaws.com`` use
        it); default a new topic encrypted with the stack's key. Exposed as :attr:`alarm_topic`.
    alarm_email_subscriptions:
        E-mail addresses subscribed to the alarm topic (with a dead-letter queue); default none.
    oldest_request_age:
        Alarm when the endpoint's oldest queued request is older than this; default 30 minutes.
    recovery:
        Default :class:`RecoveryProps` (); ``None`` switches recovery off (a result whose notification
        never arrives then stays unrouted; the ``NotificationFailures`` alarm still fires).
    existing_bucket_key, existing_success_topic_key, existing_error_topic_key:
        Customer managed keys of an existing bucket (SSE-KMS) and existing topics; the execution role
        (and, for the bucket, the functions) are granted their use. Default: the key the existing
        resource construct knows (``encryption_key`` / ``master_key``), else none (the resource is
        taken as not encrypted with a customer managed key).
    instance_local_storage:
        Whether ``instance_type`` has local NVMe storage (no storage ``KmsKeyId`` then); default decided
        from the known instance families.
    endpoint_log_group:
        Who provides the endpoint's log group (``"create"``, ``"existing"``, ``"sagemaker"``: see
        :class:`AsyncResultsEndpoint`'s ``log_group``); default ``"create"``.
    volume_size_gb, model_data_download_timeout_seconds, container_startup_health_check_timeout_seconds:
        Production variant settings; default SageMaker's.
    vpc:
        The model containers' VPC (:class:`EndpointVpcProps`); default none.
    output_prefix:
        Prefix of the stack outputs' keys (letters and digits), so that two of these constructs fit in
        one stack; default none: the keys are exactly the ``OUTPUT_*`` names of :mod:`contract`.

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
        endpoint_name: str = "async-results",
        model_props: ModelProps | None = None,
        existing_model_name: str | None = None,
        existing_model_role: iam.IRole | None = None,
        handlers_dir: str | Path | None = None,
        code: lambda_.Code | None = None,
        handler_modules: Sequence[str] | None = None,
        existing_encryption_key: kms.IKey | None = None,
        encryption_key_props: EncryptionKeyProps | None = None,
        existing_bucket: s3.IBucket | None = None,
        bucket_props: OutputBucketProps | None = None,
        input_key_prefix: str = "async-inference/inputs/",
        output_key_prefix: str = "async-inference/outputs/",
        failure_key_prefix: str = "async-inference/failures/",
        existing_success_topic: sns.ITopic | None = None,
        existing_error_topic: sns.ITopic | None = None,
        topic_display_name: str | None = None,
        email_subscriptions: Sequence[str] = (),
        https_subscriptions: Sequence[str] = (),
        sqs_subscription_queue_arns: Sequence[str] = (),
        existing_table: dynamodb.ITable | None = None,
        table_props: ResultsTableProps | None = None,
        instance_type: str = "ml.m5.xlarge",
        initial_instance_count: int = 1,
        max_concurrent_invocations_per_instance: int = 4,
        include_inference_response_in: Sequence[str] = INCLUDE_INFERENCE_RESPONSE_VALUES,
        autoscaling: AutoscalingProps | None = AutoscalingProps(),
        delivery: DeliveryProps = DeliveryProps(),
        destinations: Sequence[ResultDestination] = (),
        memory_size: int = 512,
        timeout: Duration = _SIXTY_SECONDS,
        log_retention_days: int = 30,
        max_payload_bytes: int = 10 * 1024 * 1024,
        result_ttl_days: int = 30,
        function_props: Mapping[str, Any] | None = None,
        alarm_topic: sns.ITopic | None = None,
        alarm_email_subscriptions: Sequence[str] = (),
        oldest_request_age: Duration = _THIRTY_MINUTES,
        recovery: RecoveryProps | None = RecoveryProps(),
        existing_bucket_key: kms.IKey | None = None,
        existing_success_topic_key: kms.IKey | None = None,
        existing_error_topic_key: kms.IKey | None = None,
        instance_local_storage: bool | None = None,
        endpoint_log_group: EndpointLogGroup = "create",
        volume_size_gb: int | None = None,
        model_data_download_timeout_seconds: int | None = None,
        container_startup_health_check_timeout_seconds: int | None = None,
        vpc: EndpointVpcProps | None = None,
        output_prefix: str = "",
    ) -> None:
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
            log_group=endpoint_log_group,
            volume_size_gb=volume_size_gb,
            model_data_download_timeout_seconds=model_data_download_timeout_seconds,
            container_startup_health_check_timeout_seconds=container_startup_health_check_timeout_seconds,
            vpc=vpc,
            log_retention_days=log_retention_days,
        )
        pipeline: dict[str, Any] = {
            "handlers_dir": handlers_dir,
            "code": code,
            "existing_encryption_key": existing_encryption_key,
            "encryption_key_props": encryption_key_props,
            "existing_bucket": existing_bucket,
            "bucket_props": bucket_props,
            "existing_table": existing_table,
            "table_props": table_props,
            "delivery": delivery,
            "https_subscriptions": https_subscriptions,
            "memory_size": memory_size,
            "log_retention_days": log_retention_days,
            "function_props": function_props,
            "destinations": destinations,
            "output_prefix": output_prefix,
            "input_key_prefix": input_key_prefix,
            "output_key_prefix": output_key_prefix,
            "failure_key_prefix": failure_key_prefix,
            "existing_bucket_key": existing_bucket_key,
            "existing_success_topic": existing_success_topic,
            "existing_success_topic_key": existing_success_topic_key,
            "existing_error_topic": existing_error_topic,
            "existing_error_topic_key": existing_error_topic_key,
        }
        # Every problem of both parts at once, before anything is built.
        problems = endpoint_problems(props, check_name=False) + pipeline_problems(
            name=endpoint_name,
            name_prop="endpoint_name",
            endpoint_names=(),
            **pipeline,
        )
        check("AsyncInferenceResults", problems)
        super().__init__(
            scope,
            construct_id,
            name=endpoint_name,
            endpoint_names=[endpoint_name],
            handler_modules=handler_modules,
            topic_display_name=topic_display_name,
            email_subscriptions=email_subscriptions,
            sqs_subscription_queue_arns=sqs_subscription_queue_arns,
            timeout=timeout,
            max_payload_bytes=max_payload_bytes,
            result_ttl_days=result_ttl_days,
            alarm_topic=alarm_topic,
            alarm_email_subscriptions=alarm_email_subscriptions,
            oldest_request_age=oldest_request_age,
            recovery=recovery,
            **pipeline,
        )
        self.endpoint_name = endpoint_name
        self.endpoint: AsyncInferenceEndpoint
        self.autoscaling: EndpointAutoscaling | None
        self.endpoint, self.autoscaling = build_endpoint(self, self, props)

    @classmethod
    def from_config(
        cls,
        scope: Construct,
        construct_id: str,
        config: StackConfig,
        *,
        handlers_dir: str | Path | None = None,
        **overrides: Any,
    ) -> AsyncInferenceResults:
        """Build the construct from validated context (:func:`sagemaker_async_results.cdk.config.parse_context`).

        Parameters
        ----------
        config: the app's configuration. handlers_dir: the handler plugins folder.
        overrides: any constructor prop, taking precedence over the configuration (e.g. ``code``,
            ``function_props``, ``alarm_topic``).
        """
        props: dict[str, Any] = {
            "endpoint_name": config.endpoint_name,
            "model_props": (
                ModelProps(
                    image=config.model.image,
                    model_data_url=config.model.model_data_url,
                    environment=dict(config.model.environment),
                )
                if config.model is not None
                else None
            ),
            "existing_model_name": config.existing_model_name,
            "existing_model_role": (
                iam.Role.from_role_arn(
                    scope, f"{construct_id}ExistingModelRole", config.existing_model_role_arn
                )
                if config.existing_model_role_arn
                else None
            ),
            "handlers_dir": handlers_dir,
            # Unless the context names them, the plugin package is the handler folder's name.
            "handler_modules": config.handler_modules
            if "handler_modules" in config.model_fields_set
            else None,
            "existing_bucket": (
                s3.Bucket.from_bucket_name(
                    scope, f"{construct_id}ExistingBucket", config.existing_bucket_name
                )
                if config.existing_bucket_name
                else None
            ),
            "existing_bucket_key": _key(
                scope, f"{construct_id}ExistingBucketKey", config.existing_bucket_key_arn
            ),
            "existing_success_topic_key": _key(
                scope, f"{construct_id}ExistingSuccessTopicKey", config.existing_success_topic_key_arn
            ),
            "existing_error_topic_key": _key(
                scope, f"{construct_id}ExistingErrorTopicKey", config.existing_error_topic_key_arn
            ),
            "alarm_topic": _topic(scope, f"{construct_id}ExistingAlarmTopic", config.alarms.topic_arn),
            "alarm_email_subscriptions": config.alarms.email,
            "oldest_request_age": Duration.seconds(config.alarms.oldest_request_age_seconds),
            "recovery": (
                RecoveryProps(
                    delay=Duration.seconds(config.recovery.delay_seconds),
                    require_submitted_record=config.recovery.require_submitted_record,
                )
                if config.recovery.enabled
                else None
            ),
            "instance_local_storage": config.instance_local_storage,
            "endpoint_log_group": config.endpoint_log_group,
            "volume_size_gb": config.volume_size_gb,
            "model_data_download_timeout_seconds": config.model_data_download_timeout_seconds,
            "container_startup_health_check_timeout_seconds": config.container_startup_health_check_timeout_seconds,
            "vpc": (
                EndpointVpcProps(
                    subnet_ids=config.vpc.subnet_ids, security_group_ids=config.vpc.security_group_ids
                )
                if config.vpc is not None
                else None
            ),
            "bucket_props": (
                None
                if config.existing_bucket_name
                else OutputBucketProps(expiration_days=config.output_expiration_days)
            ),
            "input_key_prefix": config.input_prefix,
            "output_key_prefix": config.output_prefix,
            "failure_key_prefix": config.failure_prefix,
            "existing_success_topic": _topic(
                scope, f"{construct_id}ExistingSuccessTopic", config.existing_success_topic_arn
            ),
            "existing_error_topic": _topic(
                scope, f"{construct_id}ExistingErrorTopic", config.existing_error_topic_arn
            ),
            "email_subscriptions": config.subscriptions.email,
            "https_subscriptions": config.subscriptions.https,
            "sqs_subscription_queue_arns": config.subscriptions.sqs_queue_arns,
            "instance_type": config.instance_type,
            "initial_instance_count": config.initial_instance_count,
            "max_concurrent_invocations_per_instance": config.max_concurrent_invocations_per_instance,
            "include_inference_response_in": config.include_inference_response_in,
            "autoscaling": (
                AutoscalingProps(
                    min_capacity=config.autoscaling.min_capacity,
                    max_capacity=config.autoscaling.max_capacity,
                    target_backlog_per_instance=config.autoscaling.target_backlog_per_instance,
                    scale_in_cooldown_seconds=config.autoscaling.scale_in_cooldown_seconds,
                    scale_out_cooldown_seconds=config.autoscaling.scale_out_cooldown_seconds,
                )
                if config.autoscaling.enabled
                else None
            ),
            "delivery": DeliveryProps(
                mode=config.delivery.mode,
                batch_size=config.delivery.batch_size,
                max_batching_window=Duration.seconds(config.delivery.max_batching_window_seconds),
                max_receive_count=config.delivery.max_receive_count,
            ),
            "destinations": destinations_from_config(config.destinations),
            "memory_size": config.function_memory_mb,
            "timeout": Duration.seconds(config.function_timeout_seconds),
            "log_retention_days": config.log_retention_days,
            "max_payload_bytes": config.max_payload_bytes,
            "result_ttl_days": config.result_ttl_days,
        }
        props.update(overrides)
        return cls(scope, construct_id, **props)


def _topic(scope: Construct, construct_id: str, arn: str | None) -> sns.ITopic | None:
    return sns.Topic.from_topic_arn(scope, construct_id, arn) if arn else None


def _key(scope: Construct, construct_id: str, arn: str | None) -> kms.IKey | None:
    return kms.Key.from_key_arn(scope, construct_id, arn) if arn else None
