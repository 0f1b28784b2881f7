"""SageMaker execution role, model, async endpoint config and endpoint."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from aws_cdk import ArnFormat, Aws, CfnMapping, Fn, RemovalPolicy, Stack, region_info
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_async_results.cdk.constructs._nag import (
    acknowledge_checkov,
    acknowledge_iam5_resource,
    nag_text,
)
from sagemaker_async_results.cdk.constructs._props import check, prefix_problem

__all__ = [
    "DLC_ACCOUNT_VARIABLE",
    "INCLUDE_INFERENCE_RESPONSE_VALUES",
    "AsyncInferenceEndpoint",
    "EndpointLogGroup",
    "EndpointVpcProps",
    "ModelProps",
    "dlc_account_mapping",
    "has_instance_storage",
]

#: Who provides the endpoint's log group ``/aws/sagemaker/Endpoints/<name>`` (SageMaker fixes the name):
#: ``"create"`` this construct, with a retention period (the deployment fails when the group exists, e.g.
#: an endpoint of that name ran before); ``"existing"`` the group exists and is used as it is (its retention
#: stays yours); ``"sagemaker"`` SageMaker creates it at the endpoint's first log, without retention.
EndpointLogGroup = Literal["create", "existing", "sagemaker"]

#: Placeholder of an image URI for the AWS Deep Learning Containers registry account of the stack's
#: region (it differs between regions: 763104351884 in most, others in opt-in and China regions).
DLC_ACCOUNT_VARIABLE = "DlcRepositoryAccount"
_DLC_MAPPING_ID = "DlcRepositoryAccounts"

INCLUDE_INFERENCE_RESPONSE_VALUES = ("SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC")
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12}|\$\{DlcRepositoryAccount\})\.dkr\.ecr\.(?P<region>[a-z0-9-]+|\$\{AWS::Region\})"
    r"\.(amazonaws\.com(\.cn)?|\$\{AWS::URLSuffix\})/(?P<repository>[^:@]+)"
)
_S3_URL = re.compile(r"^s3://(?P<bucket>[^/]+)/(?P<key>.+)$")
#: Instance families with local NVMe instance storage: their endpoint config must not name a storage
#: volume ``KmsKeyId`` (SageMaker rejects it; the instance store is encrypted by the hardware). The
#: ``d`` families (``m5d``, ``c6id``, ``r7gd``...) are matched by pattern; the accelerated families are
#: listed. A family newer than this list can be declared with ``instance_local_storage=True``.
INSTANCE_STORAGE_FAMILIES = (
    "g4dn", "g5", "g6", "g6e", "g6f", "gr6", "g7e", "p3dn", "p4d", "p4de", "p5", "p5e", "p5en",
    "p6-b200", "p6-b300", "p6e-gb200", "trn1", "trn1n", "trn2", "trn2n",
)  # fmt: skip
_INSTANCE_STORAGE = re.compile(
    r"^ml\.(" + "|".join(re.escape(f) for f in INSTANCE_STORAGE_FAMILIES) + r"|[a-z]+\d+[a-z]*d[a-z]*)\."
)


def has_instance_storage(instance_type: str) -> bool:
    """True for instance types with local NVMe storage (``KmsKeyId`` must then be omitted)."""
    return bool(_INSTANCE_STORAGE.match(instance_type))


def dlc_account_mapping(scope: Construct) -> CfnMapping:
    """The stack's region -> Deep Learning Containers registry account mapping (one per stack).

    Built from aws-cdk-lib's region facts, so the template stays region-agnostic (``Fn::FindInMap``
    on ``AWS::Region`` at deploy time) and synth needs no lookup. A region missing from the facts fails
    the deployment at the mapping, before anything is created.
    """
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(_DLC_MAPPING_ID)
    if isinstance(existing, CfnMapping):
        return existing
    accounts = region_info.RegionInfo.region_map(region_info.FactName.DLC_REPOSITORY_ACCOUNT)
    return CfnMapping(
        stack,
        _DLC_MAPPING_ID,
        mapping={region: {"account": account} for region, account in sorted(accounts.items())},
    )


@dataclass(frozen=True)
class EndpointVpcProps:
    """The model containers' VPC (``VpcConfig`` of the model): subnet IDs (1-16), security groups (1-5)."""

    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]


@dataclass(frozen=True)
class ModelProps:
    """A model to create.

    Attributes
    ----------
    image: container image URI; may contain ``${AWS::Region}``, ``${AWS::URLSuffix}`` and
        ``${DlcRepositoryAccount}`` (the region's Deep Learning Containers registry account, from
        aws-cdk-lib's region facts), resolved at deploy time with ``Fn::Sub``.
    model_data_url: ``s3://`` URL of the model artifact; default none (the container downloads it).
    environment: container environment; default empty.
    """

    image: str
    model_data_url: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


class AsyncInferenceEndpoint(Construct):
    """Least-privilege execution role, model (or an existing one), async endpoint config, endpoint.

    The endpoint and model depend on the role's policy: endpoint creation checks that the role may
    publish to the notification topics, and fails when the policy does not exist yet.

    Parameters
    ----------
    endpoint_name: physical endpoint name (also used for log-group scoping).
    bucket, input_prefix, output_prefix, failure_prefix: where SageMaker reads inputs and writes results.
    success_topic, error_topic: notification topics (``sns:Publish`` on exactly these two).
    encryption_key: encrypts outputs (``OutputConfig.KmsKeyId``) and, when supported, the storage volume.
    model_props: model to create; exclusive with ``existing_model_name``.
    existing_model_name, existing_model_role: use this model; its execution role gets the grants instead.
    instance_type: default ``ml.m5.xlarge``. initial_instance_count: default 1.
    max_concurrent_invocations_per_instance: default 4.
    include_inference_response_in: default both topics.
    variant_name: default ``AllTraffic``.
    instance_local_storage: whether the instance type has local NVMe storage (no storage ``KmsKeyId``
        then); default ``None``: decided by :func:`has_instance_storage`.
    volume_size_gb, model_data_download_timeout_seconds, container_startup_health_check_timeout_seconds:
        production variant settings; default ``None`` (SageMaker's defaults).
    vpc: the model containers' VPC; default none.
    additional_keys: keys of existing encrypted resources (topics, bucket) the execution role must use
        besides ``encryption_key``; default none.
    log_retention: retention of the endpoint's log group ``/aws/sagemaker/Endpoints/<name>``, created
        here so that it has one (SageMaker would otherwise create it with none); default one month.
    log_group: who provides that log group (:data:`EndpointLogGroup`); default ``"create"``. Give
        ``"existing"`` when an endpoint of the same name ran before and left its group, ``"sagemaker"`` to
        leave it to SageMaker (no retention period).

    Changing ``instance_type`` of a variant that autoscaling targets fails the update: deploy once with
    autoscaling off, then with the new instance type (and autoscaling back on).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        endpoint_name: str,
        bucket: s3.IBucket,
        success_topic: sns.ITopic,
        error_topic: sns.ITopic,
        encryption_key: kms.IKey,
        model_props: ModelProps | None = None,
        existing_model_name: str | None = None,
        existing_model_role: iam.IRole | None = None,
        input_prefix: str = "async-inference/inputs/",
        output_prefix: str = "async-inference/outputs/",
        failure_prefix: str = "async-inference/failures/",
        instance_type: str = "ml.m5.xlarge",
        initial_instance_count: int = 1,
        max_concurrent_invocations_per_instance: int = 4,
        include_inference_response_in: Sequence[str] = INCLUDE_INFERENCE_RESPONSE_VALUES,
        variant_name: str = "AllTraffic",
        instance_local_storage: bool | None = None,
        volume_size_gb: int | None = None,
        model_data_download_timeout_seconds: int | None = None,
        container_startup_health_check_timeout_seconds: int | None = None,
        vpc: EndpointVpcProps | None = None,
        additional_keys: Sequence[kms.IKey] = (),
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        log_group: EndpointLogGroup = "create",
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if log_group not in get_args(EndpointLogGroup):
            problems.append(
                f"log_group: expected one of {list(get_args(EndpointLogGroup))}, received {log_group!r}"
            )
        if volume_size_gb is not None and not 1 <= volume_size_gb <= 512:
            problems.append(f"volume_size_gb: expected 1-512, received {volume_size_gb}")
        for name, value in (
            ("model_data_download_timeout_seconds", model_data_download_timeout_seconds),
            (
                "container_startup_health_check_timeout_seconds",
                container_startup_health_check_timeout_seconds,
            ),
        ):
            if value is not None and not 60 <= value <= 3600:
                problems.append(f"{name}: expected 60-3600, received {value}")
        if vpc is not None and not (1 <= len(vpc.subnet_ids) <= 16 and 1 <= len(vpc.security_group_ids) <= 5):
            problems.append(
                "vpc: expected 1-16 subnet IDs and 1-5 security group IDs, received "
                f"{len(vpc.subnet_ids)} and {len(vpc.security_group_ids)}"
            )
        if (model_props is None) == (existing_model_name is None):
            problems.append("give exactly one of model_props or existing_model_name")
        if existing_model_name is not None and existing_model_role is None:
            problems.append(
                "existing_model_role: required with existing_model_name (it publishes the results)"
            )
        if model_props is not None and existing_model_role is not None:
            problems.append("existing_model_role: only with existing_model_name")
        for name, prefix in (("input_prefix", input_prefix), ("output_prefix", output_prefix),
                             ("failure_prefix", failure_prefix)):  # fmt: skip
            problem = prefix_problem(name, prefix)
            if problem:
                problems.append(problem)
        bad = [v for v in include_inference_response_in if v not in INCLUDE_INFERENCE_RESPONSE_VALUES]
        if bad:
            problems.append(
                f"include_inference_response_in: expected values from {list(INCLUDE_INFERENCE_RESPONSE_VALUES)},"
                f" received {bad}"
            )
        if initial_instance_count < 1:
            problems.append(f"initial_instance_count: expected >= 1, received {initial_instance_count}")
        if max_concurrent_invocations_per_instance < 1:
            problems.append(
                "max_concurrent_invocations_per_instance: expected >= 1, "
                f"received {max_concurrent_invocations_per_instance}"
            )
        check("AsyncInferenceEndpoint", problems)

        stack = Stack.of(self)
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.input_prefix = input_prefix
        self.output_prefix = output_prefix
        self.failure_prefix = failure_prefix

        if existing_model_role is not None:
            self.execution_role: iam.IRole = existing_model_role
        else:
            self.execution_role = iam.Role(
                self,
                "ExecutionRole",
                assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
                description=f"SageMaker execution role of async endpoint {endpoint_name}",
            )
        # A named policy (not the role's DefaultPolicy) so the endpoint can depend on it explicitly.
        self.policy = iam.Policy(self, "ExecutionPolicy", roles=[self.execution_role])
        statements = [
            iam.PolicyStatement(
                sid="ReadInputs",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{input_prefix}*")],
            ),
            iam.PolicyStatement(
                sid="WriteOutputsAndFailures",
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[
                    bucket.arn_for_objects(f"{output_prefix}*"),
                    bucket.arn_for_objects(f"{failure_prefix}*"),
                ],
            ),
            iam.PolicyStatement(
                sid="PublishNotifications",
                actions=["sns:Publish"],
                resources=[success_topic.topic_arn, error_topic.topic_arn],
            ),
            iam.PolicyStatement(
                sid="UseKey",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=list(
                    dict.fromkeys([encryption_key.key_arn, *(k.key_arn for k in additional_keys)])
                ),
            ),
            iam.PolicyStatement(
                sid="EndpointLogs",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
            iam.PolicyStatement(
                sid="EndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # PutMetricData has no resource type; scoped by namespace below
                conditions={"StringLike": {"cloudwatch:namespace": ["AWS/SageMaker", "/aws/sagemaker/*"]}},
            ),
        ]
        if vpc is not None:
            statements += self._vpc_statements(stack, vpc)
        if model_props is not None:
            statements += self._model_statements(self, model_props)
        for statement in statements:
            self.policy.add_statements(statement)
        self._acknowledge(statements)

        # Created here by default (SageMaker would create it without retention); the endpoint depends on it.
        # The execution role may write to it whoever created it (EndpointLogs above).
        log_group_name = f"/aws/sagemaker/Endpoints/{endpoint_name}"
        self.log_group: logs.ILogGroup | None = None
        created_log_group: logs.LogGroup | None = None
        if log_group == "create":
            self.log_group = created_log_group = logs.LogGroup(
                self,
                "EndpointLogs",
                log_group_name=log_group_name,
                retention=log_retention,
                removal_policy=RemovalPolicy.DESTROY,
            )
        elif log_group == "existing":
            self.log_group = logs.LogGroup.from_log_group_name(self, "EndpointLogs", log_group_name)

        if model_props is not None:
            container = sagemaker.CfnModel.ContainerDefinitionProperty(
                image=resolve_image(self, model_props.image),
                model_data_url=model_props.model_data_url,
                environment=dict(model_props.environment) or None,
            )
            self.model: sagemaker.CfnModel | None = sagemaker.CfnModel(
                self,
                "Model",
                execution_role_arn=self.execution_role.role_arn,
                primary_container=container,
                vpc_config=(
                    sagemaker.CfnModel.VpcConfigProperty(
                        subnets=list(vpc.subnet_ids), security_group_ids=list(vpc.security_group_ids)
                    )
                    if vpc is not None
                    else None
                ),
            )
            self.model.node.add_dependency(self.policy)
            self.model_name = self.model.attr_model_name
        else:
            self.model = None
            self.model_name = existing_model_name or ""

        local_storage = (
            has_instance_storage(instance_type) if instance_local_storage is None else instance_local_storage
        )
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            kms_key_id=None if local_storage else encryption_key.key_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=variant_name,
                    model_name=self.model_name,
                    instance_type=instance_type,
                    initial_instance_count=initial_instance_count,
                    initial_variant_weight=1,
                    volume_size_in_gb=volume_size_gb,
                    model_data_download_timeout_in_seconds=model_data_download_timeout_seconds,
                    container_startup_health_check_timeout_in_seconds=(
                        container_startup_health_check_timeout_seconds
                    ),
                )
            ],
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=f"s3://{bucket.bucket_name}/{output_prefix}",
                    s3_failure_path=f"s3://{bucket.bucket_name}/{failure_prefix}",
                    kms_key_id=encryption_key.key_arn,
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=success_topic.topic_arn,
                        error_topic=error_topic.topic_arn,
                        include_inference_response_in=list(include_inference_response_in) or None,
                    ),
                ),
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance
                ),
            ),
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        # Endpoint creation sends a TestNotification: the role's publish grant and the topics must exist.
        self.endpoint.node.add_dependency(self.policy)
        if created_log_group is not None:
            self.endpoint.node.add_dependency(created_log_group)
            acknowledge_checkov(
                created_log_group,
                "CKV_AWS_158",
                "encrypted at rest by CloudWatch Logs; the container's logs hold no secrets of this stack",
            )
        if self.model is not None:
            acknowledge_checkov(
                self.model,
                "CKV_AWS_370",
                "network isolation stays off: the sample model's container downloads its model from the "
                "Hugging Face Hub at start (HF_MODEL_ID); a model whose artifact is in S3 can run isolated",
            )
        for topic in (success_topic, error_topic):
            if isinstance(topic, Construct) and Stack.of(topic) is stack:
                self.endpoint.node.add_dependency(topic)
        self.endpoint_arn = stack.format_arn(
            service="sagemaker", resource="endpoint", resource_name=endpoint_name
        )

    def _acknowledge(self, statements: list[iam.PolicyStatement]) -> None:
        reasons = {
            "ReadInputs": "object-level read of the input prefix only (async requests name any key under it)",
            "WriteOutputsAndFailures": "object-level writes under the output and failure prefixes only "
            "(SageMaker names each result object)",
            "EndpointLogs": "log streams of this endpoint's own log group only (SageMaker names the streams)",
            "EndpointMetrics": "cloudwatch:PutMetricData has no resource type; limited by a namespace condition",
            "EcrAuthorization": "ecr:GetAuthorizationToken has no resource type",
            "ReadModelArtifact": "read of the model artifact prefix only",
            "DescribeVpc": "ec2:Describe* actions have no resource type",
            "VpcNetworkInterfaces": "SageMaker names the network interfaces it creates in the given subnets",
        }
        policy = self.policy.node.default_child
        assert policy is not None
        for statement in statements:
            for resource in statement.resources:
                if "*" in nag_text(self, resource) and statement.sid in reasons:
                    acknowledge_iam5_resource(policy, resource, reasons[statement.sid])

    @staticmethod
    def _vpc_statements(stack: Stack, vpc: EndpointVpcProps) -> list[iam.PolicyStatement]:
        """What SageMaker does with the execution role to attach the containers to the VPC."""
        return [
            iam.PolicyStatement(
                sid="DescribeVpc",
                actions=[
                    "ec2:DescribeVpcEndpoints",
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeNetworkInterfaces",
                ],
                resources=["*"],  # Describe* actions have no resource type
            ),
            iam.PolicyStatement(
                sid="VpcNetworkInterfaces",
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[
                    stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
                    *(
                        stack.format_arn(service="ec2", resource="subnet", resource_name=s)
                        for s in vpc.subnet_ids
                    ),
                    *(
                        stack.format_arn(service="ec2", resource="security-group", resource_name=g)
                        for g in vpc.security_group_ids
                    ),
                ],
            ),
        ]

    @staticmethod
    def _model_statements(scope: Construct, model: ModelProps) -> list[iam.PolicyStatement]:
        stack = Stack.of(scope)
        statements: list[iam.PolicyStatement] = []
        match = _ECR_IMAGE.match(model.image)
        if match:
            region = stack.region if match["region"] == "${AWS::Region}" else match["region"]
            account = (
                dlc_account_mapping(scope).find_in_map(Aws.REGION, "account")
                if match["account"] == "${" + DLC_ACCOUNT_VARIABLE + "}"
                else match["account"]
            )
            statements += [
                iam.PolicyStatement(
                    sid="PullModelImage",
                    actions=[
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                        "ecr:BatchCheckLayerAvailability",
                    ],
                    resources=[
                        stack.format_arn(
                            service="ecr",
                            region=region,
                            account=account,
                            resource="repository",
                            resource_name=match["repository"],
                        )
                    ],
                ),
                iam.PolicyStatement(
                    sid="EcrAuthorization",
                    actions=["ecr:GetAuthorizationToken"],
                    resources=["*"],  # GetAuthorizationToken has no resource type
                ),
            ]
        if model.model_data_url:
            url = _S3_URL.match(model.model_data_url)
            if url:
                key = url["key"] + ("*" if url["key"].endswith("/") else "")
                statements.append(
                    iam.PolicyStatement(
                        sid="ReadModelArtifact",
                        actions=["s3:GetObject"],
                        resources=[f"arn:{stack.partition}:s3:::{url['bucket']}/{key}"],
                    )
                )
        return statements


def resolve_image(scope: Construct, image: str) -> str:
    """The image URI with its ``${...}`` placeholders resolved at deploy time (``Fn::Sub``)."""
    if "${" not in image:
        return image
    variables: dict[str, str] = {}
    if "${" + DLC_ACCOUNT_VARIABLE + "}" in image:
        variables[DLC_ACCOUNT_VARIABLE] = dlc_account_mapping(scope).find_in_map(Aws.REGION, "account")
    return Fn.sub(image, variables or None)
