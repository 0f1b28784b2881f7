"""A result-handler Lambda function: least privilege, arm64, current Python, X-Ray, JSON logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sagemaker_async_results import contract
from sagemaker_async_results.cdk.constructs._nag import (
    acknowledge,
    acknowledge_checkov,
    acknowledge_iam5_resource,
)
from sagemaker_async_results.cdk.constructs._props import check, prefix_problem
from sagemaker_async_results.cdk.constructs.results_table import ResultsTable

__all__ = [
    "DEFAULT_METRICS_NAMESPACE",
    "DEFAULT_SERVICE_NAME",
    "FIXED_FUNCTION_PROPS",
    "RUNTIME",
    "ResultHandlerFunction",
    "function_props_problems",
    "retention_days",
]

#: Newest Python runtime in aws-cdk-lib 2.275 (cdk-nag AwsSolutions-L1 flags anything older).
RUNTIME = lambda_.Runtime(f"python{contract.LAMBDA_PYTHON_VERSION}", lambda_.RuntimeFamily.PYTHON)
DEFAULT_SERVICE_NAME = contract.SERVICE_NAME
DEFAULT_METRICS_NAMESPACE = contract.METRICS_NAMESPACE
_SIXTY_SECONDS = Duration.seconds(60)

_RETENTION_DAYS = dict(
    zip(
        (
            1,
            3,
            5,
            7,
            14,
            30,
            60,
            90,
            120,
            150,
            180,
            365,
            400,
            545,
            731,
            1096,
            1827,
            2192,
            2557,
            2922,
            3288,
            3653,
        ),
        list(logs.RetentionDays)[:22],
        strict=True,
    )
)


#: checkov findings a result-handler function has by design, each with its reason.
CHECKOV_FUNCTION_REASONS = {
    "CKV_AWS_115": "no reserved concurrency by default: a limit would throttle result routing (SNS and SQS "
    "retry, but results wait); set reserved_concurrent_executions through function_props to cap it",
    "CKV_AWS_116": "failures are kept elsewhere: direct mode has an on-failure destination (the dead-letter "
    "queue, with more context than a function DLQ) and the SNS subscription's dead-letter queue; SQS-fed "
    "functions (buffered mode, recovery) dead-letter through the queue's redrive policy",
    "CKV_AWS_117": "the function calls only AWS APIs (S3, DynamoDB, SQS...); run it in a VPC with "
    "function_props={'vpc': ...} when a handler needs private resources",
    "CKV_AWS_173": "the environment holds names and ARNs only, no secrets; Lambda encrypts it at rest with "
    "an AWS managed key",
}
#: Why log groups are not encrypted with the customer managed key.
LOG_GROUP_KMS_REASON = (
    "encrypted at rest by CloudWatch Logs; the logs hold result metadata (IDs, locations, reasons), no "
    "payloads; a customer managed key would need a logs service grant in the key policy"
)

#: ``aws_lambda.Function`` props the runtime and the grants depend on: not overridable.
FIXED_FUNCTION_PROPS = frozenset({"code", "handler", "runtime", "role", "architecture", "log_group"})


def function_props_problems(function_props: Mapping[str, Any] | None) -> list[str]:
    """Problems of an escape-hatch ``function_props`` mapping (keys the construct must keep)."""
    fixed = sorted(FIXED_FUNCTION_PROPS & set(function_props or {}))
    if not fixed:
        return []
    return [f"function_props: expected none of {sorted(FIXED_FUNCTION_PROPS)}, received {fixed}"]


def retention_days(days: int) -> logs.RetentionDays:
    """The ``RetentionDays`` member for a number of days (one of the values CloudWatch Logs accepts)."""
    try:
        return _RETENTION_DAYS[days]
    except KeyError:
        raise ValueError(
            f"log retention: expected one of {sorted(_RETENTION_DAYS)} days, received {days}"
        ) from None


class ResultHandlerFunction(Construct):
    """One result-handler function (the success one or the error one; same code asset).

    Permissions: ``s3:GetObject`` on ``readable_prefix`` only, the exact DynamoDB item actions the
    runtime uses on the table, exact key actions, writing to its own log group, X-Ray.

    Parameters
    ----------
    code: the code asset (see :func:`sagemaker_async_results.cdk.bundling.result_handler_code`).
    bucket, readable_prefix: what the function may read (``READABLE_LOCATIONS`` = ``s3://bucket/prefix``);
        one prefix or several (the recovery function reads both the output and the failure prefix).
    handler: the handler string; default ``contract.LAMBDA_HANDLER``.
    extra_keys: keys of existing encrypted resources the function reads (e.g. an existing bucket's);
        default none.
    table: result and idempotency table.
    encryption_key: key of bucket, table and queues.
    handler_modules: default ``("handlers",)``. max_payload_bytes: default 10 MiB.
    result_ttl_days: default 30. delivery_mode: default "direct".
    memory_size: default 512 MB. timeout: default 60 s. log_retention: default one month.
    service_name: ``POWERTOOLS_SERVICE_NAME``, default ``contract.SERVICE_NAME``.
    metrics_namespace: ``POWERTOOLS_METRICS_NAMESPACE``, default ``contract.METRICS_NAMESPACE``.
    environment: extra environment variables; default none.
    description: default none.
    function_props: escape hatch: keyword arguments of ``aws_lambda.Function`` merged over the ones
        above (``reserved_concurrent_executions``, ``vpc``, ``layers``...); default none. ``environment``
        given here is added to, not replacing, the runtime's variables. The keys the runtime depends on
        (:data:`FIXED_FUNCTION_PROPS`) are refused.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code: lambda_.Code,
        bucket: s3.IBucket,
        readable_prefix: str | Sequence[str],
        table: dynamodb.ITable,
        encryption_key: kms.IKey,
        handler: str = contract.LAMBDA_HANDLER,
        extra_keys: Sequence[kms.IKey] = (),
        handler_modules: Sequence[str] = ("handlers",),
        max_payload_bytes: int = 10 * 1024 * 1024,
        result_ttl_days: int = 30,
        delivery_mode: str = "direct",
        memory_size: int = 512,
        timeout: Duration = _SIXTY_SECONDS,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        service_name: str = DEFAULT_SERVICE_NAME,
        metrics_namespace: str = DEFAULT_METRICS_NAMESPACE,
        environment: Mapping[str, str] | None = None,
        description: str | None = None,
        function_props: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        prefixes = (readable_prefix,) if isinstance(readable_prefix, str) else tuple(readable_prefix)
        for prefix in prefixes:
            problem = prefix_problem("readable_prefix", prefix)
            if problem:
                problems.append(problem)
        if not 128 <= memory_size <= 10240:
            problems.append(f"memory_size: expected 128-10240, received {memory_size}")
        if delivery_mode not in ("direct", "buffered"):
            problems.append(f"delivery_mode: expected 'direct' or 'buffered', received {delivery_mode!r}")
        problems += function_props_problems(function_props)
        check("ResultHandlerFunction", problems)
        overrides = dict(function_props or {})

        self.readable_location = ",".join(f"s3://{bucket.bucket_name}/{prefix}" for prefix in prefixes)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Result-handler function role (least privilege, no managed policies)",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.log_group.grant_write(self.role)
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadOwnPrefix",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
            )
        )
        table.grant(self.role, *ResultsTable.HANDLER_ACTIONS)
        for key in (encryption_key, *extra_keys):
            key.grant(self.role, *contract.KMS_USE_ACTIONS)

        env = {
            contract.RESULTS_BUCKET: bucket.bucket_name,
            contract.READABLE_LOCATIONS: self.readable_location,
            contract.RESULTS_TABLE: table.table_name,
            contract.RESULT_TTL_DAYS: str(result_ttl_days),
            contract.MAX_PAYLOAD_BYTES: str(max_payload_bytes),
            contract.HANDLER_MODULES: ",".join(handler_modules),
            contract.DELIVERY_MODE: delivery_mode,
            "POWERTOOLS_SERVICE_NAME": service_name,
            "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace,
        }
        env.update(environment or {})
        env.update(overrides.pop("environment", None) or {})
        props: dict[str, Any] = dict(
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=handler,
            code=code,
            role=self.role,
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            environment=env,
            description=description,
        )
        props.update(overrides)
        self.function = lambda_.Function(self, "Function", **props)
        for check_id, reason in CHECKOV_FUNCTION_REASONS.items():
            if check_id == "CKV_AWS_117" and "vpc" in overrides:
                continue
            if check_id == "CKV_AWS_115" and "reserved_concurrent_executions" in overrides:
                continue
            acknowledge_checkov(self.function, check_id, reason)
        acknowledge_checkov(self.log_group, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
        self.timeout: Duration = props["timeout"]
        policy = self.role.node.try_find_child("DefaultPolicy")
        assert policy is not None  # holds the log, S3, table, key and X-Ray statements
        for prefix in prefixes:
            acknowledge_iam5_resource(
                policy,
                bucket.arn_for_objects(f"{prefix}*"),
                f"object-level read of {prefix} only: each notification names its own result object",
            )
        acknowledge(
            policy,
            "IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords have no resource type (added by tracing=ACTIVE)",
        )

    def add_environment(self, key: str, value: str) -> None:
        """Set an environment variable of the function."""
        self.function.add_environment(key, value)
