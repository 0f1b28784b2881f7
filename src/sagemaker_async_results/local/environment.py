"""One object that stands up the whole local run and tears it down.

``LocalEnvironment`` = embedded AWS (moto server) + the stack deployed from ``cdk.out`` + the async endpoint
simulator + one local Lambda runtime per deployed function + the event sources that deliver the emulator's
SNS messages to them + the gateway that serves ``InvokeEndpointAsync`` and Lambda ``Invoke`` to boto3.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sagemaker_async_results.client.client import AsyncInferenceClient, StackResources, output_prefixes
from sagemaker_async_results.local.deploy import DeployedStack, LocalDeployer
from sagemaker_async_results.local.emulator import AwsTarget, embedded_aws
from sagemaker_async_results.local.event_sources import EventSource, Poller, SnsTapSource, SqsEventSource
from sagemaker_async_results.local.gateway import Gateway
from sagemaker_async_results.local.host_dependencies import asset_pins, host_dependencies
from sagemaker_async_results.local.lambda_runtime import (
    LOCAL_DEFAULT_CONCURRENCY,
    FunctionSpec,
    LocalFunction,
)
from sagemaker_async_results.local.model import Model, sentiment_model
from sagemaker_async_results.local.simulator import AsyncEndpointSimulator

logger = logging.getLogger(__name__)


@dataclass
class LocalEnvironment:
    """Context manager: ``with LocalEnvironment(cdk_out) as env: env.client().invoke(...)``."""

    cdk_out: Path
    stack_name: str | None = None
    model: Model = sentiment_model
    log_dir: Path = Path(".build/local-logs")
    #: ``None`` starts the embedded emulator; a target points the run at another AWS-compatible endpoint.
    target: AwsTarget | None = None
    #: Run the embedded emulator in a child process (its CPU apart from this process's; see ``embedded_aws``).
    emulator_process: bool = False
    #: Enforce permissions in the embedded emulator: each function runs with its execution role's
    #: credentials, the endpoint with its SageMaker execution role's (see ``local/iam.py``).
    iam: bool = True
    #: Load each function's handler at start (``demo`` and ``serve``): see :attr:`handler_errors`.
    check_handlers: bool = False
    #: Where this machine's installs of bundled dependencies are kept (default: the user's cache folder).
    dependencies_cache: Path | None = None
    #: Called with a short line for each start-up step (``serve`` prints them).
    progress: Callable[[str], None] = field(default=lambda line: None)
    deployed: DeployedStack = field(init=False)
    functions: dict[str, LocalFunction] = field(init=False, default_factory=dict)
    #: Function name -> why its handler cannot load (``Runtime.ImportModuleError: ...``), when checked.
    handler_errors: dict[str, str] = field(init=False, default_factory=dict)
    sources: list[EventSource] = field(init=False, default_factory=list)
    simulator: AsyncEndpointSimulator = field(init=False)
    gateway: Gateway = field(init=False)
    _stack: ExitStack = field(init=False, default_factory=ExitStack)

    def __enter__(self) -> LocalEnvironment:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        # moto warns once per resource type its CloudFormation skips; docs/local-run.md lists them instead.
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", message="Tried to parse", category=UserWarning)
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def _start(self) -> None:
        started = time.monotonic()
        if self.target is None:  # the embedded emulator patches its own moto (see embedded_aws)
            base = self._stack.enter_context(
                embedded_aws(own_process=self.emulator_process, enforce_iam=self.iam)
            )
            self.progress(
                f"embedded AWS (moto) listening on {base.endpoint_url}, permissions "
                + ("enforced" if self.iam else "not enforced (--no-iam)")
            )
        else:
            base = self.target
            self.progress(f"using the AWS-compatible endpoint {base.endpoint_url}")
        deployer = LocalDeployer(base, iam=self.iam and self.target is None)
        self.deployed = deployer.deploy(self.cdk_out, self.stack_name)
        self.progress(
            f"deployed stack {self.deployed.name}: {len(self.deployed.physical_ids)} resources "
            f"({time.monotonic() - started:.1f}s)"
        )
        self.simulator = AsyncEndpointSimulator(
            s3=base.client("s3"),
            sns=base.client("sns"),
            sagemaker=base.client("sagemaker"),
            model=self.model,
            region=base.region,
            iam=base.client("iam"),
            role_clients=deployer.role_clients("SageMaker") if deployer.iam else None,
        )
        self._stack.callback(self.simulator.close)
        self._start_functions(base)
        for name, function in self.functions.items():
            if name in self.handler_errors:
                self.progress(f"function {name} cannot load its handler: {self.handler_errors[name]}")
            else:
                self.progress(f"function {name} ready (logs: {function.log_path})")
        self.gateway = Gateway(self.simulator, self.functions).start()
        self._stack.callback(self.gateway.stop)
        self.target = base.with_service_endpoints(
            {"sagemaker-runtime": self.gateway.url, "lambda": self.gateway.url}
        )
        self._start_event_sources(base, deployer)
        poller = Poller(self.sources).start()
        self._stack.callback(poller.stop)
        for logical_id in self.deployed.resources_of_type("AWS::SageMaker::Endpoint"):
            name = self.deployed.physical_ids[logical_id]
            settings = self.simulator.start_endpoint(name)
            readable = (
                ", ".join(f"s3://{p}" for p in settings.readable_inputs)
                if settings.readable_inputs is not None
                else "any location"
            )
            self.progress(
                f"endpoint {name} in service: {settings.max_concurrency} concurrent invocations, "
                f"reads {readable}"
            )

    # -- functions --------------------------------------------------------------------------------------
    def _start_functions(self, base: AwsTarget) -> None:
        lambda_client = base.client("lambda")
        dependencies: dict[Path, Path | None] = {}  # functions sharing an asset share its install
        for logical_id, resource in self.deployed.resources_of_type("AWS::Lambda::Function").items():
            name = self.deployed.physical_ids[logical_id]
            configuration = lambda_client.get_function(FunctionName=name)["Configuration"]
            code_dir = self.deployed.code_path(logical_id)
            if code_dir is None:
                # Inline code (e.g. the CDK's own custom-resource handlers): a start-up note, not a
                # warning on stderr, which a failing demo keeps to its one line.
                self.progress(f"function {logical_id} has no file asset: not run locally")
                continue
            code_dir = code_dir.resolve()
            if code_dir not in dependencies:
                if asset_pins(code_dir):
                    self.progress(
                        f"installing the bundled dependencies of {code_dir.name} for this machine "
                        "(once per set of pins)"
                    )
                dependencies[code_dir] = host_dependencies(code_dir, self.dependencies_cache)
            spec = FunctionSpec(
                name=name,
                arn=configuration["FunctionArn"],
                handler=configuration["Handler"],
                environment=configuration.get("Environment", {}).get("Variables", {}),
                code_dir=code_dir,
                timeout_seconds=int(configuration.get("Timeout", 60)),
                memory_mb=int(configuration.get("MemorySize", 512)),
                max_concurrency=_concurrency(resource.get("Properties", {})),
                dependencies_dir=dependencies[code_dir],
            )
            credentials = self.deployed.function_credentials.get(name)
            function = LocalFunction(spec, base.as_role(credentials).environment(), self.log_dir)
            self._stack.callback(function.close)
            self.functions[name] = function
        if self.check_handlers:
            self._check_handlers()

    def _check_handlers(self) -> None:
        """Load every function's handler now (Lambda's init phase, in parallel): one that cannot load is
        in :attr:`handler_errors` (and its log file) before any event is sent."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.functions))) as pool:
            checks = dict(
                zip(self.functions, pool.map(LocalFunction.check, self.functions.values()), strict=True)
            )
        for name, result in checks.items():
            if not result.ok:
                self.handler_errors[name] = f"{result.error_type}: {result.error_message}"

    def function_for(self, reference: Any) -> LocalFunction:
        """The local function a template reference (``Ref`` / ``GetAtt ... Arn`` / name) points at."""
        if isinstance(reference, dict):
            return self.functions[self.deployed.physical_ids[self._function_logical_id(reference)]]
        return self.functions[str(reference).rsplit(":", 1)[-1]]

    # -- event sources ------------------------------------------------------------------------------------
    def _start_event_sources(self, base: AwsTarget, deployer: LocalDeployer) -> None:
        sqs = base.client("sqs")
        lambda_client = base.client("lambda")
        deployed = self.deployed
        # Buffered mode: the template's SQS event source mappings. moto would try to run the function
        # itself (it needs Docker), so its mappings are disabled and polled here instead.
        for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
            lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        for logical_id, resource in deployed.resources_of_type("AWS::Lambda::EventSourceMapping").items():
            props = resource["Properties"]
            queue_arn = deployer.resolve(props["EventSourceArn"], deployed)
            queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
            function = self.function_for(props["FunctionName"])
            # Lambda polls the queue with the function's execution role.
            credentials = self.deployed.function_credentials.get(function.spec.name)
            self.sources.append(
                SqsEventSource(
                    sqs=base.as_role(credentials).client("sqs") if credentials else sqs,
                    queue_url=queue_url,
                    queue_arn=queue_arn,
                    function=function,
                    batch_size=int(props.get("BatchSize", 10)),
                    batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    region=base.region,
                    maximum_concurrency=props.get("ScalingConfig", {}).get("MaximumConcurrency"),
                )
            )
            logger.info("polling %s for %s", queue_url, logical_id)
        # Direct mode: SNS -> Lambda. The emulator's SNS delivers into a tap queue (non-raw), and each
        # envelope becomes the event Lambda would build, with Lambda's asynchronous retries.
        invoke_configs = {
            self._function_logical_id(r["Properties"]["FunctionName"]): r["Properties"]
            for r in deployed.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
        }
        sns = base.client("sns")
        for subscription in deployed.lambda_subscriptions:
            function = self.function_for(subscription["function"])
            tap = sqs.create_queue(QueueName=f"local-tap-{subscription['logicalId']}"[:80])["QueueUrl"]
            tap_arn = sqs.get_queue_attributes(QueueUrl=tap, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            if deployer.iam:
                # SNS -> Lambda needs the function's permission for the topic: checked on the tap.
                function_id = self._function_logical_id(subscription["function"])
                deployer.guard_tap(
                    tap, tap_arn, function.spec.arn, deployer.function_policy(deployed, function_id)
                )
            arn = sns.subscribe(
                TopicArn=subscription["topicArn"],
                Protocol="sqs",
                Endpoint=tap_arn,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            config = invoke_configs.get(self._function_logical_id(subscription["function"]), {})
            on_failure = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            on_failure_url = None
            if on_failure is not None:
                on_failure_arn = deployer.resolve(on_failure, deployed)
                on_failure_url = sqs.get_queue_url(QueueName=on_failure_arn.rsplit(":", 1)[-1])["QueueUrl"]
            self.sources.append(
                SnsTapSource(
                    sqs=sqs,
                    tap_queue_url=tap,
                    subscription_arn=arn,
                    function=function,
                    max_retry_attempts=int(config.get("MaximumRetryAttempts", 2)),
                    on_failure_queue_url=on_failure_url,
                )
            )

    @staticmethod
    def _function_logical_id(reference: Any) -> str:
        if isinstance(reference, dict):
            return str(reference.get("Ref") or reference["Fn::GetAtt"][0])
        return str(reference)

    def wait_idle(self, timeout: float = 30.0, quiet_seconds: float = 1.0) -> bool:
        """Wait until every event source's queue has been empty for ``quiet_seconds``.

        Then every delivered notification has been routed, retried to exhaustion or dead-lettered.
        Returns ``False`` when the queues are still busy after ``timeout`` seconds.
        """
        assert self.target is not None
        sqs = self.target.client("sqs")
        urls = [getattr(s, "queue_url", None) or getattr(s, "tap_queue_url", None) for s in self.sources]
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            depth = 0
            for url in filter(None, urls):
                attributes = sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                )["Attributes"]
                depth += int(attributes["ApproximateNumberOfMessages"])
                depth += int(attributes["ApproximateNumberOfMessagesNotVisible"])
            now = time.monotonic()
            if depth:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= quiet_seconds:
                return True
            time.sleep(0.1)
        return False

    # -- clients ----------------------------------------------------------------------------------------
    @property
    def resources(self) -> StackResources:
        """The construct's resources from the deployed stack's outputs (with its output prefix, if any)."""
        prefixes = output_prefixes(self.deployed.outputs)
        return StackResources.from_outputs(self.deployed.outputs, prefixes[0] if prefixes else "")

    def client(self) -> AsyncInferenceClient:
        assert self.target is not None
        return AsyncInferenceClient(
            self.resources,
            s3=self.target.client("s3"),
            sagemaker_runtime=self.target.client("sagemaker-runtime"),
            dynamodb=self.target.client("dynamodb"),
            lambda_client=self.target.client("lambda"),
            sqs=self.target.client("sqs"),
        )


def _concurrency(properties: dict[str, Any]) -> int:
    """Concurrent executions of a function: its ``ReservedConcurrentExecutions``, else the local default.

    A reserved concurrency of 0 (a function switched off) still runs one at a time locally, with a
    warning, so that what it is sent is not silently lost.
    """
    reserved = properties.get("ReservedConcurrentExecutions")
    if reserved is None:
        return LOCAL_DEFAULT_CONCURRENCY
    if int(reserved) < 1:
        logger.warning(
            "reserved concurrency %s: the local run still runs the function, one at a time", reserved
        )
        return 1
    return int(reserved)
