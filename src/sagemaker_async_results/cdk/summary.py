"""A readable summary of a synthesized stack template (what ``make demo`` prints).

Usage: ``python -m sagemaker_async_results.cdk.summary [cdk.out]`` prints one summary per ``*.template.json``.

Example
-------
>>> text = summarize({"Resources": {}})
>>> text.splitlines()[0]
'Resources: 0'
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sagemaker_async_results import contract

__all__ = ["main", "summarize", "summarize_file"]

Template = Mapping[str, Any]


def _text(value: Any) -> str:
    """Render a CloudFormation value, replacing intrinsic functions by short placeholders."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, Mapping) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return f"<{arg}>"
        if name == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if name == "Fn::Join":
            return str(arg[0]).join(_text(part) for part in arg[1])
        if name == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    return json.dumps(value, sort_keys=True)


def _of_type(resources: Mapping[str, Any], type_name: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(name, r.get("Properties", {})) for name, r in resources.items() if r.get("Type") == type_name]


def _statements(resources: Mapping[str, Any], type_name: str, key: str) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for _, props in _of_type(resources, type_name):
        statements = props.get(key, {}).get("Statement", [])
        found += statements if isinstance(statements, list) else [statements]
    return found


def _secure_defaults(resources: Mapping[str, Any]) -> list[str]:
    checks: list[str] = []

    def line(ok: bool, text: str) -> None:
        checks.append(f"[{'x' if ok else ' '}] {text}")

    keys = _of_type(resources, "AWS::KMS::Key")
    line(
        bool(keys) and all(p.get("EnableKeyRotation") for _, p in keys),
        "KMS customer managed key with rotation",
    )
    buckets = _of_type(resources, "AWS::S3::Bucket")
    kms_buckets = [
        p
        for _, p in buckets
        if any(
            rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") == "aws:kms"
            for rule in p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
        )
    ]
    if buckets:
        line(bool(kms_buckets), "output bucket encrypted with the KMS key")
        line(
            all(p.get("PublicAccessBlockConfiguration", {}).get("BlockPublicPolicy") for _, p in buckets),
            "block public access on every bucket",
        )
        line(all("LoggingConfiguration" in p for p in kms_buckets), "server access logs on the output bucket")
        line(
            all("LifecycleConfiguration" in p for p in kms_buckets),
            "lifecycle expiration of outputs and failures",
        )
    bucket_policy = _statements(resources, "AWS::S3::BucketPolicy", "PolicyDocument")
    if buckets:
        line(
            any("aws:SecureTransport" in json.dumps(s) for s in bucket_policy), "bucket policies deny non-SSL"
        )
    topics = _of_type(resources, "AWS::SNS::Topic")
    if topics:
        line(all("KmsMasterKeyId" in p for _, p in topics), "topics encrypted with the KMS key")
        topic_policy = _statements(resources, "AWS::SNS::TopicPolicy", "PolicyDocument")
        line(any("aws:SecureTransport" in json.dumps(s) for s in topic_policy), "topic policies deny non-SSL")
        line(
            any(s.get("Sid") == "DenyPublishByAnyoneElse" for s in topic_policy),
            "only the SageMaker role publishes",
        )
    queues = _of_type(resources, "AWS::SQS::Queue")
    line(
        all("KmsMasterKeyId" in p for _, p in queues), f"{len(queues)} SQS queues encrypted with the KMS key"
    )
    queue_policy = _statements(resources, "AWS::SQS::QueuePolicy", "PolicyDocument")
    line(any("aws:SecureTransport" in json.dumps(s) for s in queue_policy), "queue policies deny non-SSL")
    for _, p in _of_type(resources, "AWS::DynamoDB::Table"):
        line(
            p.get("SSESpecification", {}).get("SSEType") == "KMS", "results table encrypted with the KMS key"
        )
        line(
            bool(p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")),
            "results table point-in-time recovery",
        )
        line(bool(p.get("TimeToLiveSpecification", {}).get("Enabled")), "results table TTL")
    functions = [
        (n, p)
        for n, p in _of_type(resources, "AWS::Lambda::Function")
        if str(p.get("Handler", "")).startswith("sagemaker_async_results.")
    ]
    line(
        all(p.get("TracingConfig", {}).get("Mode") == "Active" for _, p in functions),
        "X-Ray tracing on the handlers",
    )
    line(
        all(p.get("LoggingConfig", {}).get("LogFormat") == "JSON" for _, p in functions),
        "JSON logs on the handlers",
    )
    groups = _of_type(resources, "AWS::Logs::LogGroup")
    line(all("RetentionInDays" in p for _, p in groups), "log groups with a retention period")
    policies = _statements(resources, "AWS::IAM::Policy", "PolicyDocument")
    line(
        not any(s.get("Action") == "*" or s.get("Action") == ["*"] for s in policies),
        "no IAM statement allows every action",
    )
    return checks


def summarize(template: Template) -> str:
    """A multi-line text summary of a synthesized stack template."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    outputs: Mapping[str, Any] = template.get("Outputs", {})
    lines = [f"Resources: {len(resources)}"]
    for type_name, count in sorted(Counter(r.get("Type", "?") for r in resources.values()).items()):
        lines.append(f"  {count:3d}  {type_name}")

    lines.append("")
    lines.append("Endpoint")
    for _, p in _of_type(resources, "AWS::SageMaker::Endpoint"):
        lines.append(f"  name: {_text(p.get('EndpointName', '<generated>'))}")
    for _, p in _of_type(resources, "AWS::SageMaker::Model"):
        container = p.get("PrimaryContainer", {})
        lines.append(f"  model image: {_text(container.get('Image'))}")
        env = container.get("Environment") or {}
        if env:
            lines.append("  model environment: " + ", ".join(f"{k}={_text(v)}" for k, v in env.items()))
    for _, p in _of_type(resources, "AWS::SageMaker::EndpointConfig"):
        for variant in p.get("ProductionVariants", []):
            lines.append(
                f"  variant {variant.get('VariantName')}: {variant.get('InstanceType')} "
                f"x {variant.get('InitialInstanceCount')}"
            )
        async_config = p.get("AsyncInferenceConfig", {})
        output = async_config.get("OutputConfig", {})
        notification = output.get("NotificationConfig", {})
        lines.append(f"  output path: {_text(output.get('S3OutputPath'))}")
        lines.append(f"  failure path: {_text(output.get('S3FailurePath'))}")
        lines.append(f"  success topic: {_text(notification.get('SuccessTopic'))}")
        lines.append(f"  error topic: {_text(notification.get('ErrorTopic'))}")
        lines.append(f"  response inline in: {_text(notification.get('IncludeInferenceResponseIn', []))}")
        client = async_config.get("ClientConfig", {})
        lines.append(
            f"  max concurrent invocations/instance: {client.get('MaxConcurrentInvocationsPerInstance')}"
        )
    targets = _of_type(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    if targets:
        for _, p in targets:
            lines.append(f"  autoscaling: {p.get('MinCapacity')}..{p.get('MaxCapacity')} instances")
        for _, p in _of_type(resources, "AWS::ApplicationAutoScaling::ScalingPolicy"):
            lines.append(f"    policy: {p.get('PolicyType')} ({p.get('PolicyName', '')})")
    else:
        lines.append("  autoscaling: off")

    lines.append("")
    lines.append("Result handlers")
    # Functions of the code asset (CDK's own helpers, e.g. the bucket-notifications handler, are not).
    handlers = [(n, p) for n, p in _of_type(resources, "AWS::Lambda::Function")
                if str(p.get("Handler", "")).startswith("sagemaker_async_results.")]  # fmt: skip
    for name, p in handlers:
        env = p.get("Environment", {}).get("Variables", {})
        lines.append(
            f"  {name}: {p.get('Runtime')} {','.join(p.get('Architectures', ['x86_64']))} "
            f"{p.get('MemorySize')} MB {p.get('Timeout')} s, handler {p.get('Handler')}"
        )
        lines.append(f"    reads: {_text(env.get('READABLE_LOCATIONS', '-'))}")
    modes = {
        _text(p.get("Environment", {}).get("Variables", {}).get("DELIVERY_MODE", "?"))
        for _, p in handlers
        if p.get("Handler") == contract.LAMBDA_HANDLER
    }
    lines.append(f"  delivery: {', '.join(sorted(modes)) or '-'}")
    for _, p in _of_type(resources, "AWS::SNS::Subscription"):
        lines.append(f"    subscription: {p.get('Protocol')} <- {_text(p.get('TopicArn'))}")
    for _, p in _of_type(resources, "AWS::Lambda::EventSourceMapping"):
        lines.append(
            f"    SQS ({_text(p.get('EventSourceArn'))}) batches of {p.get('BatchSize')}, window {p.get('MaximumBatchingWindowInSeconds')} s, "
            f"responses {_text(p.get('FunctionResponseTypes', []))}"
        )

    lines.append("")
    destinations = ["result store (DynamoDB)"] if _of_type(resources, "AWS::DynamoDB::Table") else []
    destinations += (
        [f"EventBridge bus {_text(outputs['EventBusName']['Value'])}"] if "EventBusName" in outputs else []
    )
    destinations += ["SQS results queue"] if "ResultsQueueUrl" in outputs else []
    if "states:SendTaskSuccess" in json.dumps(resources):
        destinations.append("Step Functions callback")
    # A Kinesis destination (construct or context) names its stream in the handlers' environment.
    if any("RESULTS_STREAM_ARN" in p.get("Environment", {}).get("Variables", {}) for _, p in handlers):
        destinations.append("Kinesis stream")
    lines.append("Destinations: " + (", ".join(destinations) or "none"))
    if contract.OUTPUT_RECOVERY_QUEUE_URL in outputs:
        delays = [
            p.get("DelaySeconds") for _, p in _of_type(resources, "AWS::SQS::Queue") if "DelaySeconds" in p
        ]
        lines.append(
            f"Recovery: S3 events -> queue delayed {delays[0] if delays else '?'} s -> recovery function"
        )
    else:
        lines.append("Recovery: off")

    alarms = _of_type(resources, "AWS::CloudWatch::Alarm")
    lines.append(f"Alarms: {len(alarms)}")
    for _, p in alarms:
        lines.append(f"  {p.get('MetricName', 'metric')}: {_text(p.get('AlarmDescription', ''))}")
    lines.append(f"Dashboards: {len(_of_type(resources, 'AWS::CloudWatch::Dashboard'))}")

    lines.append("")
    lines.append("Secure defaults")
    lines += [f"  {check}" for check in _secure_defaults(resources)]

    lines.append("")
    lines.append("Outputs: " + ", ".join(outputs))
    return "\n".join(lines)


def summarize_file(path: str | Path) -> str:
    """Summary of one ``*.template.json`` file."""
    template = json.loads(Path(path).read_text(encoding="utf-8"))
    return f"== {Path(path).name}\n{summarize(template)}"


def main(argv: list[str] | None = None) -> int:
    """Print the summary of every template in the cloud assembly folder (default ``cdk.out``)."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "cdk.out")
    templates = sorted(folder.glob("*.template.json"))
    if not templates:
        print(f"no *.template.json in {folder}: run `cdk synth` first", file=sys.stderr)
        return 1
    print("\n\n".join(summarize_file(path) for path in templates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
