"""Facts shared by the constructs, the Lambda runtime and the client: one home each.

Environment variable names (the constructs set them, the runtime reads them), the results table's
schema, the Lambda runtime the asset is built for, the service and metrics names, and the KMS actions
each kind of key user needs.

This module imports nothing on purpose: the CDK app, the Lambda function and the client all import it
without pulling in each other's dependencies.
"""

from __future__ import annotations

# --- Service identity ----------------------------------------------------------------------------------
#: Powertools service name (logs, traces) and the EventBridge ``Source`` of published results.
SERVICE_NAME = "sagemaker-async-results"
#: CloudWatch metrics namespace of the runtime (``POWERTOOLS_METRICS_NAMESPACE``).
METRICS_NAMESPACE = "SageMakerAsyncResults"

# --- Lambda function -----------------------------------------------------------------------------------
#: Handler string of the result-handler functions (a module inside the code asset).
LAMBDA_HANDLER = "sagemaker_async_results.runtime.entrypoint.handler"
#: Python version of the Lambda runtime; the asset's wheels are chosen for it (``python3.14``).
LAMBDA_PYTHON_VERSION = "3.14"
#: Wheel platform of the Lambda architecture (arm64).
LAMBDA_WHEEL_PLATFORM = "manylinux2014_aarch64"

# --- Results table (result records and idempotency records share it) ------------------------------------
#: Partition key attribute (string).
TABLE_PARTITION_KEY = "pk"
#: TTL attribute (epoch seconds).
TABLE_TTL_ATTRIBUTE = "expiresAt"
#: ``pk`` of an inference's result record is this prefix + the inference ID.
RESULT_KEY_PREFIX = "result#"
#: ``pk`` prefix of the exactly-once lock records used when the result store is off.
IDEMPOTENCY_KEY_PREFIX = "idempotency#result"
#: Result record attribute holding a response that the notification carried inline (binary).
INLINE_BODY_ATTRIBUTE = "inlineBody"


def result_key(inference_id: str) -> str:
    """The ``pk`` of the result record of ``inference_id``."""
    return f"{RESULT_KEY_PREFIX}{inference_id}"


def lock_key(inference_id: str, status: str) -> str:
    """The ``pk`` of the exactly-once lock record of one status of ``inference_id`` (result store off)."""
    return f"{IDEMPOTENCY_KEY_PREFIX}#{inference_id}#{status}"


# --- Result record attributes (written by the client and the runtime, read by the client) ----------------
#: Routing state of a result, kept apart from the inference status: ``InProgress``, ``Routed``, ``Failed``.
ROUTING_ATTRIBUTE = "routing"
ROUTING_IN_PROGRESS = "InProgress"
ROUTING_ROUTED = "Routed"
ROUTING_FAILED = "Failed"
#: When routing failed: ``{"reason", "message", "handler"}`` (the structured error's fields).
ROUTING_ERROR_ATTRIBUTE = "routingError"
#: Names of the user handlers and destinations that ran to completion for this result.
ROUTED_TO_ATTRIBUTE = "routedTo"
#: Exactly-once lock on the record (the client ignores these): the owning attempt's UUID and until when.
LOCK_OWNER_ATTRIBUTE = "lockOwner"
LOCK_EXPIRES_ATTRIBUTE = "lockExpiresAt"
#: String set of the statuses (``Completed`` / ``Failed``) whose notification was routed.
ROUTED_STATUSES_ATTRIBUTE = "routedStatuses"
#: After a failed attempt: ``{<status>: [steps it completed]}``, skipped by the retry; removed when routed.
RESUME_STEPS_ATTRIBUTE = "resumeSteps"

# --- Stack outputs of the AsyncResultsPipeline construct (the client and the local run read them) ------
#: A stack holding the construct has these outputs; with ``output_prefix`` set they carry that prefix.
OUTPUT_ENDPOINT_NAME = "EndpointName"
OUTPUT_BUCKET_NAME = "BucketName"
OUTPUT_INPUT_PREFIX = "InputPrefix"
OUTPUT_OUTPUT_PREFIX = "OutputPrefix"
OUTPUT_FAILURE_PREFIX = "FailurePrefix"
OUTPUT_SUCCESS_TOPIC_ARN = "SuccessTopicArn"
OUTPUT_ERROR_TOPIC_ARN = "ErrorTopicArn"
OUTPUT_RESULTS_TABLE_NAME = "ResultsTableName"
OUTPUT_SUCCESS_FUNCTION_NAME = "SuccessFunctionName"
OUTPUT_ERROR_FUNCTION_NAME = "ErrorFunctionName"
OUTPUT_SUCCESS_DEAD_LETTER_QUEUE_URL = "SuccessDeadLetterQueueUrl"
OUTPUT_ERROR_DEAD_LETTER_QUEUE_URL = "ErrorDeadLetterQueueUrl"
#: Only in buffered delivery mode.
OUTPUT_SUCCESS_QUEUE_URL = "SuccessQueueUrl"
OUTPUT_ERROR_QUEUE_URL = "ErrorQueueUrl"
#: Customer managed key of the bucket, topics, queues and table (an endpoint config's ``KmsKeyId``).
OUTPUT_ENCRYPTION_KEY_ARN = "EncryptionKeyArn"
#: Managed policy with what a SageMaker execution role needs to publish into the pipeline.
OUTPUT_PUBLISHER_POLICY_ARN = "PublisherPolicyArn"
#: Managed policy with what a client (notebook, service, the CLI) needs to submit requests and await results.
OUTPUT_CLIENT_POLICY_ARN = "ClientPolicyArn"
#: The outputs a client needs to submit and await results. ``EndpointName`` is there when the stack
#: serves exactly one endpoint; a pipeline serving several (or any) needs the endpoint name from the caller.
CLIENT_OUTPUTS = (OUTPUT_BUCKET_NAME, OUTPUT_INPUT_PREFIX, OUTPUT_RESULTS_TABLE_NAME)

# --- KMS actions per kind of key user ------------------------------------------------------------------
#: A principal that reads and writes encrypted data (functions, the SageMaker execution role).
KMS_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")
#: An AWS service that publishes or delivers encrypted messages (SNS, CloudWatch, S3 events).
KMS_SERVICE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")

# --- Environment variables of the result-handler functions ---------------------------------------------

#: Name of the bucket holding inputs, outputs and failures.
RESULTS_BUCKET = "RESULTS_BUCKET"
#: Comma-separated ``s3://bucket/prefix/`` locations the function may read. Anything else is refused.
READABLE_LOCATIONS = "READABLE_LOCATIONS"
#: DynamoDB table for result records and idempotency records (partition key ``pk``, TTL ``expiresAt``).
RESULTS_TABLE = "RESULTS_TABLE"
#: Days a result record is kept before DynamoDB's TTL removes it.
RESULT_TTL_DAYS = "RESULT_TTL_DAYS"
#: Payloads larger than this many bytes are never read whole into memory (handed over by reference).
MAX_PAYLOAD_BYTES = "MAX_PAYLOAD_BYTES"
#: Comma-separated plugin modules or packages holding user result handlers (default ``handlers``).
HANDLER_MODULES = "HANDLER_MODULES"
#: ``direct`` (SNS -> Lambda) or ``buffered`` (SNS -> SQS -> Lambda); informational, the event shape decides.
DELIVERY_MODE = "DELIVERY_MODE"
#: Built-in destinations; empty or absent means switched off.
RESULT_STORE_ENABLED = "RESULT_STORE_ENABLED"  # "true" / "false"
EVENT_BUS_NAME = "EVENT_BUS_NAME"
RESULTS_QUEUE_URL = "RESULTS_QUEUE_URL"
STEP_FUNCTIONS_CALLBACK_ENABLED = "STEP_FUNCTIONS_CALLBACK_ENABLED"  # "true" / "false"
#: Seconds a duplicate of an already routed result is recognised (default 86400: covers Lambda's 6 h
#: async retries and SNS redelivery). Only used when ``RESULTS_TABLE`` is set.
IDEMPOTENCY_TTL_SECONDS = "IDEMPOTENCY_TTL_SECONDS"
#: Records of one SQS batch routed concurrently (default 10; 1 routes them one after the other).
BATCH_CONCURRENCY = "BATCH_CONCURRENCY"
#: Existence check of S3-resident payloads: ``lazy`` (default: read when a handler asks) or ``head``.
PAYLOAD_CHECK = "PAYLOAD_CHECK"

# --- Recovery of results whose notification never arrives -----------------------------------------------
#: Handler string of the recovery function (same code asset as the result-handler functions).
RECOVERY_LAMBDA_HANDLER = "sagemaker_async_results.runtime.recovery.handler"
#: ``s3://bucket/prefix/`` where SageMaker writes responses (``<prefix><inference id>.out``).
RECOVERY_OUTPUT_LOCATION = "RECOVERY_OUTPUT_LOCATION"
#: ``s3://bucket/prefix/`` where SageMaker writes failures (``<prefix><inference id>-error.out``).
RECOVERY_FAILURE_LOCATION = "RECOVERY_FAILURE_LOCATION"
#: Endpoint name put in a recovered notification when the Submitted record names none.
RECOVERY_ENDPOINT_NAME = "RECOVERY_ENDPOINT_NAME"
#: ``true`` (default) / ``false``: recover only requests whose Submitted record the client wrote.
RECOVERY_REQUIRE_SUBMITTED_RECORD = "RECOVERY_REQUIRE_SUBMITTED_RECORD"
#: Result record attribute set to true on a result routed by recovery (its notification never came).
RECOVERED_ATTRIBUTE = "recovered"
#: ``failureReason`` of a recovered failure: SageMaker's reason travels only in the notification.
RECOVERED_FAILURE_REASON = "unknown: recovered without a notification"
#: Submitted-record attributes the recovery reads when the client wrote them (besides ``submittedAt``
#: and ``inputLocation``): what the notification would have echoed from the request.
SUBMITTED_ENDPOINT_NAME_ATTRIBUTE = "endpointName"
SUBMITTED_CUSTOM_ATTRIBUTES_ATTRIBUTE = "customAttributes"
SUBMITTED_CONTENT_TYPE_ATTRIBUTE = "requestContentType"
SUBMITTED_ACCEPT_ATTRIBUTE = "accept"
#: Stack outputs of the recovery path and of the alarms.
OUTPUT_RECOVERY_QUEUE_URL = "RecoveryQueueUrl"
OUTPUT_RECOVERY_DEAD_LETTER_QUEUE_URL = "RecoveryDeadLetterQueueUrl"
OUTPUT_RECOVERY_FUNCTION_NAME = "RecoveryFunctionName"
OUTPUT_ALARM_TOPIC_ARN = "AlarmTopicArn"

# --- Step Functions task tokens longer than CustomAttributes allows --------------------------------------
#: Submitted-record attribute holding the request's Step Functions task token (up to 2,048 characters).
SUBMITTED_TASK_TOKEN_ATTRIBUTE = "taskToken"  # noqa: S105 (an attribute name, not a secret)
#: Custom attribute (``taskTokenInRecord=1``) telling the callback to read the token from that record.
TASK_TOKEN_IN_RECORD_ATTRIBUTE = "taskTokenInRecord"  # noqa: S105 (an attribute name)

# --- Reply queues: each caller process's own SQS queue, named in its requests (the client's default push) --
#: Submitted-record attribute holding the caller's reply queue URL (the client writes it, the function reads it).
REPLY_TO_ATTRIBUTE = "replyTo"
#: Stack outputs of the reply-queue destination: the queues' name prefix, the key that encrypts them, and
#: the managed policy a caller's principal needs for its own queue.
OUTPUT_REPLY_QUEUE_PREFIX = "ReplyQueuePrefix"
OUTPUT_REPLY_QUEUE_KEY_ARN = "ReplyQueueKeyArn"
OUTPUT_REPLY_QUEUE_CALLER_POLICY_ARN = "ReplyQueueCallerPolicyArn"
