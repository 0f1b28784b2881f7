"""``AsyncResultsPipeline``: everything that receives and routes async inference results, no endpoint.

The pipeline owns the customer managed key, the bucket (or an existing bucket and its prefixes), the
success and error topics, the results table, the result-handler functions with their delivery, the
built-in destinations, the recovery of lost notifications, alarms, a dashboard and the stack outputs.
Any number of async endpoints publish into it: endpoints created by :class:`AsyncResultsEndpoint`
(``sagemaker_async_results.cdk.endpoint``) plug in themselves; endpoints deployed by other tools (the
SageMaker Python SDK, boto3, Terraform, another stack) are named by ``endpoint_names`` and their
execution roles are given by ``execution_roles`` (or attach the ``PublisherPolicyArn`` output's managed
policy yourself). Handlers already see each result's endpoint name and can match on it.

Example
-------
>>> pipeline = AsyncResultsPipeline(  # doctest: +SKIP
...     stack, "Results",
...     name="fraud-results",
...     handlers_dir="functions/handlers",
...     endpoint_names=["fraud-scorer"],
...     execution_roles=["arn:aws:iam::123456789012:role/SageMakerExecution"],
... )
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from sagemaker_async_results.cdk.constructs._nag import acknowledge_iam5_resource, nag_text
from sagemaker_async_results.cdk.constructs._props import check, exclusive, prefix_problem
from sagemaker_async_results.cdk.constructs.client_access import ClientAccess
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
from sagemaker_async_results.cdk.constructs.topics import ResultTopics, TopicProps
from sagemaker_async_results.cdk.destinations import (
    DestinationBinding,
    ReplyQueueDestination,
    ResultDestination,
    ResultStoreDestination,
)
from sagemaker_async_results.cdk.destinations.kinesis import KinesisDestination
from sagemaker_async_results.cdk.destinations.results_queue import ResultsQueueDestination

__all__ = ["AsyncResultsPipeline", "DeliveryProps", "RecoveryProps", "pipeline_problems"]

#: Endpoint names as SageMaker accepts them; the pipeline's name follows the same rule (it names topics).
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_OUTPUT_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_SIXTY_SECONDS = Duration.seconds(60)
_FIFTEEN_MINUTES = Duration.minutes(15)
_THIRTY_MINUTES = Duration.minutes(30)
_ONE_SECOND = Duration.seconds(1)


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


class AsyncResultsPipeline(Construct):
    """Receives the results of any number of SageMaker async endpoints and routes each exactly once.

    Secure by default: one customer managed key (rotated) encrypts bucket, topics, queues and table;
    SSL-only bucket, topics and queues; once a publisher is known, topics are publishable only by the
    endpoints' execution roles; functions granted exact actions on their own prefix, table, key and
    destinations; nothing dropped: every subscription and queue has a dead-letter queue, every
    dead-letter queue an alarm, every alarm notifies the alarm topic, and a result whose notification
    never arrives is recovered from its S3 object.

    Parameters
    ----------
    name:
        Names the created topics ``<name>-success`` and ``<name>-error`` and appears in descriptions;
        default ``"async-results"``.
    endpoint_names:
        Endpoints deployed elsewhere that publish here: their failure metrics and oldest queued request
        get alarms and dashboard graphs. With exactly one name it is the ``EndpointName`` output (the
        client's default endpoint). Default none: the pipeline still routes every notification its
        topics receive, whichever endpoint sent it. Endpoints built by :class:`AsyncResultsEndpoint`
        add themselves.
    execution_roles:
        SageMaker execution roles (``IRole`` or role ARN) of those endpoints: each gets the publisher
        managed policy (S3 reads of the input prefix, writes to the output and failure prefixes,
        ``sns:Publish`` on both topics, use of the key), and the created topics' policy lets only the
        known execution roles publish. Default none (attach the ``PublisherPolicyArn`` output yourself;
        the topics then accept any principal of the account that an identity policy allows).
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
        Use these topics (each independently); default new topics named after ``name``.
    topic_display_name:
        Display name of created topics; default none.
    email_subscriptions, https_subscriptions, sqs_subscription_queue_arns:
        Extra subscriptions of both topics; default none.
    existing_table, table_props:
        Use this results table (same schema: ``pk`` string, TTL ``expiresAt``), or create one with
        these props; default a new table with :class:`ResultsTableProps` defaults (retained).
    delivery:
        Default :class:`DeliveryProps` () (direct).
    destinations:
        Built-in destinations to bind (see :mod:`sagemaker_async_results.cdk.destinations`); default
        the result store and the callers' reply queues. The result store is added unless a
        ``ResultStoreDestination`` is given (``ResultStoreDestination(enabled=False)`` switches it off),
        the reply queues unless a ``ReplyQueueDestination`` is (``ReplyQueueDestination(enabled=False)``).
    memory_size: default 512 MB. timeout: default 60 seconds. log_retention_days: default 30.
    max_payload_bytes: larger payloads are handed to handlers by reference; default 10 MiB.
    result_ttl_days: days a result record is kept; default 30.
    function_props:
        Escape hatch: ``aws_lambda.Function`` keyword arguments merged into every function (``vpc``,
        ``reserved_concurrent_executions``, ``layers``, extra ``environment``...); default none. The
        functions are also exposed as :attr:`success_function` and :attr:`error_function`.
    alarm_topic:
        An existing topic every alarm notifies (its policy must let ``cloudwatch.amazonaws.com`` publish
        and its key, if any, let it use the key); default a new topic encrypted with the stack's key.
    alarm_email_subscriptions:
        E-mail addresses subscribed to the alarm topic (with a dead-letter queue); default none.
    oldest_request_age:
        Alarm when an endpoint's oldest queued request is older than this; default 30 minutes.
    recovery:
        Default :class:`RecoveryProps` (); ``None`` switches recovery off (a result whose notification
        never arrives then stays unrouted; the ``NotificationFailures`` alarm still fires).
    existing_bucket_key, existing_success_topic_key, existing_error_topic_key:
        Customer managed keys of an existing bucket (SSE-KMS) and existing topics; publishers (and, for
        the bucket, the functions) are granted their use. Default: the key the existing resource
        construct knows (``encryption_key`` / ``master_key``), else none.
    output_prefix:
        Prefix of the stack outputs' keys (letters and digits), so that two pipelines fit in one stack;
        default none: the keys are exactly the ``OUTPUT_*`` names of :mod:`contract`.

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
        name: str = "async-results",
        endpoint_names: Sequence[str] = (),
        execution_roles: Sequence[iam.IRole | str] = (),
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
        output_prefix: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        check(
            type(self).__name__,
            pipeline_problems(
                name=name,
                endpoint_names=endpoint_names,
                handlers_dir=handlers_dir,
                code=code,
                existing_encryption_key=existing_encryption_key,
                encryption_key_props=encryption_key_props,
                existing_bucket=existing_bucket,
                bucket_props=bucket_props,
                input_key_prefix=input_key_prefix,
                output_key_prefix=output_key_prefix,
                failure_key_prefix=failure_key_prefix,
                existing_table=existing_table,
                table_props=table_props,
                delivery=delivery,
                https_subscriptions=https_subscriptions,
                memory_size=memory_size,
                log_retention_days=log_retention_days,
                function_props=function_props,
                destinations=destinations,
                output_prefix=output_prefix,
                existing_bucket_key=existing_bucket_key,
                existing_success_topic=existing_success_topic,
                existing_success_topic_key=existing_success_topic_key,
                existing_error_topic=existing_error_topic,
                existing_error_topic_key=existing_error_topic_key,
            ),
        )
        self.name = name
        self.endpoint_names: list[str] = list(dict.fromkeys(endpoint_names))
        self.input_key_prefix = input_key_prefix
        self.output_key_prefix = output_key_prefix
        self.failure_key_prefix = failure_key_prefix
        self.output_prefix = output_prefix
        served = self.endpoint_names[0] if len(self.endpoint_names) == 1 else ""
        serves = f"SageMaker endpoint {served}" if served else f"results pipeline {name}"

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
                success_topic_name=None if existing_success_topic else f"{name}-success",
                error_topic_name=None if existing_error_topic else f"{name}-error",
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
                description=f"Handles {label.lower()} notifications of {serves}",
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
                description=f"Routes results of {serves} whose notification never came",
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
                endpoint_name=served,
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
        if not any(isinstance(d, ReplyQueueDestination) for d in bound):
            bound.append(ReplyQueueDestination())  # the client's push, on by default
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
            endpoint_names=self.endpoint_names,
            functions={label: h.function for label, h in self.handlers.items()},
            dead_letter_queues=dead_letter_queues,
            topics={"Success": self.success_topic, "Error": self.error_topic},
            encryption=self.encryption,
            alarm_topic=alarm_topic,
            alarm_emails=alarm_email_subscriptions,
            oldest_request_age=oldest_request_age,
        )
        self.alarm_topic: sns.ITopic = self.operations.alarm_topic

        self.publisher_policy = self._publisher_policy()
        # What a client needs (submit, upload, read results, the result store, the results delivery), as
        # the ClientPolicyArn output's managed policy and through grant_client().
        self.client_access = ClientAccess(
            self,
            bucket=self.bucket,
            input_prefix=self.input_key_prefix,
            output_prefix=self.output_key_prefix,
            failure_prefix=self.failure_key_prefix,
            keys=[k for k in (self.encryption_key, self.bucket_key) if k is not None],
            table=self.table,
            results_queues=[d.queue for d in bound if isinstance(d, ResultsQueueDestination) and d.queue],
            results_streams=[d.stream for d in bound if isinstance(d, KinesisDestination) and d.stream],
            endpoint_names=self.endpoint_names,
        )
        self.client_policy = self.client_access.managed_policy(self, "ClientPolicy")
        for destination in bound:
            if isinstance(destination, ReplyQueueDestination):
                destination.add_caller_statements(self.client_policy)  # one policy is all a caller needs
        for index, role in enumerate(execution_roles):
            self.add_publisher(
                role
                if not isinstance(role, str)
                else iam.Role.from_role_arn(self, f"ExecutionRole{index}", role, mutable=True)
            )

        self.outputs: dict[str, CfnOutput] = {}
        for output_name, value in self._output_values().items():
            self._add_output(output_name, value)

    # --- endpoints ------------------------------------------------------------------------------------

    def add_publisher(self, role: iam.IRole, *, attach_policy: bool = True) -> None:
        """Let a SageMaker execution role publish results here.

        The created topics' policy then allows only the known publishers; ``attach_policy`` attaches the
        publisher managed policy (turn it off for a role that already holds the same grants).
        """
        self.topics.restrict_publish_to(role)
        if attach_policy:
            self.publisher_policy.attach_to_role(role)

    def grant_client(self, grantee: iam.IGrantable) -> None:
        """Give a client of the app (a role, a function, a task role) what it needs to submit requests and
        await their results: the ``ClientPolicyArn`` output's statements (see :class:`ClientAccess`;
        with reply queues on, they include the ``ReplyQueueCallerPolicyArn`` output's)."""
        self.client_access.grant(grantee)
        for destination in self.destinations:
            if isinstance(destination, ReplyQueueDestination):
                destination.grant_caller(grantee)

    def watch_endpoint(
        self, endpoint_name: str, variant_name: str | None = None, *, name_value: str | None = None
    ) -> None:
        """Alarms and dashboard graphs for one more endpoint that publishes here.

        The ``EndpointName`` output names the endpoint while the pipeline serves exactly one (with
        ``name_value``, e.g. the endpoint resource's name attribute, as its value); with more it is
        removed, and clients name the endpoint they call.
        """
        if endpoint_name not in self.endpoint_names:
            self.endpoint_names.append(endpoint_name)
        self.operations.watch_endpoint(endpoint_name, variant_name)
        self.client_access.add_endpoint(endpoint_name)
        output = self.outputs.get(contract.OUTPUT_ENDPOINT_NAME)
        if len(self.endpoint_names) == 1:
            if output is None:
                output = self._add_output(contract.OUTPUT_ENDPOINT_NAME, endpoint_name)
            if name_value is not None:
                output.value = name_value
        elif output is not None:
            self.node.try_remove_child(output.node.id)
            del self.outputs[contract.OUTPUT_ENDPOINT_NAME]

    def _publisher_policy(self) -> iam.ManagedPolicy:
        statements = [
            iam.PolicyStatement(
                sid="ReadInputs",
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(f"{self.input_key_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="WriteOutputsAndFailures",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    self.bucket.arn_for_objects(f"{self.output_key_prefix}*"),
                    self.bucket.arn_for_objects(f"{self.failure_key_prefix}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="PublishNotifications",
                actions=["sns:Publish"],
                resources=[self.success_topic.topic_arn, self.error_topic.topic_arn],
            ),
            iam.PolicyStatement(
                sid="UseKey",
                actions=list(contract.KMS_USE_ACTIONS),
                resources=list(
                    dict.fromkeys([self.encryption_key.key_arn, *(k.key_arn for k in self.additional_keys)])
                ),
            ),
        ]
        policy = iam.ManagedPolicy(
            self,
            "PublisherPolicy",
            description=f"What a SageMaker execution role needs to publish results into {self.name}",
            statements=statements,
        )
        reasons = {
            "ReadInputs": "object-level read of the input prefix only (async requests name any key under it)",
            "WriteOutputsAndFailures": "object-level writes under the output and failure prefixes only "
            "(SageMaker names each result object)",
        }
        resource = policy.node.default_child
        assert resource is not None
        for statement in statements:
            for arn in statement.resources:
                if "*" in nag_text(self, arn) and statement.sid in reasons:
                    acknowledge_iam5_resource(resource, arn, reasons[statement.sid])
        return policy

    # --- outputs --------------------------------------------------------------------------------------

    def _add_output(self, output_name: str, value: str) -> CfnOutput:
        output = CfnOutput(self, f"Output{output_name}", value=value)
        output.override_logical_id(f"{self.output_prefix}{output_name}")
        self.outputs[output_name] = output
        return output

    def _output_values(self) -> dict[str, str]:
        # Output keys are a contract: the client and the local run look them up by these names.
        values: dict[str, str] = {}
        if len(self.endpoint_names) == 1:
            values[contract.OUTPUT_ENDPOINT_NAME] = self.endpoint_names[0]
        values.update(
            {
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
                contract.OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL: self.deliveries[
                    "Error"
                ].dead_letter_queue.queue_url,
                contract.OUTPUT_ENCRYPTION_KEY_ARN: self.encryption_key.key_arn,
                contract.OUTPUT_PUBLISHER_POLICY_ARN: self.publisher_policy.managed_policy_arn,
                contract.OUTPUT_CLIENT_POLICY_ARN: self.client_policy.managed_policy_arn,
            }
        )
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


def pipeline_problems(
    *,
    name: str,
    endpoint_names: Sequence[str],
    handlers_dir: str | Path | None,
    code: lambda_.Code | None,
    existing_encryption_key: kms.IKey | None,
    encryption_key_props: EncryptionKeyProps | None,
    existing_bucket: s3.IBucket | None,
    bucket_props: OutputBucketProps | None,
    input_key_prefix: str,
    output_key_prefix: str,
    failure_key_prefix: str,
    existing_table: dynamodb.ITable | None,
    table_props: ResultsTableProps | None,
    delivery: DeliveryProps,
    https_subscriptions: Sequence[str],
    memory_size: int,
    log_retention_days: int,
    function_props: Mapping[str, Any] | None,
    destinations: Sequence[ResultDestination],
    output_prefix: str,
    existing_bucket_key: kms.IKey | None,
    existing_success_topic: sns.ITopic | None,
    existing_success_topic_key: kms.IKey | None,
    existing_error_topic: sns.ITopic | None,
    existing_error_topic_key: kms.IKey | None,
    name_prop: str = "name",
) -> list[str]:
    """Every problem of the pipeline's props, so that one synth reports them all."""
    problems: list[str] = []
    prefixes = {
        "input_key_prefix": input_key_prefix,
        "output_key_prefix": output_key_prefix,
        "failure_key_prefix": failure_key_prefix,
    }
    existing_keys = {
        "existing_bucket_key": (existing_bucket_key, existing_bucket, "existing_bucket"),
        "existing_success_topic_key": (
            existing_success_topic_key,
            existing_success_topic,
            "existing_success_topic",
        ),
        "existing_error_topic_key": (existing_error_topic_key, existing_error_topic, "existing_error_topic"),
    }
    if not NAME_PATTERN.match(name):
        problems.append(f"{name_prop}: expected 1-63 letters, digits or hyphens, received {name!r}")
    problems += [
        f"endpoint_names: expected 1-63 letters, digits or hyphens, received {endpoint!r}"
        for endpoint in endpoint_names
        if not NAME_PATTERN.match(endpoint)
    ]
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
    for prefix_name, prefix in prefixes.items():
        problem = prefix_problem(prefix_name, prefix)
        if problem:
            problems.append(problem)
    names = list(prefixes)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if prefixes[a].startswith(prefixes[b]) or prefixes[b].startswith(prefixes[a]):
                problems.append(
                    f"{a}/{b}: expected prefixes that do not overlap, received {prefixes[a]!r} and {prefixes[b]!r}"
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
