"""Resources and grants of the runtime's built-in destinations (EventBridge, SQS, Step Functions)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from sagemaker_async_results import contract as env_names
from sagemaker_async_results.cdk.constructs._props import check
from sagemaker_async_results.cdk.constructs.queues import secure_queue
from sagemaker_async_results.cdk.constructs.result_handler import ResultHandlerFunction

__all__ = ["ResultDestinations"]


class ResultDestinations(Construct):
    """Create and grant what each enabled destination needs, and tell the functions (environment).

    Parameters
    ----------
    handlers: the result-handler functions that forward results.
    encryption_key: key of the results queue.
    event_bridge_enabled: default False. event_bus_name: default "default" (``events:PutEvents`` on it).
    sqs_enabled: default False; creates a KMS-encrypted results queue (with its own dead-letter queue).
    step_functions_callback_enabled: default False. state_machine_arns: state machines whose task tokens
        the functions may complete (``states:SendTaskSuccess/Failure/Heartbeat`` on exactly these).
    results_queue_max_receive_count: consumer receives before the DLQ; default 5.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handlers: Sequence[ResultHandlerFunction],
        encryption_key: kms.IKey,
        event_bridge_enabled: bool = False,
        event_bus_name: str = "default",
        sqs_enabled: bool = False,
        step_functions_callback_enabled: bool = False,
        state_machine_arns: Sequence[str] = (),
        results_queue_max_receive_count: int = 5,
    ) -> None:
        super().__init__(scope, construct_id)
        problems: list[str] = []
        if step_functions_callback_enabled and not state_machine_arns:
            problems.append("state_machine_arns: expected at least one ARN when the callback is enabled")
        check("ResultDestinations", problems)

        self.event_bus: events.IEventBus | None = None
        self.results_queue: sqs.Queue | None = None
        self.results_dead_letter_queue: sqs.Queue | None = None

        if event_bridge_enabled:
            self.event_bus = events.EventBus.from_event_bus_name(self, "Bus", event_bus_name)
            for handler in handlers:
                self.event_bus.grant_put_events_to(handler.function)
                handler.add_environment(env_names.EVENT_BUS_NAME, self.event_bus.event_bus_name)

        if sqs_enabled:
            self.results_dead_letter_queue = secure_queue(
                self, "ResultsDeadLetterQueue", encryption_key=encryption_key
            )
            self.results_queue = secure_queue(
                self,
                "ResultsQueue",
                encryption_key=encryption_key,
                dead_letter_queue=sqs.DeadLetterQueue(
                    queue=self.results_dead_letter_queue, max_receive_count=results_queue_max_receive_count
                ),
            )
            for handler in handlers:
                # Exact action: the key use is granted separately, without wildcard KMS actions.
                handler.role.add_to_principal_policy(
                    iam.PolicyStatement(
                        sid="SendResults",
                        actions=["sqs:SendMessage"],
                        resources=[self.results_queue.queue_arn],
                    )
                )
                handler.add_environment(env_names.RESULTS_QUEUE_URL, self.results_queue.queue_url)

        for handler in handlers:
            handler.add_environment(
                env_names.STEP_FUNCTIONS_CALLBACK_ENABLED,
                "true" if step_functions_callback_enabled else "false",
            )
            if step_functions_callback_enabled:
                handler.role.add_to_principal_policy(
                    iam.PolicyStatement(
                        sid="CompleteTaskTokens",
                        actions=[
                            "states:SendTaskSuccess",
                            "states:SendTaskFailure",
                            "states:SendTaskHeartbeat",
                        ],
                        resources=list(state_machine_arns),
                    )
                )
