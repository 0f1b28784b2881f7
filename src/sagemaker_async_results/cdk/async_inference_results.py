"""``AsyncInferenceResults``: the whole result pipeline of a SageMaker async endpoint in one construct.

It composes the small constructs of :mod:`sagemaker_async_results.cdk.constructs` with every grant and
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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.bundling import result_handler_code
from sagemaker_async_results.cdk.config import DEFAULT_MODEL_ENVIRONMENT, DEFAULT_MODEL_IMAGE
from sagemaker_async_results.cdk.constructs._props import check, exclusive, prefix_problem
from sagemaker_async_results.cdk.constructs.autoscaling import EndpointAutoscaling
from sagemaker_async_results.cdk.constructs.delivery import (
    BufferedDelivery,
    DeliveryMode,
    DirectDelivery,
    deliver,
)
from sagemaker_async_results.cdk.constructs.encryption import EncryptionKey, EncryptionKeyProps
from sagemaker_async_results.cdk.constructs.operations import Operations
from sagemaker_async_results.cdk.constructs.output_bucket import OutputBucket, OutputBucketProps
from sagemaker_async_results.cdk.constructs.recovery import ResultRecovery
from sagemaker_async_results.cdk.constructs.result_handler import (
    ResultHandlerFunction,
    function_props_problems,
    retention_days,
)
from sagemaker_async_results.cdk.constructs.results_table import ResultsTable, ResultsTableProps
from sagemaker_async_results.cdk.constructs.sagemaker_endpoint import (
    INCLUDE_INFERENCE_RESPONSE_VALUES,
    AsyncInferenceEndpoint,
    EndpointVpcProps,
    ModelProps,
)
from sagemaker_async_results.cdk.constructs.topics import ResultTopics, TopicProps
from sagemaker_async_results.cdk.destinations import (
    DestinationBinding,
    ResultDestination,
    ResultStoreDestination,
    destinations_from_config,
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

#: The model created when neither ``model_props`` nor ``existing_model_name`` is given: a public
#: Hugging Face inference container serving a small sentiment classifier (CPU).
DEFAULT_MODEL = ModelProps(image=DEFAULT_MODEL_IMAGE, environment=dict(DEFAULT_MODEL_ENVIRONMENT))

_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_OUTPUT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_SIXTY_SECONDS = Duration.seconds(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_THIRTY_MINUTES = Duration.minutes(30)
_ONE_SECOND = Duration.seconds(1)


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
class DeliveryProps:
    """How notifications reach the result-handler functions.

    Attributes
    ----------
    mode: default ``"direct"`` (SNS -> Lambda); ``"buffered"`` is SNS -> SQS -> Lambda, batched.
    batch_size: buffered mode; default 10. max_batching_window: buffered mode; default 1 second.
    max_receive_count: buffered mode; receives before the dead-letter queue; default 5 (AWS advises at
        least 5, so that a batch failed by throttling is not dead-lettered).
    """

    mode: DeliveryMode = "direct"
    batch_size: int = 10
    max_batching_window: Duration = _ONE_SECOND
    max_receive_count: int = 5


@dataclass(frozen=True)
class RecoveryProps:
    """Recovery of results whose notification never arrives (see :mod:`...constructs.recovery`).

    Attributes
    ----------
    delay: time a result has for its notification before recovery routes it; default 15 minutes (the
        most SQS can delay a message).
    require_submitted_record: recover only requests whose Submitted record the client wrote (objects
        of other requests are logged and left alone); default true.
    """

    delay: Duration = _FIFTEEN_MINUTES
    require_submitted_record: bool = True


class AsyncInferenceResults(Construct):
    """A SageMaker async endpoint whose every result is routed exactly once to handler plugins.

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
        volume_size_gb: int | None = None,
        model_data_download_timeout_seconds: int | None = None,
        container_startup_health_check_timeout_seconds: int | None = None,
        vpc: EndpointVpcProps | None = None,
        output_prefix: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        check(
            "AsyncInferenceResults",
            _problems(
                endpoint_name=endpoint_name,
                model_props=model_props,
                existing_model_name=existing_model_name,
                existing_model_role=existing_model_role,
                handlers_dir=handlers_dir,
                code=code,
                existing_encryption_key=existing_encryption_key,
                encryption_key_props=encryption_key_props,
                existing_bucket=existing_bucket,
                bucket_props=bucket_props,
                prefixes={
                    "input_key_prefix": input_key_prefix,
                    "output_key_prefix": output_key_prefix,
                    "failure_key_prefix": failure_key_prefix,
                },
                existing_table=existing_table,
                table_props=table_props,
                autoscaling=autoscaling,
                initial_instance_count=initial_instance_count,
                delivery=delivery,
                https_subscriptions=https_subscriptions,
                memory_size=memory_size,
                log_retention_days=log_retention_days,
                function_props=function_props,
                destinations=destinations,
                output_prefix=output_prefix,
                existing_keys={
                    "existing_bucket_key": (existing_bucket_key, existing_bucket, "existing_bucket"),
                    "existing_success_topic_key": (
                        existing_success_topic_key,
                        existing_success_topic,
                        "existing_success_topic",
                    ),
                    "existing_error_topic_key": (
                        existing_error_topic_key,
                        existing_error_topic,
                        "existing_error_topic",
                    ),
                },
            ),
        )
        self.endpoint_name = endpoint_name
        self.input_key_prefix = input_key_prefix
        self.output_key_prefix = output_key_prefix
        self.failure_key_prefix = failure_key_prefix

        self.encryption = EncryptionKey(
            self, "Encryption", existing_key=existing_encryption_key, key_props=encryption_key_props
        )
        key = self.encryption.key
        self.encryption_key: kms.IKey = key

        self.storage = OutputBucket(
            self,
            "Storage",
            encryption_key=None if existing_bucket is not None else key,
            existing_bucket=existing_bucket,
            bucket_props=bucket_props,
            input_prefix=input_key_prefix,
            output_prefix=output_key_prefix,
            failure_prefix=failure_key_prefix,
        )
        self.bucket: s3.IBucket = self.storage.bucket

        self.topics = ResultTopics(
            self,
            "Notifications",
            encryption_key=key,
            existing_success_topic=existing_success_topic,
            existing_error_topic=existing_error_topic,
            topic_props=TopicProps(
                success_topic_name=None if existing_success_topic else f"{endpoint_name}-success",
                error_topic_name=None if existing_error_topic else f"{endpoint_name}-error",
                display_name=topic_display_name,
            ),
            email_subscriptions=email_subscriptions,
            https_subscriptions=https_subscriptions,
            sqs_subscription_queue_arns=sqs_subscription_queue_arns,
        )
        self.success_topic: sns.ITopic = self.topics.success_topic
        self.error_topic: sns.ITopic = self.topics.error_topic

        # Keys of existing encrypted resources: given, or known by the resource construct itself.
        self.bucket_key = existing_bucket_key or (existing_bucket.encryption_key if existing_bucket else None)
        topic_keys = [
            existing_success_topic_key
            or (existing_success_topic.master_key if existing_success_topic else None),
            existing_error_topic_key or (existing_error_topic.master_key if existing_error_topic else None),
        ]
        self.additional_keys: tuple[kms.IKey, ...] = tuple(
            k for k in dict.fromkeys([self.bucket_key, *topic_keys]) if k is not None and k is not key
        )

        self.endpoint = AsyncInferenceEndpoint(
            self,
            "Inference",
            endpoint_name=endpoint_name,
            bucket=self.bucket,
            input_prefix=input_key_prefix,
            output_prefix=output_key_prefix,
            failure_prefix=failure_key_prefix,
            success_topic=self.success_topic,
            error_topic=self.error_topic,
            encryption_key=key,
            model_props=model_props if model_props or existing_model_name else DEFAULT_MODEL,
            existing_model_name=existing_model_name,
            existing_model_role=existing_model_role,
            instance_type=instance_type,
            initial_instance_count=initial_instance_count,
            max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
            include_inference_response_in=include_inference_response_in,
            instance_local_storage=instance_local_storage,
            volume_size_gb=volume_size_gb,
            model_data_download_timeout_seconds=model_data_download_timeout_seconds,
            container_startup_health_check_timeout_seconds=container_startup_health_check_timeout_seconds,
            vpc=vpc,
            additional_keys=self.additional_keys,
            log_retention=retention_days(log_retention_days),
        )
        self.topics.restrict_publish_to(self.endpoint.execution_role)

        self.autoscaling: EndpointAutoscaling | None = None
        if autoscaling is not None:
            self.autoscaling = EndpointAutoscaling(
                self,
                "Autoscaling",
                endpoint_name=endpoint_name,
                variant_name=self.endpoint.variant_name,
                endpoint=self.endpoint.endpoint,
                min_capacity=autoscaling.min_capacity,
                max_capacity=autoscaling.max_capacity,
                target_backlog_per_instance=autoscaling.target_backlog_per_instance,
                scale_in_cooldown_seconds=autoscaling.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=autoscaling.scale_out_cooldown_seconds,
            )

        self.results = ResultsTable(
            self, "Results", encryption_key=key, existing_table=existing_table, table_props=table_props
        )
        self.table: dynamodb.ITable = self.results.table

        self.code = code if code is not None else result_handler_code(self, Path(str(handlers_dir)))
        modules = tuple(
            handler_modules or ((Path(str(handlers_dir)).name,) if handlers_dir else ("handlers",))
        )
        bucket_keys = tuple(k for k in (self.bucket_key,) if k is not None and k is not key)
        self.handlers: dict[str, ResultHandlerFunction] = {}
        for label, prefix in (("Success", output_key_prefix), ("Error", failure_key_prefix)):
            self.handlers[label] = ResultHandlerFunction(
                self,
                f"{label}Handler",
                code=self.code,
                bucket=self.bucket,
                readable_prefix=prefix,
                table=self.table,
                encryption_key=key,
                extra_keys=bucket_keys,
                handler_modules=modules,
                max_payload_bytes=max_payload_bytes,
                result_ttl_days=result_ttl_days,
                delivery_mode=delivery.mode,
                memory_size=memory_size,
                timeout=timeout,
                log_retention=retention_days(log_retention_days),
                description=f"Handles {label.lower()} notifications of SageMaker endpoint {endpoint_name}",
                function_props=function_props,
            )
        self.success_function: lambda_.Function = self.handlers["Success"].function
        self.error_function: lambda_.Function = self.handlers["Error"].function

        self.recovery: ResultRecovery | None = None
        self.recovery_function: lambda_.Function | None = None
        if recovery is not None:
            recovery_handler = ResultHandlerFunction(
                self,
                "RecoveryHandler",
                code=self.code,
                handler=contract.RECOVERY_LAMBDA_HANDLER,
                bucket=self.bucket,
                readable_prefix=(output_key_prefix, failure_key_prefix),
                table=self.table,
                encryption_key=key,
                extra_keys=bucket_keys,
                handler_modules=modules,
                max_payload_bytes=max_payload_bytes,
                result_ttl_days=result_ttl_days,
                delivery_mode="buffered",
                memory_size=memory_size,
                timeout=timeout,
                log_retention=retention_days(log_retention_days),
                description=f"Routes results of SageMaker endpoint {endpoint_name} whose notification never came",
                function_props=function_props,
            )
            self.recovery = ResultRecovery(
                self,
                "Recovery",
                bucket=self.bucket,
                output_prefix=output_key_prefix,
                failure_prefix=failure_key_prefix,
                encryption=self.encryption,
                function=recovery_handler,
                endpoint_name=endpoint_name,
                delay=recovery.delay,
                require_submitted_record=recovery.require_submitted_record,
                max_receive_count=delivery.max_receive_count,
            )
            self.recovery_function = recovery_handler.function
            self.handlers["Recovery"] = recovery_handler

        self.deliveries: dict[str, DirectDelivery | BufferedDelivery] = {
            label: deliver(
                self,
                f"{label}Delivery",
                mode=delivery.mode,
                topic=topic,
                function=self.handlers[label].function,
                encryption_key=key,
                function_timeout=self.handlers[label].timeout,
                batch_size=delivery.batch_size,
                max_batching_window=delivery.max_batching_window,
                max_receive_count=delivery.max_receive_count,
            )
            for label, topic in (("Success", self.success_topic), ("Error", self.error_topic))
        }

        bound = list(destinations)
        if not any(isinstance(d, ResultStoreDestination) for d in bound):
            bound.insert(0, ResultStoreDestination())
        self.destinations: tuple[ResultDestination, ...] = tuple(bound)
        destinations_scope = Construct(self, "Destinations")
        functions = [h.function for h in self.handlers.values()]
        self.destination_bindings: dict[str, DestinationBinding] = {
            destination.construct_id: destination.bind(
                Construct(destinations_scope, destination.construct_id),
                functions=functions,
                encryption_key=key,
            )
            for destination in bound
        }

        # The roles use the key by their identity policies (granted where they are created).
        self.encryption.allow_sns_delivery(self.topics.source_arn_patterns)

        dead_letter_queues: dict[str, sqs.IQueue] = {
            label: d.dead_letter_queue for label, d in self.deliveries.items()
        }
        if self.topics.dead_letter_queue is not None:
            dead_letter_queues["Subscriptions"] = self.topics.dead_letter_queue
        if self.recovery is not None:
            dead_letter_queues["Recovery"] = self.recovery.dead_letter_queue
        for binding in self.destination_bindings.values():
            dead_letter_queues.update(binding.dead_letter_queues)
        self.operations = Operations(
            self,
            "Operations",
            endpoint_name=endpoint_name,
            variant_name=self.endpoint.variant_name,
            functions={label: h.function for label, h in self.handlers.items()},
            dead_letter_queues=dead_letter_queues,
            topics={"Success": self.success_topic, "Error": self.error_topic},
            encryption=self.encryption,
            alarm_topic=alarm_topic,
            alarm_emails=alarm_email_subscriptions,
            oldest_request_age=oldest_request_age,
        )
        self.alarm_topic: sns.ITopic = self.operations.alarm_topic

        self.outputs: dict[str, CfnOutput] = {}
        for name, value in self._output_values().items():
            output = CfnOutput(self, f"Output{name}", value=value)
            output.override_logical_id(f"{output_prefix}{name}")
            self.outputs[name] = output

    def _output_values(self) -> dict[str, str]:
        # Output keys are a contract: the client and the local run look them up by these names.
        values: dict[str, str] = {
            contract.OUTPUT_ENDPOINT_NAME: self.endpoint.endpoint.attr_endpoint_name,
            contract.OUTPUT_BUCKET_NAME: self.bucket.bucket_name,
            contract.OUTPUT_INPUT_PREFIX: self.input_key_prefix,
            contract.OUTPUT_OUTPUT_PREFIX: self.output_key_prefix,
            contract.OUTPUT_FAILURE_PREFIX: self.failure_key_prefix,
            contract.OUTPUT_SUCCESS_TOPIC_ARN: self.success_topic.topic_arn,
            contract.OUTPUT_ERROR_TOPIC_ARN: self.error_topic.topic_arn,
            contract.OUTPUT_RESULTS_TABLE_NAME: self.table.table_name,
            contract.OUTPUT_SUCCESS_FUNCTION_NAME: self.success_function.function_name,
            contract.OUTPUT_ERROR_FUNCTION_NAME: self.error_function.function_name,
            contract.OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL: self.deliveries[
                "Success"
            ].dead_letter_queue.queue_url,
            contract.OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL: self.deliveries["Error"].dead_letter_queue.queue_url,
        }
        values[contract.OUTPUT_ALARM_TOPIC_ARN] = self.alarm_topic.topic_arn
        if self.recovery is not None and self.recovery_function is not None:
            values[contract.OUTPUT_RECOVERY_QUEUE_URL] = self.recovery.queue.queue_url
            values[contract.OUTPUT_RECOVERY_DEAD_LETTER_QUEUE_URL] = self.recovery.dead_letter_queue.queue_url
            values[contract.OUTPUT_RECOVERY_FUNCTION_NAME] = self.recovery_function.function_name
        queues = {"Success": contract.OUTPUT_SUCCESS_QUEUE_URL, "Error": contract.OUTPUT_ERROR_QUEUE_URL}
        for label, delivery in self.deliveries.items():
            if delivery.queue is not None:
                values[queues[label]] = delivery.queue.queue_url
        for binding in self.destination_bindings.values():
            values.update(binding.outputs)
        return values

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


def _problems(
    *,
    endpoint_name: str,
    model_props: ModelProps | None,
    existing_model_name: str | None,
    existing_model_role: iam.IRole | None,
    handlers_dir: str | Path | None,
    code: lambda_.Code | None,
    existing_encryption_key: kms.IKey | None,
    encryption_key_props: EncryptionKeyProps | None,
    existing_bucket: s3.IBucket | None,
    bucket_props: OutputBucketProps | None,
    prefixes: Mapping[str, str],
    existing_table: dynamodb.ITable | None,
    table_props: ResultsTableProps | None,
    autoscaling: AutoscalingProps | None,
    initial_instance_count: int,
    delivery: DeliveryProps,
    https_subscriptions: Sequence[str],
    memory_size: int,
    log_retention_days: int,
    function_props: Mapping[str, Any] | None,
    destinations: Sequence[ResultDestination],
    output_prefix: str,
    existing_keys: Mapping[str, tuple[kms.IKey | None, object | None, str]],
) -> list[str]:
    """Every problem of the props, so that one synth reports them all."""
    problems: list[str] = []
    if not _ENDPOINT_NAME.match(endpoint_name):
        problems.append(
            f"endpoint_name: expected 1-63 letters, digits or hyphens, received {endpoint_name!r}"
        )
    if model_props is not None and existing_model_name is not None:
        problems.append("give either model_props or existing_model_name, not both")
    if existing_model_name is not None and existing_model_role is None:
        problems.append("existing_model_role: required with existing_model_name (it publishes the results)")
    if (handlers_dir is None) == (code is None):
        problems.append("give exactly one of handlers_dir or code")
    elif handlers_dir is not None and not (Path(handlers_dir) / "__init__.py").is_file():
        problems.append(
            f"handlers_dir: expected a folder holding an __init__.py (a package), received {str(handlers_dir)!r}"
        )
    exclusive(
        problems,
        "existing_encryption_key",
        existing_encryption_key,
        "encryption_key_props",
        encryption_key_props,
    )
    exclusive(problems, "existing_bucket", existing_bucket, "bucket_props", bucket_props)
    exclusive(problems, "existing_table", existing_table, "table_props", table_props)
    for name, prefix in prefixes.items():
        problem = prefix_problem(name, prefix)
        if problem:
            problems.append(problem)
    names = list(prefixes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if prefixes[a].startswith(prefixes[b]) or prefixes[b].startswith(prefixes[a]):
                problems.append(
                    f"{a}/{b}: expected prefixes that do not overlap, received {prefixes[a]!r} and {prefixes[b]!r}"
                )
    if autoscaling is not None:
        if autoscaling.min_capacity < 0:
            problems.append(f"autoscaling.min_capacity: expected >= 0, received {autoscaling.min_capacity}")
        if autoscaling.min_capacity > autoscaling.max_capacity:
            problems.append(
                f"autoscaling.min_capacity: expected <= max_capacity ({autoscaling.max_capacity}), "
                f"received {autoscaling.min_capacity}"
            )
        if initial_instance_count > autoscaling.max_capacity:
            problems.append(
                f"initial_instance_count: expected <= autoscaling.max_capacity ({autoscaling.max_capacity}), "
                f"received {initial_instance_count}"
            )
    if delivery.mode not in ("direct", "buffered"):
        problems.append(f"delivery.mode: expected 'direct' or 'buffered', received {delivery.mode!r}")
    if delivery.batch_size > 10 and delivery.max_batching_window.to_seconds() < 1:
        problems.append(
            "delivery.max_batching_window: expected at least 1 second when batch_size is above 10"
        )
    problems += [
        f"https_subscriptions: expected an https:// URL, received {url!r}"
        for url in https_subscriptions
        if not url.startswith("https://")
    ]
    if not 128 <= memory_size <= 10240:
        problems.append(f"memory_size: expected 128-10240, received {memory_size}")
    try:
        retention_days(log_retention_days)
    except ValueError as exc:
        problems.append(str(exc))
    problems += function_props_problems(function_props)
    ids = [d.construct_id for d in destinations]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"destinations: expected each destination once, received {duplicates} more than once")
    for key_name, (given, resource, resource_name) in existing_keys.items():
        if given is not None and resource is None:
            problems.append(
                f"{key_name}: expected only with {resource_name} (the key of that existing resource)"
            )
    if output_prefix and not _OUTPUT_PREFIX.match(output_prefix):
        problems.append(
            f"output_prefix: expected letters and digits, starting with a letter, received {output_prefix!r}"
        )
    return problems
