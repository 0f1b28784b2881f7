"""Parse CDK context into a typed, validated, frozen :class:`StackConfig`.

Every problem is collected and reported at once in a single :class:`ConfigError`, each saying what was
received and what was expected. Values given on the command line (``cdk synth -c key=value``) arrive as
strings: numbers, booleans, lists and objects are accepted as JSON text too.

Example
-------
>>> config = parse_context({"endpointName": "demo", "delivery": {"mode": "buffered"}})
>>> config.delivery.mode
'buffered'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

__all__ = [
    "DEFAULT_MODEL_IMAGE",
    "INCLUDE_INFERENCE_RESPONSE_VALUES",
    "AutoscalingConfig",
    "ConfigError",
    "DeliveryConfig",
    "DestinationsConfig",
    "ModelConfig",
    "StackConfig",
    "SubscriptionsConfig",
    "default_context",
    "parse_context",
]

DeliveryMode = Literal["direct", "buffered"]
DELIVERY_MODES: tuple[DeliveryMode, ...] = ("direct", "buffered")
INCLUDE_INFERENCE_RESPONSE_VALUES = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")

#: A real public inference container: the Hugging Face PyTorch inference DLC (CPU), resolved per region.
DEFAULT_MODEL_IMAGE = (
    "763104351884.dkr.ecr.${AWS::Region}.amazonaws.com/"
    "huggingface-pytorch-inference:2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04"
)

#: CloudWatch Logs retention periods accepted by ``AWS::Logs::LogGroup`` (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_PREFIX = re.compile(r"^(?:[A-Za-z0-9!_.*'()=-]+/)+$")
_S3_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SNS_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_SQS_ARN = re.compile(r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$")
_STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$")
_MODEL_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_EVENT_BUS = re.compile(r"^[A-Za-z0-9/._-]{1,256}$")


def default_context() -> dict[str, Any]:
    """Return the documented sample defaults of every context key (the same values as ``cdk.json``)."""
    return {
        "endpointName": "async-results-demo",
        "existingModelName": None,
        "existingModelRoleArn": None,
        "model": {
            "image": DEFAULT_MODEL_IMAGE,
            "modelDataUrl": None,
            "environment": {
                "HF_MODEL_ID": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
                "HF_TASK": "text-classification",
            },
        },
        "instanceType": "ml.m5.xlarge",
        "initialInstanceCount": 1,
        "maxConcurrentInvocationsPerInstance": 4,
        "includeInferenceResponseIn": list(INCLUDE_INFERENCE_RESPONSE_VALUES),
        "existingBucketName": None,
        "inputPrefix": "async-inference/inputs/",
        "outputPrefix": "async-inference/outputs/",
        "failurePrefix": "async-inference/failures/",
        "outputExpirationDays": 30,
        "existingSuccessTopicArn": None,
        "existingErrorTopicArn": None,
        "subscriptions": {"email": [], "https": [], "sqsQueueArns": []},
        "autoscaling": {
            "enabled": True,
            "minCapacity": 0,
            "maxCapacity": 2,
            "targetBacklogPerInstance": 5,
            "scaleInCooldownSeconds": 600,
            "scaleOutCooldownSeconds": 300,
        },
        "delivery": {"mode": "direct", "batchSize": 10, "maxBatchingWindowSeconds": 1, "maxReceiveCount": 3},
        "handlerModules": ["handlers"],
        "destinations": {
            "resultStore": True,
            "eventBridge": {"enabled": False, "busName": "default"},
            "sqs": {"enabled": False},
            "stepFunctionsCallback": {"enabled": False, "stateMachineArns": []},
        },
        "maxPayloadBytes": 10485760,
        "resultTtlDays": 30,
        "logRetentionDays": 30,
        "functionMemoryMb": 512,
        "functionTimeoutSeconds": 60,
    }


@dataclass(frozen=True)
class ModelConfig:
    """A model created from context: container image (may contain ``${AWS::Region}``), artifact, environment."""

    image: str
    model_data_url: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SubscriptionsConfig:
    """Extra subscriptions added to both topics."""

    email: tuple[str, ...] = ()
    https: tuple[str, ...] = ()
    sqs_queue_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class AutoscalingConfig:
    """Endpoint variant autoscaling on the async backlog."""

    enabled: bool = True
    min_capacity: int = 0
    max_capacity: int = 2
    target_backlog_per_instance: float = 5
    scale_in_cooldown_seconds: int = 600
    scale_out_cooldown_seconds: int = 300


@dataclass(frozen=True)
class DeliveryConfig:
    """How notifications reach the result-handler functions."""

    mode: DeliveryMode = "direct"
    batch_size: int = 10
    max_batching_window_seconds: int = 1
    max_receive_count: int = 3


@dataclass(frozen=True)
class DestinationsConfig:
    """Built-in destinations the runtime forwards results to."""

    result_store: bool = True
    event_bridge_enabled: bool = False
    event_bus_name: str = "default"
    sqs_enabled: bool = False
    step_functions_callback_enabled: bool = False
    state_machine_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackConfig:
    """Typed, validated configuration of the sample stack (one field per ``cdk.json`` context key)."""

    endpoint_name: str
    existing_model_name: str | None
    existing_model_role_arn: str | None
    model: ModelConfig | None
    instance_type: str
    initial_instance_count: int
    max_concurrent_invocations_per_instance: int
    include_inference_response_in: tuple[str, ...]
    existing_bucket_name: str | None
    input_prefix: str
    output_prefix: str
    failure_prefix: str
    output_expiration_days: int
    existing_success_topic_arn: str | None
    existing_error_topic_arn: str | None
    subscriptions: SubscriptionsConfig
    autoscaling: AutoscalingConfig
    delivery: DeliveryConfig
    handler_modules: tuple[str, ...]
    destinations: DestinationsConfig
    max_payload_bytes: int
    result_ttl_days: int
    log_retention_days: int
    function_memory_mb: int
    function_timeout_seconds: int


class ConfigError(ValueError):
    """Raised once with every configuration problem found.

    Attributes
    ----------
    problems:
        One line per problem: ``<key>: expected <what>, received <value>``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"Invalid CDK context ({count} problem{'s' if count != 1 else ''}); "
            f"fix cdk.json or the -c options:\n{lines}"
        )


T = TypeVar("T")


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"


class _Reader:
    """Collects problems while reading typed values out of nested context mappings."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, key: str, expected: str, received: Any) -> None:
        self.problems.append(f"{key}: expected {expected}, received {_show(received)}")

    @staticmethod
    def _decode(value: Any, want_str: bool) -> Any:
        # `-c key=value` passes strings; accept JSON text for non-string values.
        if isinstance(value, str) and not want_str:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def section(self, raw: Mapping[str, Any], key: str, defaults: Mapping[str, Any]) -> dict[str, Any]:
        """Read a nested object, merged over its defaults; unknown keys are problems (typos)."""
        value = self._decode(raw.get(key, defaults), want_str=False)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            self.problem(key, "an object", value)
            return dict(defaults)
        unknown = sorted(set(value) - set(defaults))
        if unknown:
            self.problem(key, f"only the keys {sorted(defaults)}", {k: value[k] for k in unknown})
        merged = dict(defaults)
        merged.update({k: v for k, v in value.items() if k in defaults})
        return merged

    def integer(self, raw: Mapping[str, Any], key: str, path: str, low: int, high: int) -> int:
        value = self._decode(raw[key], want_str=False)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"an integer between {low} and {high}", value)
            return low
        if not low <= value <= high:
            self.problem(path, f"an integer between {low} and {high}", value)
        return value

    def number(self, raw: Mapping[str, Any], key: str, path: str, low: float, high: float) -> float:
        value = self._decode(raw[key], want_str=False)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(path, f"a number between {low} and {high}", value)
            return low
        if not low <= value <= high:
            self.problem(path, f"a number between {low} and {high}", value)
        return float(value)

    def boolean(self, raw: Mapping[str, Any], key: str, path: str) -> bool:
        value = self._decode(raw[key], want_str=False)
        if not isinstance(value, bool):
            self.problem(path, "true or false", value)
            return False
        return value

    def string(
        self, raw: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str], expected: str
    ) -> str:
        value = raw[key]
        if not isinstance(value, str) or not pattern.match(value):
            self.problem(path, expected, value)
            return value if isinstance(value, str) else ""
        return value

    def optional_string(
        self, raw: Mapping[str, Any], key: str, path: str, pattern: re.Pattern[str], expected: str
    ) -> str | None:
        value = raw.get(key)
        if value is None or value in ("", "null"):
            return None
        return self.string(raw, key, path, pattern, expected)

    def string_list(
        self,
        raw: Mapping[str, Any],
        key: str,
        path: str,
        check: Callable[[str], bool],
        expected_item: str,
    ) -> tuple[str, ...]:
        value = self._decode(raw[key], want_str=False)
        if value is None:
            return ()
        if isinstance(value, str):  # `-c handlerModules=a,b` convenience
            value = [item.strip() for item in value.split(",") if item.strip()]
        if not isinstance(value, list):
            self.problem(path, f"a list of {expected_item}", value)
            return ()
        good: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and check(item):
                good.append(item)
            else:
                self.problem(f"{path}[{index}]", expected_item, item)
        return tuple(good)


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: bool(pattern.match(text))


def _parse_model(reader: _Reader, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> ModelConfig | None:
    value = _Reader._decode(raw.get("model"), want_str=False)
    if value is None or value == "null":
        # Absent or null: the sample model, unless an existing model is used instead.
        if raw.get("existingModelName") not in (None, "", "null"):
            return None
        value = defaults["model"]
    section = reader.section({"model": value}, "model", defaults["model"])
    image = reader.string(
        section, "image", "model.image", re.compile(r"^\S+$"), "a container image URI (ECR or public)"
    )
    model_data_url = reader.optional_string(
        section, "modelDataUrl", "model.modelDataUrl", _S3_URL, "null or an s3://bucket/key URL"
    )
    environment = _Reader._decode(section["environment"], want_str=False) or {}
    if not isinstance(environment, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
    ):
        reader.problem("model.environment", "an object of string values", environment)
        environment = {}
    return ModelConfig(image=image, model_data_url=model_data_url, environment=dict(environment))


def parse_context(context: Mapping[str, Any]) -> StackConfig:
    """Validate raw CDK context (missing keys take their documented defaults) into a :class:`StackConfig`.

    Parameters
    ----------
    context:
        The context mapping, e.g. ``{key: app.node.try_get_context(key) ...}``; keys that are absent or
        ``None`` fall back to :func:`default_context` (``model`` too, unless ``existingModelName`` is given:
        then an absent or null ``model`` means "no model to create").

    Raises
    ------
    ConfigError
        Listing every problem found, each with the received and the expected value.
    """
    defaults = default_context()
    raw: dict[str, Any] = {}
    for key, default in defaults.items():
        value = context.get(key, default)
        raw[key] = default if (value is None and not key.startswith("existing")) else value
    raw["model"] = context.get("model")
    reader = _Reader()

    endpoint_name = reader.string(
        raw,
        "endpointName",
        "endpointName",
        _ENDPOINT_NAME,
        "1-63 letters, digits or hyphens, starting and ending with a letter or digit",
    )
    existing_model_name = reader.optional_string(
        raw, "existingModelName", "existingModelName", _MODEL_NAME, "null or a SageMaker model name"
    )
    existing_model_role_arn = reader.optional_string(
        raw, "existingModelRoleArn", "existingModelRoleArn", _ROLE_ARN, "null or an IAM role ARN"
    )
    model = _parse_model(reader, raw, defaults)
    if existing_model_name and model is not None:
        reader.problem(
            "existingModelName/model",
            "either existingModelName or model, not both (set model to null to use an existing model)",
            {"existingModelName": existing_model_name, "model.image": model.image},
        )
    if existing_model_name and not existing_model_role_arn:
        reader.problem(
            "existingModelRoleArn",
            "the execution role ARN of the existing model (it needs sns:Publish and key use)",
            None,
        )
    if existing_model_role_arn and not existing_model_name:
        reader.problem(
            "existingModelRoleArn", "null unless existingModelName is given", existing_model_role_arn
        )

    instance_type = reader.string(
        raw, "instanceType", "instanceType", _INSTANCE_TYPE, "a SageMaker instance type such as ml.m5.xlarge"
    )
    initial_instance_count = reader.integer(raw, "initialInstanceCount", "initialInstanceCount", 1, 100)
    max_concurrent = reader.integer(
        raw, "maxConcurrentInvocationsPerInstance", "maxConcurrentInvocationsPerInstance", 1, 1000
    )
    include = reader.string_list(
        raw,
        "includeInferenceResponseIn",
        "includeInferenceResponseIn",
        lambda item: item in INCLUDE_INFERENCE_RESPONSE_VALUES,
        f"one of {list(INCLUDE_INFERENCE_RESPONSE_VALUES)}",
    )

    existing_bucket_name = reader.optional_string(
        raw, "existingBucketName", "existingBucketName", _BUCKET_NAME, "null or an S3 bucket name"
    )
    prefix_expected = "an S3 key prefix like 'async-inference/outputs/' (no leading slash, ends with '/')"
    input_prefix = reader.string(raw, "inputPrefix", "inputPrefix", _PREFIX, prefix_expected)
    output_prefix = reader.string(raw, "outputPrefix", "outputPrefix", _PREFIX, prefix_expected)
    failure_prefix = reader.string(raw, "failurePrefix", "failurePrefix", _PREFIX, prefix_expected)
    prefixes = {"inputPrefix": input_prefix, "outputPrefix": output_prefix, "failurePrefix": failure_prefix}
    for name_a, a in prefixes.items():
        for name_b, b in prefixes.items():
            if name_a < name_b and a and b and (a.startswith(b) or b.startswith(a)):
                reader.problem(f"{name_a}/{name_b}", "prefixes that do not overlap", {name_a: a, name_b: b})
    output_expiration_days = reader.integer(raw, "outputExpirationDays", "outputExpirationDays", 1, 3650)

    existing_success = reader.optional_string(
        raw, "existingSuccessTopicArn", "existingSuccessTopicArn", _SNS_ARN, "null or an SNS topic ARN"
    )
    existing_error = reader.optional_string(
        raw, "existingErrorTopicArn", "existingErrorTopicArn", _SNS_ARN, "null or an SNS topic ARN"
    )
    if existing_success and existing_success == existing_error:
        reader.problem("existingErrorTopicArn", "a topic different from the success topic", existing_error)

    subs = reader.section(raw, "subscriptions", defaults["subscriptions"])
    subscriptions = SubscriptionsConfig(
        email=reader.string_list(subs, "email", "subscriptions.email", _matches(_EMAIL), "an email address"),
        https=reader.string_list(
            subs, "https", "subscriptions.https", lambda u: u.startswith("https://"), "an https:// URL"
        ),
        sqs_queue_arns=reader.string_list(
            subs, "sqsQueueArns", "subscriptions.sqsQueueArns", _matches(_SQS_ARN), "an SQS queue ARN"
        ),
    )

    scaling = reader.section(raw, "autoscaling", defaults["autoscaling"])
    autoscaling = AutoscalingConfig(
        enabled=reader.boolean(scaling, "enabled", "autoscaling.enabled"),
        min_capacity=reader.integer(scaling, "minCapacity", "autoscaling.minCapacity", 0, 100),
        max_capacity=reader.integer(scaling, "maxCapacity", "autoscaling.maxCapacity", 1, 100),
        target_backlog_per_instance=reader.number(
            scaling, "targetBacklogPerInstance", "autoscaling.targetBacklogPerInstance", 0.1, 100000
        ),
        scale_in_cooldown_seconds=reader.integer(
            scaling, "scaleInCooldownSeconds", "autoscaling.scaleInCooldownSeconds", 0, 86400
        ),
        scale_out_cooldown_seconds=reader.integer(
            scaling, "scaleOutCooldownSeconds", "autoscaling.scaleOutCooldownSeconds", 0, 86400
        ),
    )
    if autoscaling.min_capacity > autoscaling.max_capacity:
        reader.problem(
            "autoscaling.minCapacity",
            f"at most autoscaling.maxCapacity ({autoscaling.max_capacity})",
            autoscaling.min_capacity,
        )
    if autoscaling.enabled and initial_instance_count > autoscaling.max_capacity:
        reader.problem(
            "initialInstanceCount",
            f"at most autoscaling.maxCapacity ({autoscaling.max_capacity})",
            initial_instance_count,
        )

    deliv = reader.section(raw, "delivery", defaults["delivery"])
    mode = deliv["mode"]
    if mode not in DELIVERY_MODES:
        reader.problem("delivery.mode", f"one of {list(DELIVERY_MODES)}", mode)
        mode = "direct"
    delivery = DeliveryConfig(
        mode=mode,
        batch_size=reader.integer(deliv, "batchSize", "delivery.batchSize", 1, 10000),
        max_batching_window_seconds=reader.integer(
            deliv, "maxBatchingWindowSeconds", "delivery.maxBatchingWindowSeconds", 0, 300
        ),
        max_receive_count=reader.integer(deliv, "maxReceiveCount", "delivery.maxReceiveCount", 1, 1000),
    )
    if delivery.batch_size > 10 and delivery.max_batching_window_seconds < 1:
        reader.problem(
            "delivery.maxBatchingWindowSeconds",
            "at least 1 when delivery.batchSize is above 10 (an SQS event source rule)",
            delivery.max_batching_window_seconds,
        )

    handler_modules = reader.string_list(
        raw, "handlerModules", "handlerModules", _matches(_MODULE), "a Python module name"
    )

    dest = reader.section(raw, "destinations", defaults["destinations"])
    bus = reader.section(dest, "eventBridge", defaults["destinations"]["eventBridge"])
    sqs = reader.section(dest, "sqs", defaults["destinations"]["sqs"])
    sfn = reader.section(dest, "stepFunctionsCallback", defaults["destinations"]["stepFunctionsCallback"])
    destinations = DestinationsConfig(
        result_store=reader.boolean(dest, "resultStore", "destinations.resultStore"),
        event_bridge_enabled=reader.boolean(bus, "enabled", "destinations.eventBridge.enabled"),
        event_bus_name=reader.string(
            bus, "busName", "destinations.eventBridge.busName", _EVENT_BUS, "an EventBridge event bus name"
        ),
        sqs_enabled=reader.boolean(sqs, "enabled", "destinations.sqs.enabled"),
        step_functions_callback_enabled=reader.boolean(
            sfn, "enabled", "destinations.stepFunctionsCallback.enabled"
        ),
        state_machine_arns=reader.string_list(
            sfn,
            "stateMachineArns",
            "destinations.stepFunctionsCallback.stateMachineArns",
            _matches(_STATE_MACHINE_ARN),
            "a Step Functions state machine ARN",
        ),
    )
    if destinations.step_functions_callback_enabled and not destinations.state_machine_arns:
        reader.problem(
            "destinations.stepFunctionsCallback.stateMachineArns",
            "at least one state machine ARN when the callback destination is enabled",
            [],
        )

    log_retention_days = reader.integer(raw, "logRetentionDays", "logRetentionDays", 1, 3653)
    if log_retention_days not in LOG_RETENTION_DAYS:
        reader.problem("logRetentionDays", f"one of {list(LOG_RETENTION_DAYS)}", log_retention_days)

    config = StackConfig(
        endpoint_name=endpoint_name,
        existing_model_name=existing_model_name,
        existing_model_role_arn=existing_model_role_arn,
        model=None if existing_model_name else model,
        instance_type=instance_type,
        initial_instance_count=initial_instance_count,
        max_concurrent_invocations_per_instance=max_concurrent,
        include_inference_response_in=include,
        existing_bucket_name=existing_bucket_name,
        input_prefix=input_prefix,
        output_prefix=output_prefix,
        failure_prefix=failure_prefix,
        output_expiration_days=output_expiration_days,
        existing_success_topic_arn=existing_success,
        existing_error_topic_arn=existing_error,
        subscriptions=subscriptions,
        autoscaling=autoscaling,
        delivery=delivery,
        handler_modules=handler_modules,
        destinations=destinations,
        max_payload_bytes=reader.integer(raw, "maxPayloadBytes", "maxPayloadBytes", 1024, 1 << 40),
        result_ttl_days=reader.integer(raw, "resultTtlDays", "resultTtlDays", 1, 3650),
        log_retention_days=log_retention_days,
        function_memory_mb=reader.integer(raw, "functionMemoryMb", "functionMemoryMb", 128, 10240),
        function_timeout_seconds=reader.integer(
            raw, "functionTimeoutSeconds", "functionTimeoutSeconds", 1, 900
        ),
    )
    if reader.problems:
        raise ConfigError(reader.problems)
    return config
