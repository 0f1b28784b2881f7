"""CDK context as one pydantic model: :class:`StackConfig`, the single home of every key's default.

Keys are camelCase in ``cdk.json`` and ``-c key=value`` (``alias_generator=to_camel``), snake_case in
Python. Unknown keys are errors (``extra="forbid"``), field constraints check ranges and patterns, and
model validators check the rules that span fields. Every problem is reported at once in one
:class:`ConfigError` whose lines say the key path, what was expected and what was received. Values
given on the command line arrive as strings: numbers, booleans, lists and objects are accepted as JSON
text too, and ``null`` (or an empty string) clears an optional ``existing*`` key.

Example
-------
>>> config = parse_context({"endpointName": "demo", "delivery": {"mode": "buffered"}})
>>> config.delivery.mode
'buffered'
"""

from __future__ import annotations

import json
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Self, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError, PydanticUseDefault

__all__ = [
    "DEFAULT_MODEL_ENVIRONMENT",
    "DEFAULT_MODEL_IMAGE",
    "INCLUDE_INFERENCE_RESPONSE_VALUES",
    "LOG_RETENTION_DAYS",
    "AlarmsConfig",
    "AutoscalingConfig",
    "ConfigError",
    "DeliveryConfig",
    "DestinationsConfig",
    "EventBridgeConfig",
    "KinesisConfig",
    "ModelConfig",
    "RecoveryConfig",
    "ResultsQueueConfig",
    "StackConfig",
    "StepFunctionsCallbackConfig",
    "SubscriptionsConfig",
    "VpcConfig",
    "context_keys",
    "context_reference_markdown",
    "default_context",
    "parse_context",
]

DeliveryMode = Literal["direct", "buffered"]
IncludeInferenceResponseIn = Literal["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"]
INCLUDE_INFERENCE_RESPONSE_VALUES: tuple[str, ...] = get_args(IncludeInferenceResponseIn)

#: A real public inference container: the Hugging Face PyTorch inference DLC (CPU), resolved per region:
#: the registry account of the region comes from aws-cdk-lib's region facts (``${DlcRepositoryAccount}``).
DEFAULT_MODEL_IMAGE = (
    "${DlcRepositoryAccount}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/"
    "huggingface-pytorch-inference:2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04"
)

#: The sample model's container environment: a small sentiment classifier from the Hugging Face Hub.
DEFAULT_MODEL_ENVIRONMENT: Mapping[str, str] = types.MappingProxyType(
    {
        "HF_MODEL_ID": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
        "HF_TASK": "text-classification",
    }
)

#: CloudWatch Logs retention periods accepted by ``AWS::Logs::LogGroup`` (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _matching(pattern: str, expected: str) -> Callable[[str], str]:
    """A validator of strings matching ``pattern``; its error says ``expected`` in words."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise PydanticCustomError("pattern", "{expected}", {"expected": expected})
        return value

    return check


EndpointName = Annotated[
    StrictStr,
    AfterValidator(
        _matching(
            r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
            "1-63 letters, digits or hyphens, starting and ending with a letter or digit",
        )
    ),
]
ModelName = Annotated[
    StrictStr, AfterValidator(_matching(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", "a SageMaker model name"))
]
InstanceType = Annotated[
    StrictStr,
    AfterValidator(
        _matching(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$", "a SageMaker instance type such as ml.m5.xlarge")
    ),
]
Prefix = Annotated[
    StrictStr,
    AfterValidator(
        _matching(
            r"^(?:[A-Za-z0-9!_.*'()=-]+/)+$",
            "an S3 key prefix like 'async-inference/outputs/' (no leading slash, ends with '/')",
        )
    ),
]
S3Url = Annotated[
    StrictStr,
    AfterValidator(_matching(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", "an s3://bucket/key URL")),
]
BucketName = Annotated[
    StrictStr, AfterValidator(_matching(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "an S3 bucket name"))
]
TopicArn = Annotated[
    StrictStr,
    AfterValidator(
        _matching(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$", "an SNS topic ARN")
    ),
]
QueueArn = Annotated[
    StrictStr,
    AfterValidator(
        _matching(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$", "an SQS queue ARN")
    ),
]
StateMachineArn = Annotated[
    StrictStr,
    AfterValidator(
        _matching(
            r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$",
            "a Step Functions state machine ARN",
        )
    ),
]
RoleArn = Annotated[
    StrictStr,
    AfterValidator(_matching(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$", "an IAM role ARN")),
]
Email = Annotated[StrictStr, AfterValidator(_matching(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address"))]
HttpsUrl = Annotated[StrictStr, AfterValidator(_matching(r"^https://\S+$", "an https:// URL"))]
ModuleName = Annotated[
    StrictStr,
    AfterValidator(_matching(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", "a Python module name")),
]
EventBusName = Annotated[
    StrictStr, AfterValidator(_matching(r"^[A-Za-z0-9/._-]{1,256}$", "an EventBridge event bus name"))
]
StreamArn = Annotated[
    StrictStr,
    AfterValidator(
        _matching(
            r"^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream/[A-Za-z0-9_.-]{1,128}$", "a Kinesis stream ARN"
        )
    ),
]
KeyArn = Annotated[
    StrictStr,
    AfterValidator(
        _matching(
            r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}$",
            "a KMS key ARN (arn:...:key/<id>)",
        )
    ),
]
SubnetId = Annotated[StrictStr, AfterValidator(_matching(r"^subnet-[0-9a-f]{8,17}$", "a subnet ID"))]
SecurityGroupId = Annotated[
    StrictStr, AfterValidator(_matching(r"^sg-[0-9a-f]{8,17}$", "a security group ID"))
]
ContainerImage = Annotated[
    StrictStr, AfterValidator(_matching(r"^\S+$", "a container image URI (ECR or public)"))
]


def _rule(path: str, expected: str, received: Any) -> tuple[str, str, Any]:
    """One cross-field problem: key path relative to the model, what was expected, what was received."""
    return (path, expected, received)


def _raise_rules(problems: list[tuple[str, str, Any]]) -> None:
    if problems:
        raise PydanticCustomError("context_rules", "cross-field rules", {"problems": problems})


def _accepts_text(annotation: Any) -> bool:
    """Whether a field takes strings as they are (no JSON decoding of command-line text)."""
    origin = get_origin(annotation)
    if annotation is str:
        return True
    if origin is Annotated:
        return _accepts_text(get_args(annotation)[0])
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return any(_accepts_text(arg) for arg in get_args(annotation) if arg is not type(None))
    return False


def _is_string_list(annotation: Any) -> bool:
    return get_origin(annotation) is tuple and all(
        _accepts_text(arg) for arg in get_args(annotation) if arg is not Ellipsis
    )


def _allows_none(annotation: Any) -> bool:
    origin = get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in get_args(annotation)


class _Context(BaseModel):
    """Shared behaviour of every context section: camelCase keys, unknown keys refused, CLI text decoded."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, validate_default=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _from_command_line(cls, value: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        annotation = cls.model_fields[info.field_name].annotation
        if value is None or (value in ("", "null") and _allows_none(annotation)):
            if _allows_none(annotation):
                return None
            raise PydanticUseDefault()  # null for a key with a default means "the default"
        if not isinstance(value, str) or _accepts_text(annotation):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            if _is_string_list(annotation):  # `-c handlerModules=a,b`
                return [item.strip() for item in value.split(",") if item.strip()]
            return value


class ModelConfig(_Context):
    """The model the stack creates (absent when ``existingModelName`` is given)."""

    image: ContainerImage = Field(
        DEFAULT_MODEL_IMAGE,
        description="Container image URI; may contain `${AWS::Region}`, `${AWS::URLSuffix}` and "
        "`${DlcRepositoryAccount}` (the region's Deep Learning Containers account). The execution role may "
        "pull exactly this ECR repository.",
    )
    model_data_url: S3Url | None = Field(
        None, description="`s3://` URL of the model artifact; null when the image holds the model."
    )
    environment: dict[str, StrictStr] = Field(
        default_factory=lambda: dict(DEFAULT_MODEL_ENVIRONMENT),
        description="Environment variables of the model container.",
    )


class SubscriptionsConfig(_Context):
    """Extra subscriptions added to both topics."""

    email: tuple[Email, ...] = Field((), description="Email addresses subscribed to both topics.")
    https: tuple[HttpsUrl, ...] = Field((), description="https:// endpoints subscribed to both topics.")
    sqs_queue_arns: tuple[QueueArn, ...] = Field((), description="SQS queues subscribed to both topics.")


class AutoscalingConfig(_Context):
    """Endpoint variant autoscaling on the async backlog, down to zero instances."""

    enabled: StrictBool = Field(True, description="Scale the variant on its backlog.")
    min_capacity: StrictInt = Field(0, ge=0, le=100, description="Fewest instances; 0 scales to zero.")
    max_capacity: StrictInt = Field(2, ge=1, le=100, description="Most instances.")
    target_backlog_per_instance: float = Field(
        5, gt=0, le=100000, strict=True, description="Queued requests per instance the scaling aims at."
    )
    scale_in_cooldown_seconds: StrictInt = Field(
        600, ge=0, le=86400, description="Seconds between scale-ins."
    )
    scale_out_cooldown_seconds: StrictInt = Field(
        300, ge=0, le=86400, description="Seconds between scale-outs."
    )

    @model_validator(mode="after")
    def _capacity_range(self) -> Self:
        if self.min_capacity > self.max_capacity:
            _raise_rules(
                [_rule("minCapacity", f"at most maxCapacity ({self.max_capacity})", self.min_capacity)]
            )
        return self


class DeliveryConfig(_Context):
    """How notifications reach the result-handler functions."""

    mode: DeliveryMode = Field(
        "direct", description="`direct` (SNS -> Lambda) or `buffered` (SNS -> SQS -> Lambda, batched)."
    )
    batch_size: StrictInt = Field(10, ge=1, le=10000, description="Buffered mode: records per invocation.")
    max_batching_window_seconds: StrictInt = Field(
        1, ge=0, le=300, description="Buffered mode: seconds Lambda waits to fill a batch."
    )
    max_receive_count: StrictInt = Field(
        5,
        ge=1,
        le=1000,
        description="Buffered mode: receives before a message moves to the dead-letter queue (AWS advises "
        "at least 5, so that batches failed by throttling are not dead-lettered).",
    )

    @model_validator(mode="after")
    def _batching_window(self) -> Self:
        if self.batch_size > 10 and self.max_batching_window_seconds < 1:
            _raise_rules(
                [
                    _rule(
                        "maxBatchingWindowSeconds",
                        "at least 1 when batchSize is above 10 (an SQS event source rule)",
                        self.max_batching_window_seconds,
                    )
                ]
            )
        return self


class AlarmsConfig(_Context):
    """Where alarms notify a person: every alarm of the stack has this topic as its action."""

    topic_arn: TopicArn | None = Field(
        None,
        description="Existing topic the alarms notify: its topic policy must allow `cloudwatch.amazonaws.com` "
        "`sns:Publish` (a topic policy replaces SNS's default) and its key, if any, let CloudWatch use it "
        "(see docs/security.md); null creates one encrypted with the stack's key that CloudWatch may use.",
    )
    email: tuple[Email, ...] = Field((), description="Email addresses subscribed to the alarm topic.")
    oldest_request_age_seconds: StrictInt = Field(
        1800,
        ge=60,
        le=21600,
        description="Alarm when the endpoint's oldest queued request (`ApproximateAgeOfOldestRequest`) is "
        "older than this.",
    )


class RecoveryConfig(_Context):
    """Recovery of results whose notification never arrives (S3 events -> delayed queue -> routing)."""

    enabled: StrictBool = Field(
        True,
        description="Route results whose object is in S3 but whose notification did not arrive within "
        "`delaySeconds`, exactly once, through the same handlers.",
    )
    delay_seconds: StrictInt = Field(
        900,
        ge=0,
        le=900,
        description="Seconds after the object was written before it is checked (SQS DelaySeconds; 900 is "
        "SQS's maximum).",
    )
    require_submitted_record: StrictBool = Field(
        True,
        description="Recover only requests the client recorded as Submitted (objects of requests made "
        "without the client are then logged and left alone).",
    )


class VpcConfig(_Context):
    """The model containers' VPC (``VpcConfig`` of the model)."""

    subnet_ids: tuple[SubnetId, ...] = Field((), description="Subnets of the model containers (1-16).")
    security_group_ids: tuple[SecurityGroupId, ...] = Field(
        (), description="Security groups of the model containers (1-5)."
    )


class EventBridgeConfig(_Context):
    """EventBridge destination: one event per result."""

    enabled: StrictBool = Field(False, description="Put each result record on an event bus.")
    bus_name: EventBusName = Field("default", description="The event bus (`events:PutEvents` on it only).")


class ResultsQueueConfig(_Context):
    """SQS destination: the result record as a message on a KMS-encrypted results queue."""

    enabled: StrictBool = Field(False, description="Create the results queue (with its dead-letter queue).")


class StepFunctionsCallbackConfig(_Context):
    """Step Functions callback destination: answer the task token in the request's custom attributes."""

    enabled: StrictBool = Field(False, description="Answer task tokens with SendTaskSuccess/Failure.")
    state_machine_arns: tuple[StateMachineArn, ...] = Field(
        (), description="State machines whose task tokens the functions may answer (required when enabled)."
    )

    @model_validator(mode="after")
    def _arns_when_enabled(self) -> Self:
        if self.enabled and not self.state_machine_arns:
            _raise_rules(
                [_rule("stateMachineArns", "at least one state machine ARN when enabled is true", [])]
            )
        return self


class KinesisConfig(_Context):
    """Kinesis Data Streams destination: the result record on a stream, partitioned by inference ID."""

    enabled: StrictBool = Field(False, description="Put each result record on a Kinesis data stream.")
    stream_arn: StreamArn | None = Field(
        None,
        description="An existing stream; null creates an on-demand stream encrypted with the stack's key.",
    )


class ReplyQueuesConfig(_Context):
    """The client's push: each caller process gets its results on an SQS queue of its own."""

    enabled: StrictBool = Field(
        True, description="Send each result to its caller's reply queue (off: callers read the result store)."
    )
    expiry_minutes: StrictInt = Field(
        15, ge=10, le=1440, description="A queue whose caller stopped its heartbeat this long ago is swept."
    )


class DestinationsConfig(_Context):
    """Built-in destinations the runtime forwards results to (each one a section)."""

    result_store: StrictBool = Field(
        True, description="Write the result record the client polls (the table exists either way)."
    )
    event_bridge: EventBridgeConfig = Field(default_factory=EventBridgeConfig)
    sqs: ResultsQueueConfig = Field(default_factory=ResultsQueueConfig)
    step_functions_callback: StepFunctionsCallbackConfig = Field(default_factory=StepFunctionsCallbackConfig)
    kinesis: KinesisConfig = Field(default_factory=KinesisConfig)
    reply_queues: ReplyQueuesConfig = Field(default_factory=ReplyQueuesConfig)


class StackConfig(_Context):
    """Every context key of the sample app, its type, constraints and default."""

    endpoint_name: EndpointName = Field(
        "async-results-demo",
        description="SageMaker endpoint name; the topics are `<endpointName>-success|-error`.",
    )
    existing_model_name: ModelName | None = Field(
        None, description="Use this SageMaker model instead of creating one (then `model` must be null)."
    )
    existing_model_role_arn: RoleArn | None = Field(
        None, description="Execution role of `existingModelName` (needs `sns:Publish` and key use)."
    )
    model: ModelConfig | None = Field(
        default_factory=ModelConfig, description="The model to create; null with `existingModelName`."
    )
    instance_type: InstanceType = Field(
        "ml.m5.xlarge",
        description="Instance type of the variant. With autoscaling on, change it in two deployments "
        "(autoscaling off, then the new type).",
    )
    instance_local_storage: StrictBool | None = Field(
        None,
        description="Whether the instance type has local NVMe storage (then the endpoint config gets no "
        "storage `KmsKeyId`, which such instances reject); null decides from the known families.",
    )
    endpoint_log_group: Literal["create", "existing", "sagemaker"] = Field(
        "create",
        description="Who provides the endpoint's log group `/aws/sagemaker/Endpoints/<name>`: `create` (the "
        "stack, with the log retention; fails if the group already exists), `existing` (a group left by an "
        "earlier endpoint of that name), `sagemaker` (SageMaker creates it on first write, never expiring).",
    )
    volume_size_gb: StrictInt | None = Field(
        None,
        ge=1,
        le=512,
        description="ML storage volume of each instance (GB); null is SageMaker's default.",
    )
    model_data_download_timeout_seconds: StrictInt | None = Field(
        None, ge=60, le=3600, description="Seconds to download the model; null is SageMaker's default."
    )
    container_startup_health_check_timeout_seconds: StrictInt | None = Field(
        None,
        ge=60,
        le=3600,
        description="Seconds for the container to pass its health check; null is SageMaker's default.",
    )
    vpc: VpcConfig | None = Field(None, description="The model containers' VPC; null runs them without.")
    initial_instance_count: StrictInt = Field(1, ge=1, le=100, description="Instances at creation.")
    max_concurrent_invocations_per_instance: StrictInt = Field(
        4, ge=1, le=1000, description="Concurrent requests SageMaker sends to one instance."
    )
    include_inference_response_in: tuple[IncludeInferenceResponseIn, ...] = Field(
        ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"),
        description="Notifications that carry the response inline (up to 128 KB).",
    )
    existing_bucket_name: BucketName | None = Field(
        None, description="Use this bucket instead of creating one (its encryption is left alone)."
    )
    input_prefix: Prefix = Field("async-inference/inputs/", description="Key prefix of request payloads.")
    output_prefix: Prefix = Field("async-inference/outputs/", description="Key prefix of responses.")
    failure_prefix: Prefix = Field("async-inference/failures/", description="Key prefix of failures.")
    output_expiration_days: StrictInt = Field(
        30, ge=1, le=3650, description="Days before objects of a created bucket expire."
    )
    existing_bucket_key_arn: KeyArn | None = Field(
        None,
        description="KMS key of an existing bucket encrypted with a customer managed key (SSE-KMS): the "
        "execution role and the functions are granted its use.",
    )
    existing_success_topic_arn: TopicArn | None = Field(
        None, description="Use this success topic instead of creating one."
    )
    existing_success_topic_key_arn: KeyArn | None = Field(
        None,
        description="KMS key of an existing success topic encrypted with a customer managed key: the "
        "execution role is granted its use.",
    )
    existing_error_topic_arn: TopicArn | None = Field(
        None, description="Use this error topic instead of creating one."
    )
    existing_error_topic_key_arn: KeyArn | None = Field(
        None,
        description="KMS key of an existing error topic encrypted with a customer managed key: the "
        "execution role is granted its use.",
    )
    subscriptions: SubscriptionsConfig = Field(default_factory=SubscriptionsConfig)
    autoscaling: AutoscalingConfig = Field(default_factory=AutoscalingConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    handler_modules: tuple[ModuleName, ...] = Field(
        ("handlers",),
        description="Plugin packages the runtime loads; when absent, the handler folder's package name.",
    )
    destinations: DestinationsConfig = Field(default_factory=DestinationsConfig)
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig)
    recovery: RecoveryConfig = Field(default_factory=RecoveryConfig)
    max_payload_bytes: StrictInt = Field(
        10485760, ge=1024, le=1 << 40, description="Larger payloads are handed to handlers by reference."
    )
    result_ttl_days: StrictInt = Field(30, ge=1, le=3650, description="Days a result record is kept.")
    log_retention_days: StrictInt = Field(
        30, ge=1, le=3653, description="Days the functions' logs are kept (a CloudWatch Logs period)."
    )
    function_memory_mb: StrictInt = Field(512, ge=128, le=10240, description="Memory of each function.")
    function_timeout_seconds: StrictInt = Field(60, ge=1, le=900, description="Timeout of each function.")

    @model_validator(mode="before")
    @classmethod
    def _model_or_existing_model(cls, data: Any) -> Any:
        # An absent or null model means the sample model, unless an existing model is used instead.
        if isinstance(data, Mapping):
            existing = data.get("existingModelName", data.get("existing_model_name"))
            model = data.get("model")
            if existing not in (None, "", "null") and model in (None, "null"):
                return {**data, "model": None}
            if model in (None, "null"):
                return {k: v for k, v in data.items() if k != "model"}
        return data

    @model_validator(mode="after")
    def _cross_field_rules(self) -> Self:
        problems: list[tuple[str, str, Any]] = []
        if self.existing_model_name and self.model is not None:
            problems.append(
                _rule(
                    "existingModelName/model",
                    "either existingModelName or model, not both (set model to null to use an existing model)",
                    {"existingModelName": self.existing_model_name, "model.image": self.model.image},
                )
            )
        if self.existing_model_name and not self.existing_model_role_arn:
            problems.append(
                _rule(
                    "existingModelRoleArn",
                    "the execution role ARN of the existing model (it needs sns:Publish and key use)",
                    None,
                )
            )
        if self.existing_model_role_arn and not self.existing_model_name:
            problems.append(
                _rule(
                    "existingModelRoleArn",
                    "null unless existingModelName is given",
                    self.existing_model_role_arn,
                )
            )
        prefixes = {
            "inputPrefix": self.input_prefix,
            "outputPrefix": self.output_prefix,
            "failurePrefix": self.failure_prefix,
        }
        for name_a, a in prefixes.items():
            for name_b, b in prefixes.items():
                if name_a < name_b and (a.startswith(b) or b.startswith(a)):
                    problems.append(
                        _rule(f"{name_a}/{name_b}", "prefixes that do not overlap", {name_a: a, name_b: b})
                    )
        if (
            self.existing_success_topic_arn
            and self.existing_success_topic_arn == self.existing_error_topic_arn
        ):
            problems.append(
                _rule(
                    "existingErrorTopicArn",
                    "a topic different from the success topic",
                    self.existing_error_topic_arn,
                )
            )
        for key_field, resource_field in (
            ("existing_bucket_key_arn", "existing_bucket_name"),
            ("existing_success_topic_key_arn", "existing_success_topic_arn"),
            ("existing_error_topic_key_arn", "existing_error_topic_arn"),
        ):
            if getattr(self, key_field) and not getattr(self, resource_field):
                problems.append(
                    _rule(
                        to_camel(key_field),
                        f"null unless {to_camel(resource_field)} is given (the key of that existing resource)",
                        getattr(self, key_field),
                    )
                )
        if self.vpc is not None:
            if not 1 <= len(self.vpc.subnet_ids) <= 16:
                problems.append(_rule("vpc.subnetIds", "1-16 subnet IDs", list(self.vpc.subnet_ids)))
            if not 1 <= len(self.vpc.security_group_ids) <= 5:
                problems.append(
                    _rule("vpc.securityGroupIds", "1-5 security group IDs", list(self.vpc.security_group_ids))
                )
        if self.autoscaling.enabled and self.initial_instance_count > self.autoscaling.max_capacity:
            problems.append(
                _rule(
                    "initialInstanceCount",
                    f"at most autoscaling.maxCapacity ({self.autoscaling.max_capacity})",
                    self.initial_instance_count,
                )
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            problems.append(
                _rule("logRetentionDays", f"one of {list(LOG_RETENTION_DAYS)}", self.log_retention_days)
            )
        _raise_rules(problems)
        return self


class ConfigError(ValueError):
    """Raised once with every configuration problem found.

    Attributes
    ----------
    problems:
        One line per problem: ``<key path>: expected <what>, received <value>``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"Invalid CDK context ({count} problem{'s' if count != 1 else ''}); "
            f"fix cdk.json or the -c options:\n{lines}"
        )


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


def _path(loc: Sequence[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _section_model(loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model class of the section at ``loc`` (for naming its known keys)."""
    model: type[BaseModel] = StackConfig
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        if part not in fields:
            return None
        inner = _submodel(fields[part].annotation)
        if inner is None:
            return None
        model = inner
    return model


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _bounds(loc: Sequence[int | str]) -> tuple[Any, Any]:
    """The lower and upper bound of the number field at ``loc`` (``None`` where unbounded)."""
    model = _section_model(loc[:-1])
    key = loc[-1] if loc else None
    if model is None or not isinstance(key, str):
        return None, None
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    low = high = None
    for constraint in fields[key].metadata if key in fields else ():
        low = getattr(constraint, "ge", getattr(constraint, "gt", low))
        high = getattr(constraint, "le", getattr(constraint, "lt", high))
    return low, high


def _expected(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = error["loc"]
    simple = {
        "int_type": "an integer",
        "bool_type": "true or false",
        "float_type": "a number",
        "string_type": "a string",
        "tuple_type": "a list",
        "list_type": "a list",
        "dict_type": "an object",
        "model_type": "an object",
        "model_attributes_type": "an object",
        "missing": "a value",
    }
    bounds = {
        "greater_than_equal": ">= {ge}",
        "greater_than": "> {gt}",
        "less_than_equal": "<= {le}",
        "less_than": "< {lt}",
    }
    if kind == "pattern":
        return str(ctx["expected"])
    low, high = _bounds(loc)
    if kind in ("int_type", "float_type") and low is not None and high is not None:
        return f"{simple[kind]} between {low} and {high}"
    if kind in simple:
        return simple[kind]
    if kind in bounds:
        return "a value " + bounds[kind].format(**ctx)
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "extra_forbidden":
        model = _section_model(loc[:-1])
        known = sorted(info.alias or name for name, info in model.model_fields.items()) if model else []
        return f"one of the known keys {known}"
    return str(error["msg"])


def _problems(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for item in error.errors():
        loc = item["loc"]
        if item["type"] == "context_rules":
            base = _path(loc)
            for path, expected, received in item["ctx"]["problems"]:
                full = f"{base}.{path}" if base else path
                problems.append(f"{full}: expected {expected}, received {_show(received)}")
            continue
        path = _path(loc) or "(context)"
        if item["type"] == "extra_forbidden":
            problems.append(
                f"{path}: unknown key, expected {_expected(item)}, received {_show(item['input'])}"
            )
        else:
            problems.append(f"{path}: expected {_expected(item)}, received {_show(item['input'])}")
    return problems


#: Context keys the CDK CLI itself writes (``cdk acknowledge``), besides flags and ``aws:cdk:*`` keys.
_CDK_CLI_KEYS = frozenset({"acknowledged-issue-numbers"})


def is_context_key(key: str) -> bool:
    """Whether a context key belongs to this app: CDK feature flags (``@aws-cdk/...``), lookup and
    ``aws:cdk:*`` keys (they contain ``:``) and the CLI's own keys do not."""
    return not key.startswith("@") and ":" not in key and key not in _CDK_CLI_KEYS


def parse_context(context: Mapping[str, Any]) -> StackConfig:
    """Validate raw CDK context (missing keys take their defaults) into a :class:`StackConfig`.

    Parameters
    ----------
    context:
        The app's context mapping. CDK feature flags and ``aws:cdk:*`` keys are ignored, every other key
        must be known. An absent or null ``model`` means the sample model unless ``existingModelName`` is
        given: then it means "no model to create".

    Raises
    ------
    ConfigError
        Listing every problem found, each with the key path, the expected and the received value.
    """
    own = {key: value for key, value in context.items() if is_context_key(key)}
    try:
        return StackConfig.model_validate(own)
    except ValidationError as error:
        problems = _problems(error)
        # pydantic checks a model's cross-field rules only once its fields are valid; check them again
        # with the invalid keys at their defaults, so that one run reports every problem.
        repaired = own
        for item in error.errors():
            repaired = _without(repaired, item["loc"])
        try:
            StackConfig.model_validate(repaired)
        except ValidationError as second:
            problems += [problem for problem in _problems(second) if problem not in problems]
        raise ConfigError(problems) from None


def _without(data: Mapping[str, Any], loc: Sequence[int | str]) -> dict[str, Any]:
    """A copy of ``data`` without the innermost object key on the path ``loc``."""
    copy = dict(data)
    head = loc[0] if loc else None
    if not isinstance(head, str) or head not in copy:
        return copy
    inner = copy[head]
    rest = loc[1:]
    if isinstance(inner, Mapping) and rest and isinstance(rest[0], str) and rest[0] in inner:
        copy[head] = _without(inner, rest)
    else:
        del copy[head]
    return copy


def default_context() -> dict[str, Any]:
    """Every context key with its default, as camelCase JSON (derived from :class:`StackConfig`)."""
    dumped: dict[str, Any] = StackConfig().model_dump(mode="json", by_alias=True)
    return dumped


def context_keys() -> list[str]:
    """Every context key path (``delivery.mode``), sections included, in the model's order."""
    return [row[0] for row in _rows(StackConfig, "")]


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _type_name(get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(arg) for arg in get_args(annotation) if arg is not type(None)]
        return " or ".join(names) + (" or null" if type(None) in get_args(annotation) else "")
    if origin is Literal:
        return " or ".join(f"`{arg}`" for arg in get_args(annotation))
    if origin is tuple:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        return f"object of {_type_name(get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(annotation, str(annotation))


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str]]:
    rows: list[tuple[str, str, str, str]] = []
    defaults = model().model_dump(mode="json", by_alias=True)
    for name, info in model.model_fields.items():
        key = info.alias or name
        path = f"{prefix}{key}"
        annotation = info.annotation
        sub = _submodel(annotation)
        description = info.description or (_first_line(sub.__doc__) if sub is not None else "")
        if sub is not None and _allows_none(annotation):
            rows.append((path, _type_name(annotation), json.dumps(defaults[key]), description))
            rows += _rows(sub, f"{path}.")
        elif sub is not None:
            rows.append((path, "object", "", description))
            rows += _rows(sub, f"{path}.")
        else:
            rows.append((path, _type_name(annotation), json.dumps(defaults[key]), description))
    return rows


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def context_reference_markdown() -> str:
    """The context table of docs/configure.md: one row per key path, rendered from :class:`StackConfig`.

    Deterministic (the model's field order, JSON defaults), so a test can compare it with docs/configure.md.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for path, type_name, default, description in _rows(StackConfig, ""):
        shown = f"`{cell(default)}`" if default else ""
        lines.append(f"| `{path}` | {cell(type_name)} | {shown} | {cell(description)} |")
    return "\n".join(lines) + "\n"
