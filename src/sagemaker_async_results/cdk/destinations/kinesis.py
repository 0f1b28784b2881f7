"""Kinesis Data Streams: a stream encrypted with the construct's key (or an existing stream) the
functions may put records on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results.cdk.constructs._nag import acknowledge
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.destinations._base import DestinationBinding
from sagemaker_async_results.runtime.destinations.kinesis import STREAM_ARN_ENV

if TYPE_CHECKING:
    from sagemaker_async_results.cdk.config import DestinationsConfig

__all__ = ["OUTPUT_RESULTS_STREAM_ARN", "KinesisDestination"]

#: Stack output naming the stream consumers read.
OUTPUT_RESULTS_STREAM_ARN = "ResultsStreamArn"


class KinesisDestination:
    """Put every result record on a Kinesis data stream (``kinesis:PutRecords`` and ``kinesis:PutRecord`` on that stream only).

    Parameters
    ----------
    existing_stream:
        Put records on this stream instead of creating one. Default: an on-demand stream encrypted
        with the construct's customer managed key (which the functions already use).
    existing_stream_arn:
        The same, by ARN (imported when bound); give at most one of the two.
    existing_stream_key:
        The customer managed key of ``existing_stream``, if any: the functions get
        ``kms:GenerateDataKey`` on it. Only with an existing stream.
    retention: how long a created stream keeps records; default 24 hours.
    removal_policy:
        What ``cdk destroy`` does with a created stream; default ``DESTROY``. Its records are copies of
        results that stay in the bucket and the result store, and an on-demand stream bills per
        stream-hour while idle, so a retained stream would cost money for no reader. Give ``RETAIN``
        when consumers must drain it after the stack is gone.
    """

    construct_id = "Kinesis"

    def __init__(
        self,
        *,
        existing_stream: kinesis.IStream | None = None,
        existing_stream_arn: str | None = None,
        existing_stream_key: kms.IKey | None = None,
        retention: Duration | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        problems: list[str] = []
        existing = existing_stream is not None or existing_stream_arn is not None
        if existing_stream is not None and existing_stream_arn is not None:
            problems.append("give either existing_stream or existing_stream_arn, not both")
        if existing_stream_key is not None and not existing:
            problems.append("existing_stream_key: only with existing_stream or existing_stream_arn")
        if retention is not None and existing:
            problems.append("retention: only for a created stream, not with an existing one")
        check("KinesisDestination", problems)
        self.existing_stream = existing_stream
        self.existing_stream_arn = existing_stream_arn
        self.existing_stream_key = existing_stream_key
        self.retention = retention
        self.removal_policy = removal_policy
        self.stream: kinesis.IStream | None = None

    @classmethod
    def from_config(cls, config: DestinationsConfig) -> KinesisDestination | None:
        section = config.kinesis
        if not section.enabled:
            return None
        return cls(existing_stream_arn=section.stream_arn)

    def bind(
        self, scope: Construct, *, functions: Sequence[lambda_.Function], encryption_key: kms.IKey
    ) -> DestinationBinding:
        stream = self.existing_stream
        if stream is None and self.existing_stream_arn is not None:
            stream = kinesis.Stream.from_stream_arn(scope, "ExistingStream", self.existing_stream_arn)
        if stream is None:
            stream = kinesis.Stream(
                scope,
                "Stream",
                stream_mode=kinesis.StreamMode.ON_DEMAND,
                encryption=kinesis.StreamEncryption.KMS,
                encryption_key=encryption_key,
                retention_period=self.retention,
                removal_policy=self.removal_policy,
            )
            acknowledge(
                stream,
                "KDS3",
                "the stream is encrypted with the construct's customer managed key (rotated; the functions "
                "are granted it by their identity policies) rather than the AWS managed aws/kinesis key, on purpose",
            )
        self.stream = stream
        for function in functions:
            # Exactly the put actions: the runtime sends a batch with PutRecords (PutRecord for a lone result);
            # grant_write would add ListShards and wildcard KMS actions.
            function.add_to_role_policy(
                iam.PolicyStatement(
                    sid="PutResults",
                    actions=["kinesis:PutRecord", "kinesis:PutRecords"],
                    resources=[stream.stream_arn],
                )
            )
            if self.existing_stream_key is not None:
                self.existing_stream_key.grant(function, "kms:GenerateDataKey")
            function.add_environment(STREAM_ARN_ENV, stream.stream_arn)
        return DestinationBinding(outputs={OUTPUT_RESULTS_STREAM_ARN: stream.stream_arn})
