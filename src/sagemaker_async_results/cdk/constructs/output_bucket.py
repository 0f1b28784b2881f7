"""The S3 bucket holding async inference inputs, outputs and failures."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, FeatureFlags, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sagemaker_async_results.cdk.constructs._nag import acknowledge_checkov
from sagemaker_async_results.cdk.constructs._props import check, exclusive, prefix_problem

__all__ = ["OutputBucket", "OutputBucketProps"]


@dataclass(frozen=True)
class OutputBucketProps:
    """Props of a new bucket.

    Attributes
    ----------
    expiration_days: lifecycle expiration of objects under the output and failure prefixes; default 30.
    input_expiration_days: lifecycle expiration of inputs; default ``None`` (kept).
    server_access_logs_bucket: where server access logs go; default a new SSE-S3 log bucket.
    access_log_retention_days: expiration of access logs in the created log bucket; default 90.
    removal_policy: default ``RETAIN`` for both buckets.
    """

    expiration_days: int = 30
    input_expiration_days: int | None = None
    server_access_logs_bucket: s3.IBucket | None = None
    access_log_retention_days: int = 90
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN


class OutputBucket(Construct):
    """Bucket for inputs, outputs and failures: KMS, block public access, SSL only, access logs, lifecycle.

    Parameters
    ----------
    encryption_key:
        Customer managed key for SSE-KMS (with an S3 bucket key). Required when creating the bucket.
    existing_bucket:
        Use this bucket instead (its encryption, logging and lifecycle are the owner's business).
    bucket_props:
        Props of a new bucket; default :class:`OutputBucketProps` ().
    input_prefix, output_prefix, failure_prefix:
        Key prefixes (no leading slash, trailing slash); defaults ``async-inference/{inputs,outputs,failures}/``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        encryption_key: kms.IKey | None = None,
        existing_bucket: s3.IBucket | None = None,
        bucket_props: OutputBucketProps | None = None,
        input_prefix: str = "async-inference/inputs/",
        output_prefix: str = "async-inference/outputs/",
        failure_prefix: str = "async-inference/failures/",
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        exclusive(problems, "existing_bucket", existing_bucket, "bucket_props", bucket_props)
        if existing_bucket is None and encryption_key is None:
            problems.append("encryption_key: required when the bucket is created")
        for name, prefix in (
            ("input_prefix", input_prefix),
            ("output_prefix", output_prefix),
            ("failure_prefix", failure_prefix),
        ):
            problem = prefix_problem(name, prefix)
            if problem:
                problems.append(problem)
        props = bucket_props or OutputBucketProps()
        if props.expiration_days < 1:
            problems.append(f"expiration_days: expected >= 1, received {props.expiration_days}")
        check("OutputBucket", problems)

        self.input_prefix = input_prefix
        self.output_prefix = output_prefix
        self.failure_prefix = failure_prefix
        self.access_logs_bucket: s3.IBucket | None = None
        if existing_bucket is not None:
            self.bucket: s3.IBucket = existing_bucket
            self.created = False
            return

        logs_bucket = props.server_access_logs_bucket
        if logs_bucket is None:
            logs_bucket = s3.Bucket(
                self,
                "AccessLogs",
                # Server access log delivery does not support SSE-KMS targets.
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                # With the recommended flag, log delivery is granted by bucket policy (ACLs stay disabled);
                # legacy apps without the flag get the LogDeliveryWrite ACL, which needs ObjectWriter.
                object_ownership=(
                    s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
                    if FeatureFlags.of(self).is_enabled("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy")
                    else s3.ObjectOwnership.OBJECT_WRITER
                ),
                lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(props.access_log_retention_days))],
                removal_policy=props.removal_policy,
            )
            acknowledge_checkov(logs_bucket, "CKV_AWS_18", "this is the access log bucket: logging its own "
                                "access would log into itself")  # fmt: skip
            acknowledge_checkov(logs_bucket, "CKV_AWS_21", "access logs are written once and expire by "
                                "lifecycle; versions would only keep expired logs")  # fmt: skip
        self.access_logs_bucket = logs_bucket

        rules = [
            s3.LifecycleRule(
                id="ExpireOutputs", prefix=output_prefix, expiration=Duration.days(props.expiration_days)
            ),
            s3.LifecycleRule(
                id="ExpireFailures", prefix=failure_prefix, expiration=Duration.days(props.expiration_days)
            ),
            s3.LifecycleRule(
                id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(1)
            ),
        ]
        if props.input_expiration_days:
            rules.append(
                s3.LifecycleRule(
                    id="ExpireInputs",
                    prefix=input_prefix,
                    expiration=Duration.days(props.input_expiration_days),
                )
            )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="output-bucket/",
            lifecycle_rules=rules,
            removal_policy=props.removal_policy,
        )
        acknowledge_checkov(
            self.bucket,
            "CKV_AWS_21",
            "SageMaker writes each result object once under its inference ID and lifecycle rules expire "
            "them; versioning would keep every expired result (and its cost) for no reader",
        )
        self.created = True

    def s3_uri(self, prefix: str) -> str:
        """``s3://<bucket>/<prefix>`` (the bucket name may be a token)."""
        return f"s3://{self.bucket.bucket_name}/{prefix}"

    def objects_arn(self, prefix: str) -> str:
        """ARN pattern of every object under ``prefix``."""
        return self.bucket.arn_for_objects(f"{prefix}*")
