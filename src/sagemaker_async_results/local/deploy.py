"""Deploy a synthesized stack from ``cdk.out`` into the emulator's CloudFormation, as ``cdk deploy`` does.

Steps: read the cloud assembly manifest, bootstrap the environment (asset bucket and the bootstrap
version parameter, like ``cdk bootstrap``), publish the file assets named in ``<stack>.assets.json``
(zipping directories), create the stack, then fill the gaps of the emulator that docs/local-run.md lists:
moto's CloudFormation does not create ``AWS::SNS::Subscription`` resources, so the template's
subscriptions are created through the SNS API with the same properties; it also ignores a bucket's
``NotificationConfiguration``, so each bucket's event notifications (e.g. the recovery queue's S3 events)
are put through the S3 API from the template, for any app.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_async_results.client.client import output_prefixes
from sagemaker_async_results.local.emulator import AwsTarget

logger = logging.getLogger(__name__)

#: The default synthesizer's qualifier and the bootstrap version it checks.
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "30"


class DeployError(RuntimeError):
    """The stack could not be deployed; the message says which step and what the emulator answered."""


@dataclass
class DeployedStack:
    """A deployed stack: its outputs, its resources by logical ID, and the template they came from."""

    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    template: dict[str, Any]
    #: Lambda-protocol subscriptions (topic ARN, function logical ID, subscription properties) that the
    #: local run delivers itself; see :mod:`sagemaker_async_results.local.event_sources`.
    lambda_subscriptions: list[dict[str, Any]] = field(default_factory=list)
    skipped_subscriptions: list[str] = field(default_factory=list)
    #: Published file assets: S3 object key -> the folder or file it was made from.
    asset_sources: dict[str, Path] = field(default_factory=dict)
    #: Function name -> its execution role's ARN; endpoint name -> its SageMaker execution role's ARN.
    function_roles: dict[str, str] = field(default_factory=dict)
    endpoint_roles: dict[str, str] = field(default_factory=dict)
    #: Function or endpoint name -> the credentials (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    #: ``AWS_SESSION_TOKEN``) of its execution role, assumed in the emulator (empty without IAM).
    function_credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    endpoint_credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    def code_path(self, logical_id: str) -> Path | None:
        """The asset folder of a Lambda function's code (found by its S3 key, as ``cdk deploy`` uploads it)."""
        code = self.template["Resources"][logical_id]["Properties"].get("Code", {})
        key = code.get("S3Key")
        return self.asset_sources.get(key) if isinstance(key, str) else None

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource.get("Type") == resource_type
        }


def find_stack_artifact(cdk_out: Path, stack_name: str | None = None) -> tuple[str, dict[str, Any]]:
    manifest = json.loads((cdk_out / "manifest.json").read_text())
    stacks = {
        name: artifact
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    }
    if not stacks:
        raise DeployError(f"{cdk_out} holds no stack; run `cdk synth` first")
    if stack_name is None and len(stacks) > 1:
        # The stacks holding the construct, found by its outputs (the stack may have any name).
        with_construct = [
            name
            for name, artifact in stacks.items()
            if output_prefixes(
                dict.fromkeys(
                    json.loads((cdk_out / artifact["properties"]["templateFile"]).read_text()).get(
                        "Outputs", {}
                    ),
                    "",
                )
            )
        ]
        if len(with_construct) != 1:
            raise DeployError(
                f"{len(with_construct)} of the stacks in {cdk_out} ({sorted(stacks)}) hold the "
                "AsyncInferenceResults construct; name one with --stack"
            )
        stack_name = with_construct[0]
    if stack_name is None:
        stack_name = next(iter(stacks))
    if stack_name not in stacks:
        raise DeployError(f"stack {stack_name!r} not in {cdk_out}; found {sorted(stacks)}")
    artifact = stacks[stack_name]
    artifact["_assets_file"] = next(
        (
            manifest["artifacts"][dep]["properties"]["file"]
            for dep in artifact.get("dependencies", [])
            if manifest["artifacts"].get(dep, {}).get("type") == "cdk:asset-manifest"
        ),
        None,
    )
    return stack_name, artifact


def pinned_endpoint_names(template: dict[str, Any]) -> dict[str, str]:
    """Logical ID -> ``EndpointName`` of every SageMaker endpoint whose template sets a literal name."""
    return {
        logical_id: resource["Properties"]["EndpointName"]
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::SageMaker::Endpoint"
        and isinstance(resource.get("Properties", {}).get("EndpointName"), str)
    }


def pin_endpoint_names(
    template: dict[str, Any], names: dict[str, str], region: str, account: str
) -> dict[str, Any]:
    """``template`` whose outputs name each named endpoint as CloudFormation would.

    In the outputs, ``Fn::GetAtt [<endpoint>, EndpointName]`` becomes the name and ``Ref <endpoint>`` its
    ARN, so ``DescribeStacks`` (what clients read) carries the template's name even on an emulator that
    names the endpoint itself. Resources are left as they are.
    """

    def visit(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Fn::GetAtt"}:
                target = value["Fn::GetAtt"]
                if isinstance(target, list) and target[0] in names and target[1:] == ["EndpointName"]:
                    return names[target[0]]
            if set(value) == {"Ref"} and value["Ref"] in names:
                return f"arn:aws:sagemaker:{region}:{account}:endpoint/{names[value['Ref']].lower()}"
            return {key: visit(item) for key, item in value.items()}
        if isinstance(value, list):
            return [visit(item) for item in value]
        return value

    pinned = dict(template)
    if "Outputs" in template:
        pinned["Outputs"] = visit(template["Outputs"])
    return pinned


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class LocalDeployer:
    """Deploys cloud assembly stacks into an AWS-compatible endpoint (the emulator by default).

    With ``iam`` (the embedded emulator enforcing permissions) the deploy also applies the template's
    topic, queue and bucket policies (moto's CloudFormation skips them) and assumes each function's and
    endpoint's execution role, so that they run with its credentials.
    """

    def __init__(self, target: AwsTarget, *, iam: bool = False) -> None:
        self.target = target
        self.iam = iam
        self._cfn = target.client("cloudformation")
        self._s3 = target.client("s3")
        self._sns = target.client("sns")
        self._ssm = target.client("ssm")
        self.account = target.client("sts").get_caller_identity()["Account"]

    def bootstrap(self) -> None:
        """What ``cdk bootstrap`` provides to the default synthesizer: the asset bucket and version."""
        bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{self.account}-{self.target.region}"
        with contextlib.suppress(self._s3.exceptions.BucketAlreadyOwnedByYou):
            self._s3.create_bucket(Bucket=bucket)
        self._ssm.put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version",
            Value=BOOTSTRAP_VERSION,
            Type="String",
            Overwrite=True,
        )

    def publish_assets(self, cdk_out: Path, assets_file: str | None) -> dict[str, Path]:
        """Upload every file asset to its destination; returns object key -> source path."""
        if assets_file is None:
            return {}
        manifest = json.loads((cdk_out / assets_file).read_text())
        published: dict[str, Path] = {}
        for asset_id, asset in manifest.get("files", {}).items():
            source = cdk_out / asset["source"]["path"]
            if asset["source"].get("packaging") == "zip" or source.is_dir():
                body = _zip_directory(source)
            else:
                body = source.read_bytes()
            for destination in asset["destinations"].values():
                bucket = _substitute(destination["bucketName"], self.account, self.target.region)
                key = _substitute(destination["objectKey"], self.account, self.target.region)
                self._s3.put_object(Bucket=bucket, Key=key, Body=body)
                published[key] = source
            logger.info("published asset %s (%d bytes)", asset_id, len(body))
        if manifest.get("dockerImages"):
            raise DeployError(
                "the stack has Docker image assets; the local run cannot build them (no Docker)"
            )
        return published

    def deploy(self, cdk_out: Path, stack_name: str | None = None, timeout: float = 300) -> DeployedStack:
        """Deploy like ``cdk deploy``. ``timeout``: moto creates a stack of ~80 resources in seconds, but on
        a busy 2-core machine it took over 120 s; a stack still in progress after it is reported."""
        stack_name, artifact = find_stack_artifact(cdk_out, stack_name)
        template = json.loads((cdk_out / artifact["properties"]["templateFile"]).read_text())
        self.bootstrap()
        assets = self.publish_assets(cdk_out, artifact["_assets_file"])
        endpoint_names = pinned_endpoint_names(template)
        deployed_template = pin_endpoint_names(template, endpoint_names, self.target.region, self.account)
        deployed_template = without_bucket_notification_resources(deployed_template)
        self._create_or_update(stack_name, deployed_template)
        self._wait(stack_name, timeout)
        stack = self._cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        physical_ids = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in self._cfn.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
        }
        deployed = DeployedStack(stack_name, outputs, physical_ids, template, asset_sources=assets)
        self._ensure_endpoint_names(deployed, endpoint_names)
        if self.iam:
            # CloudFormation creates a queue's policy before the subscriptions and bucket notifications
            # that need it (S3 sends a test event to the queue as the notification is put).
            self._apply_resource_policies(deployed)
        self._create_subscriptions(deployed)
        self._put_bucket_notifications(deployed)
        if self.iam:
            self._assume_execution_roles(deployed)
        return deployed

    def _create_or_update(self, stack_name: str, template: dict[str, Any]) -> None:
        """``cdk deploy`` semantics: create the stack, or update it when an earlier run left it there."""
        arguments = {
            "StackName": stack_name,
            "TemplateBody": json.dumps(template),
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        }
        status = self._stack_status(stack_name)
        if status is not None and ("ROLLBACK_COMPLETE" in status or status.endswith("_FAILED")):
            # A stack that never finished creating cannot be updated; CloudFormation wants it deleted.
            logger.info("deleting stack %s left in %s by an earlier run", stack_name, status)
            self._cfn.delete_stack(StackName=stack_name)
            status = None
        try:
            if status is None:
                self._cfn.create_stack(**arguments)
            else:
                logger.info("stack %s exists (%s): updating it", stack_name, status)
                self._cfn.update_stack(**arguments)
        except Exception as error:
            if "No updates are to be performed" in str(error):
                return
            action = "create_stack" if status is None else "update_stack"
            raise DeployError(f"{action} {stack_name} failed: {error}") from error

    def _stack_status(self, stack_name: str) -> str | None:
        try:
            stacks = self._cfn.describe_stacks(StackName=stack_name)["Stacks"]
        except self._cfn.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        live = [s for s in stacks if s.get("StackStatus") != "DELETE_COMPLETE"]
        return str(live[0]["StackStatus"]) if live else None

    def _ensure_endpoint_names(self, deployed: DeployedStack, names: dict[str, str]) -> None:
        """Give each endpoint its template name, as CloudFormation does.

        An emulator that ignored ``EndpointName`` created the endpoint under a generated name: the same
        endpoint config is then served under the template's name through the SageMaker API (created, or
        updated when a redeploy changed its config). The stack's outputs already carry the template's name
        (:func:`pin_endpoint_names`).
        """
        sagemaker = self.target.client("sagemaker")
        for logical_id, name in names.items():
            physical = deployed.physical_ids.get(logical_id, "").rsplit("/", 1)[-1]
            if physical.lower() == name.lower():
                deployed.physical_ids[logical_id] = name
                continue
            config = sagemaker.describe_endpoint(EndpointName=physical)["EndpointConfigName"]
            try:
                current = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            except sagemaker.exceptions.ClientError:
                current = None
            if current is None:
                sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=config)
            elif current != config:
                sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=config)
            logger.info("endpoint %s serves %s (the emulator named it %s)", name, config, physical)
            deployed.physical_ids[logical_id] = name

    def _wait(self, stack_name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            status = self._cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
            if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
                return
            if status.endswith("FAILED") or "ROLLBACK" in status:
                events = self._cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events[:10]]
                raise DeployError(f"stack {stack_name} ended in {status}: {reasons}")
            if time.monotonic() > deadline:
                events = self._cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
                last = [f"{e['LogicalResourceId']} {e['ResourceStatus']}" for e in events[:5]]
                raise DeployError(
                    f"stack {stack_name} still {status} after {timeout}s (the emulator may have failed "
                    f"a resource without saying so); last events: {last}"
                )
            time.sleep(0.2)

    # -- gaps of the emulator -------------------------------------------------------------------------
    def resolve(self, value: Any, deployed: DeployedStack) -> Any:
        """Resolve the intrinsics a subscription uses (``Ref`` and ``Fn::GetAtt`` ``Arn``)."""
        if isinstance(value, dict) and "Ref" in value:
            return deployed.physical_ids[value["Ref"]]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            resource_type = deployed.template["Resources"][logical_id]["Type"]
            physical = deployed.physical_ids[logical_id]
            if attribute != "Arn":
                raise DeployError(f"cannot resolve {logical_id}.{attribute} locally")
            return self._arn(resource_type, physical)
        return value

    def _arn(self, resource_type: str, physical_id: str) -> str:
        region, account = self.target.region, self.account
        if resource_type == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{region}:{account}:{physical_id.rstrip('/').rsplit('/', 1)[-1]}"
        if resource_type == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{region}:{account}:function:{physical_id}"
        if physical_id.startswith("arn:"):
            return physical_id
        patterns = {
            "AWS::S3::Bucket": "arn:aws:s3:::{id}",
            "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
            "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{id}",
            "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{id}",
            "AWS::Kinesis::Stream": "arn:aws:kinesis:{region}:{account}:stream/{id}",
            "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{id}:*",
            "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{id}",
        }
        if resource_type in patterns:
            return patterns[resource_type].format(id=physical_id, region=region, account=account)
        raise DeployError(f"no local ARN rule for {resource_type} {physical_id}")

    # -- permissions ----------------------------------------------------------------------------------
    def resolve_document(self, value: Any, deployed: DeployedStack) -> Any:
        """A template value (a policy document) with the intrinsics policies use resolved as CloudFormation
        would: ``Ref`` (resources, pseudo parameters), ``Fn::GetAtt ... Arn``, ``Fn::Join``,
        ``Fn::FindInMap``, ``Fn::Select``, ``Fn::Split`` and ``Fn::Sub`` without a variable map."""
        pseudo = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.target.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": deployed.name,
        }
        resources = deployed.template.get("Resources", {})

        def visit(node: Any) -> Any:
            if isinstance(node, list):
                return [visit(item) for item in node]
            if not isinstance(node, dict):
                return node
            if len(node) != 1:
                return {key: visit(item) for key, item in node.items()}
            ((name, argument),) = node.items()
            if name == "Ref":
                if argument in pseudo:
                    return pseudo[argument]
                physical = deployed.physical_ids.get(argument)
                if physical is None:
                    raise DeployError(f"cannot resolve Ref {argument} locally")
                if resources.get(argument, {}).get("Type") == "AWS::SNS::Topic":
                    return self._arn("AWS::SNS::Topic", physical)
                return physical
            if name == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                if attribute != "Arn":
                    raise DeployError(f"cannot resolve {logical_id}.{attribute} locally")
                return self._arn(resources[logical_id]["Type"], deployed.physical_ids[logical_id])
            if name == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(visit(item)) for item in visit(items))
            if name == "Fn::FindInMap":
                mapping, first, second = (visit(item) for item in argument)
                return deployed.template["Mappings"][mapping][first][second]
            if name == "Fn::Select":
                index, items = argument
                return visit(items)[int(visit(index))]
            if name == "Fn::Split":
                separator, text = argument
                return str(visit(text)).split(separator)
            if name == "Fn::Sub" and isinstance(argument, str):
                text = argument
                for key, value in pseudo.items():
                    text = text.replace("${" + key + "}", value)
                return text
            return {name: visit(argument)}

        return visit(value)

    def _apply_resource_policies(self, deployed: DeployedStack) -> None:
        """Put each topic, queue and bucket policy of the template through the service's API.

        moto's CloudFormation skips ``AWS::SNS::TopicPolicy``, ``AWS::SQS::QueuePolicy`` and
        ``AWS::S3::BucketPolicy``; without them the local run could not evaluate what a service may
        deliver (SNS to a queue, S3 events to a queue) nor the SSL-only and publisher-only denies.
        """
        sqs = self.target.client("sqs")
        kinds = {
            "AWS::SNS::TopicPolicy": "Topics",
            "AWS::SQS::QueuePolicy": "Queues",
            "AWS::S3::BucketPolicy": "Bucket",
        }
        for resource_type, targets_key in kinds.items():
            for logical_id, resource in deployed.resources_of_type(resource_type).items():
                props = resource["Properties"]
                document = json.dumps(self.resolve_document(props["PolicyDocument"], deployed))
                targets = self.resolve_document(props[targets_key], deployed)
                for target in targets if isinstance(targets, list) else [targets]:
                    if resource_type == "AWS::SNS::TopicPolicy":
                        self._sns.set_topic_attributes(
                            TopicArn=target, AttributeName="Policy", AttributeValue=document
                        )
                    elif resource_type == "AWS::SQS::QueuePolicy":
                        sqs.set_queue_attributes(QueueUrl=target, Attributes={"Policy": document})
                    else:
                        self._s3.put_bucket_policy(Bucket=target, Policy=document)
                logger.info("applied %s %s", resource_type, logical_id)

    def _assume_execution_roles(self, deployed: DeployedStack) -> None:
        """Assume each function's and endpoint's execution role, as Lambda and SageMaker do.

        A function's session is named after the function (as Lambda names it), an endpoint's
        ``SageMaker``; the credentials last the longest a role session may (12 hours).
        """
        lambda_client = self.target.client("lambda")
        sagemaker = self.target.client("sagemaker")
        for logical_id in deployed.resources_of_type("AWS::Lambda::Function"):
            name = deployed.physical_ids[logical_id]
            role = lambda_client.get_function(FunctionName=name)["Configuration"].get("Role")
            if role:
                deployed.function_roles[name] = role
        for logical_id in deployed.resources_of_type("AWS::SageMaker::Endpoint"):
            name = deployed.physical_ids[logical_id]
            config_name = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)[
                "ProductionVariants"
            ]
            models = [v["ModelName"] for v in variants if v.get("ModelName")]
            role = sagemaker.describe_model(ModelName=models[0]).get("ExecutionRoleArn") if models else None
            if role:
                deployed.endpoint_roles[name] = role
        for name, role in deployed.function_roles.items():
            deployed.function_credentials[name] = self.assume_role(role, name)
        for name, role in deployed.endpoint_roles.items():
            deployed.endpoint_credentials[name] = self.assume_role(role, "SageMaker")

    def function_policy(self, deployed: DeployedStack, function_logical_id: str) -> dict[str, Any]:
        """The resource policy Lambda builds from the template's ``AWS::Lambda::Permission`` resources
        for one function (who may invoke it, from which source)."""
        statements = []
        for logical_id, resource in deployed.resources_of_type("AWS::Lambda::Permission").items():
            props = resource["Properties"]
            target = props["FunctionName"]
            names = target if isinstance(target, dict) else {"Ref": target}
            if function_logical_id not in (names.get("Ref"), (names.get("Fn::GetAtt") or [None])[0]):
                continue
            principal = self.resolve_document(props["Principal"], deployed)
            statement: dict[str, Any] = {
                "Sid": logical_id,
                "Effect": "Allow",
                "Principal": {"Service": principal} if "amazonaws.com" in principal else {"AWS": principal},
                "Action": props["Action"],
                "Resource": self._arn("AWS::Lambda::Function", deployed.physical_ids[function_logical_id]),
            }
            conditions: dict[str, Any] = {}
            if "SourceArn" in props:
                conditions["ArnLike"] = {"aws:SourceArn": self.resolve_document(props["SourceArn"], deployed)}
            if "SourceAccount" in props:
                conditions["StringEquals"] = {
                    "aws:SourceAccount": self.resolve_document(props["SourceAccount"], deployed)
                }
            if conditions:
                statement["Condition"] = conditions
            statements.append(statement)
        return {"Version": "2012-10-17", "Statement": statements}

    def guard_tap(self, queue_url: str, queue_arn: str, function_arn: str, policy: dict[str, Any]) -> None:
        """Let SNS deliver to a tap queue (the local run's SNS -> Lambda) only as the function's policy
        lets SNS invoke the function: its statements become the queue's policy (checked by an emulator in
        any process); in this process a refusal is also worded as the refused invoke (``iam.stand_in``)."""
        from sagemaker_async_results.local import iam

        statements = [
            {**statement, "Action": "sqs:SendMessage", "Resource": queue_arn}
            for statement in policy["Statement"]
        ]
        document = {"Version": "2012-10-17", "Statement": statements}
        self.target.client("sqs").set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(document)}
        )
        iam.stand_in(queue_arn, "lambda:InvokeFunction", function_arn, policy)

    def assume_role(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Credentials of ``role_arn`` (a 12-hour session), as the environment variables boto3 reads."""
        credentials = self.target.client("sts").assume_role(
            RoleArn=role_arn, RoleSessionName=session_name[:64], DurationSeconds=43200
        )["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def role_clients(self, session_name: str) -> Callable[[str, str], Any]:
        """``(role ARN, service) -> boto3 client`` signed as that role: one session and client per pair,
        made on first use (for the endpoint simulator, which learns an endpoint's role as it serves it)."""
        clients: dict[tuple[str, str], Any] = {}
        lock = threading.Lock()

        def client(role_arn: str, service: str) -> Any:
            with lock:
                if (role_arn, service) not in clients:
                    target = self.target.as_role(self.assume_role(role_arn, session_name))
                    clients[(role_arn, service)] = target.client(service)
                return clients[(role_arn, service)]

        return client

    def _create_subscriptions(self, deployed: DeployedStack) -> None:
        for logical_id, resource in deployed.resources_of_type("AWS::SNS::Subscription").items():
            props = resource["Properties"]
            topic_arn = self.resolve(props["TopicArn"], deployed)
            protocol = props["Protocol"]
            if protocol == "lambda":
                deployed.lambda_subscriptions.append(
                    {"logicalId": logical_id, "topicArn": topic_arn, "function": props["Endpoint"], **props}
                )
                continue
            if protocol != "sqs":
                # email/https endpoints are outside this machine: the local run never sends to them.
                logger.warning("skipping %s subscription %s in the local run", protocol, logical_id)
                deployed.skipped_subscriptions.append(logical_id)
                continue
            attributes = {"RawMessageDelivery": str(props.get("RawMessageDelivery", False)).lower()}
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(
                    {k: self.resolve(v, deployed) for k, v in props["RedrivePolicy"].items()}
                )
            if "FilterPolicy" in props:
                attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
            response = self._sns.subscribe(
                TopicArn=topic_arn,
                Protocol=protocol,
                Endpoint=self.resolve(props["Endpoint"], deployed),
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )
            deployed.physical_ids[logical_id] = response["SubscriptionArn"]

    def _put_bucket_notifications(self, deployed: DeployedStack) -> None:
        """Put each bucket's template ``NotificationConfiguration`` through the S3 API.

        The template's shape (``QueueConfigurations[].Queue``, ``Event``, ``Filter.S3Key.Rules``) becomes
        ``PutBucketNotificationConfiguration``'s (``QueueArn``, ``Events``, ``Filter.Key.FilterRules``).
        Lambda targets are left out: the emulator would run them in Docker; the local run has none.
        """
        for logical_id, resource in deployed.resources_of_type("AWS::S3::Bucket").items():
            template = resource.get("Properties", {}).get("NotificationConfiguration")
            if not template or logical_id not in deployed.physical_ids:
                continue
            configuration = bucket_notification_configuration(
                template, lambda value: self.resolve(value, deployed)
            )
            if template.get("LambdaConfigurations"):
                logger.warning("skipping the Lambda notifications of bucket %s in the local run", logical_id)
            if configuration:
                self._s3.put_bucket_notification_configuration(
                    Bucket=deployed.physical_ids[logical_id], NotificationConfiguration=configuration
                )
                logger.info("bucket %s notifies %s", logical_id, sorted(configuration))
        # CDK's bucket-notifications custom resource (left out of the deployed template): its
        # NotificationConfiguration is already in the S3 API's shape, with ARNs to resolve.
        for logical_id, resource in deployed.resources_of_type(BUCKET_NOTIFICATIONS_TYPE).items():
            props = resource.get("Properties", {})
            configuration = {}
            for section, arn_key in (
                ("QueueConfigurations", "QueueArn"),
                ("TopicConfigurations", "TopicArn"),
            ):
                entries = [
                    {**entry, arn_key: self.resolve(entry[arn_key], deployed)}
                    for entry in props.get("NotificationConfiguration", {}).get(section, [])
                ]
                if entries:
                    configuration[section] = entries
            if configuration:
                self._s3.put_bucket_notification_configuration(
                    Bucket=self.resolve(props["BucketName"], deployed),
                    NotificationConfiguration=configuration,
                )
                logger.info("%s: bucket notifies %s", logical_id, sorted(configuration))


#: CDK's bucket-notifications custom resource: moto's CloudFormation would run its handler in Docker
#: (and never finish the stack), so the deploy leaves it out and puts its configuration itself.
BUCKET_NOTIFICATIONS_TYPE = "Custom::S3BucketNotifications"


def without_bucket_notification_resources(template: dict[str, Any]) -> dict[str, Any]:
    """``template`` without :data:`BUCKET_NOTIFICATIONS_TYPE` resources nor ``DependsOn`` naming them."""
    removed = {
        k for k, v in template.get("Resources", {}).items() if v.get("Type") == BUCKET_NOTIFICATIONS_TYPE
    }
    if not removed:
        return template
    resources = {}
    for logical_id, resource in template["Resources"].items():
        if logical_id in removed:
            continue
        depends = resource.get("DependsOn")
        if depends is not None:
            kept = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in removed]
            resource = {k: v for k, v in resource.items() if k != "DependsOn"}
            if kept:
                resource["DependsOn"] = kept
        resources[logical_id] = resource
    return {**template, "Resources": resources}


def bucket_notification_configuration(
    template: dict[str, Any], resolve: Callable[[Any], Any]
) -> dict[str, Any]:
    """A template ``NotificationConfiguration`` in the S3 API's shape (queues and topics; see above)."""

    def converted(entry: dict[str, Any], target: str, arn_key: str) -> dict[str, Any]:
        api: dict[str, Any] = {arn_key: resolve(entry[target]), "Events": [entry["Event"]]}
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            api["Filter"] = {
                "Key": {"FilterRules": [{"Name": r["Name"], "Value": r["Value"]} for r in rules]}
            }
        return api

    configuration: dict[str, Any] = {}
    for section, target, arn_key in (
        ("QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "Topic", "TopicArn"),
    ):
        entries = [converted(entry, target, arn_key) for entry in template.get(section, [])]
        if entries:
            configuration[section] = entries
    if template.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        configuration["EventBridgeConfiguration"] = {}
    return configuration
