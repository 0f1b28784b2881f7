"""The sample stack: composes the constructs from a :class:`~sagemaker_async_results.cdk.config.StackConfig`. No logic of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_async_results.cdk.bundling import result_handler_code
from sagemaker_async_results.cdk.config import StackConfig
from sagemaker_async_results.cdk.constructs import (
    AsyncInferenceEndpoint,
    EncryptionKey,
    EndpointAutoscaling,
    ModelProps,
    Operations,
    OutputBucket,
    OutputBucketProps,
    ResultDestinations,
    ResultHandlerFunction,
    ResultsTable,
    ResultTopics,
    TopicProps,
    deliver,
)
from sagemaker_async_results.cdk.constructs.result_handler import retention_days

__all__ = ["HANDLERS_DIR", "AsyncInferenceStack"]

#: The sample's handler plugins, deployed as the package ``handlers``.
HANDLERS_DIR = Path(__file__).resolve().parent.parent / "functions" / "handlers"


class AsyncInferenceStack(Stack):
    """SageMaker async inference endpoint whose results go to SNS topics and then to handler functions.

    Parameters
    ----------
    config: validated configuration (see :func:`sagemaker_async_results.cdk.config.parse_context`).
    code: the handlers' code asset; default :func:`sagemaker_async_results.cdk.bundling.result_handler_code` ().
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "SageMaker async inference with SNS result notifications (async-results)"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        key = EncryptionKey(self, "Encryption")

        bucket = OutputBucket(
            self,
            "Storage",
            encryption_key=None if config.existing_bucket_name else key.key,
            existing_bucket=(
                s3.Bucket.from_bucket_name(self, "ExistingBucket", config.existing_bucket_name)
                if config.existing_bucket_name
                else None
            ),
            bucket_props=(
                None
                if config.existing_bucket_name
                else OutputBucketProps(expiration_days=config.output_expiration_days)
            ),
            input_prefix=config.input_prefix,
            output_prefix=config.output_prefix,
            failure_prefix=config.failure_prefix,
        )
        topics = ResultTopics(
            self,
            "Notifications",
            encryption_key=key.key,
            existing_success_topic=self._topic("ExistingSuccessTopic", config.existing_success_topic_arn),
            existing_error_topic=self._topic("ExistingErrorTopic", config.existing_error_topic_arn),
            topic_props=TopicProps(
                success_topic_name=None
                if config.existing_success_topic_arn
                else f"{config.endpoint_name}-success",
                error_topic_name=None if config.existing_error_topic_arn else f"{config.endpoint_name}-error",
            ),
            email_subscriptions=config.subscriptions.email,
            https_subscriptions=config.subscriptions.https,
            sqs_subscription_queue_arns=config.subscriptions.sqs_queue_arns,
        )
        endpoint = AsyncInferenceEndpoint(
            self,
            "Inference",
            endpoint_name=config.endpoint_name,
            bucket=bucket.bucket,
            input_prefix=config.input_prefix,
            output_prefix=config.output_prefix,
            failure_prefix=config.failure_prefix,
            success_topic=topics.success_topic,
            error_topic=topics.error_topic,
            encryption_key=key.key,
            model_props=(
                ModelProps(
                    image=config.model.image,
                    model_data_url=config.model.model_data_url,
                    environment=config.model.environment,
                )
                if config.model
                else None
            ),
            existing_model_name=config.existing_model_name,
            existing_model_role=(
                iam.Role.from_role_arn(self, "ExistingModelRole", config.existing_model_role_arn)
                if config.existing_model_role_arn
                else None
            ),
            instance_type=config.instance_type,
            initial_instance_count=config.initial_instance_count,
            max_concurrent_invocations_per_instance=config.max_concurrent_invocations_per_instance,
            include_inference_response_in=config.include_inference_response_in,
        )
        topics.restrict_publish_to(endpoint.execution_role)

        if config.autoscaling.enabled:
            EndpointAutoscaling(
                self,
                "Autoscaling",
                endpoint_name=config.endpoint_name,
                variant_name=endpoint.variant_name,
                endpoint=endpoint.endpoint,
                min_capacity=config.autoscaling.min_capacity,
                max_capacity=config.autoscaling.max_capacity,
                target_backlog_per_instance=config.autoscaling.target_backlog_per_instance,
                scale_in_cooldown_seconds=config.autoscaling.scale_in_cooldown_seconds,
                scale_out_cooldown_seconds=config.autoscaling.scale_out_cooldown_seconds,
            )

        table = ResultsTable(self, "Results", encryption_key=key.key)
        code = code or result_handler_code(self, HANDLERS_DIR)
        handlers: dict[str, ResultHandlerFunction] = {}
        for label, prefix in (("Success", config.output_prefix), ("Error", config.failure_prefix)):
            handlers[label] = ResultHandlerFunction(
                self,
                f"{label}Handler",
                code=code,
                bucket=bucket.bucket,
                readable_prefix=prefix,
                table=table.table,
                encryption_key=key.key,
                handler_modules=config.handler_modules,
                max_payload_bytes=config.max_payload_bytes,
                result_ttl_days=config.result_ttl_days,
                result_store_enabled=config.destinations.result_store,
                delivery_mode=config.delivery.mode,
                memory_size=config.function_memory_mb,
                timeout=Duration.seconds(config.function_timeout_seconds),
                log_retention=retention_days(config.log_retention_days),
                description=f"Handles {label.lower()} notifications of SageMaker endpoint {config.endpoint_name}",
            )
        deliveries = {
            label: deliver(
                self,
                f"{label}Delivery",
                mode=config.delivery.mode,
                topic=topic,
                function=handlers[label].function,
                encryption_key=key.key,
                function_timeout=handlers[label].timeout,
                batch_size=config.delivery.batch_size,
                max_batching_window=Duration.seconds(config.delivery.max_batching_window_seconds),
                max_receive_count=config.delivery.max_receive_count,
            )
            for label, topic in (("Success", topics.success_topic), ("Error", topics.error_topic))
        }
        destinations = ResultDestinations(
            self,
            "Destinations",
            handlers=list(handlers.values()),
            encryption_key=key.key,
            event_bridge_enabled=config.destinations.event_bridge_enabled,
            event_bus_name=config.destinations.event_bus_name,
            sqs_enabled=config.destinations.sqs_enabled,
            step_functions_callback_enabled=config.destinations.step_functions_callback_enabled,
            state_machine_arns=config.destinations.state_machine_arns,
        )

        key.allow_use(endpoint.execution_role, *(h.role for h in handlers.values()))
        key.allow_sns_delivery(topics.source_arn_patterns)

        dead_letter_queues = {label: d.dead_letter_queue for label, d in deliveries.items()}
        if destinations.results_dead_letter_queue is not None:
            dead_letter_queues["Results"] = destinations.results_dead_letter_queue
        Operations(
            self,
            "Operations",
            endpoint_name=config.endpoint_name,
            variant_name=endpoint.variant_name,
            functions={label: h.function for label, h in handlers.items()},
            dead_letter_queues=dead_letter_queues,
        )

        # Output keys are a contract (docs/ARCHITECTURE.md): the local run and the client look them up.
        outputs: dict[str, str] = {
            "EndpointName": endpoint.endpoint.attr_endpoint_name,
            "BucketName": bucket.bucket.bucket_name,
            "InputPrefix": config.input_prefix,
            "OutputPrefix": config.output_prefix,
            "FailurePrefix": config.failure_prefix,
            "SuccessTopicArn": topics.success_topic.topic_arn,
            "ErrorTopicArn": topics.error_topic.topic_arn,
            "ResultsTableName": table.table.table_name,
            "SuccessFunctionName": handlers["Success"].function.function_name,
            "ErrorFunctionName": handlers["Error"].function.function_name,
            "SuccessDeadLetterQueueUrl": deliveries["Success"].dead_letter_queue.queue_url,
            "ErrorDeadLetterQueueUrl": deliveries["Error"].dead_letter_queue.queue_url,
        }
        for label, delivery in deliveries.items():
            if delivery.queue is not None:
                outputs[f"{label}QueueUrl"] = delivery.queue.queue_url
        if destinations.results_queue is not None:
            outputs["ResultsQueueUrl"] = destinations.results_queue.queue_url
        if destinations.event_bus is not None:
            outputs["EventBusName"] = destinations.event_bus.event_bus_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

    def _topic(self, construct_id: str, arn: str | None) -> sns.ITopic | None:
        return sns.Topic.from_topic_arn(self, construct_id, arn) if arn else None
