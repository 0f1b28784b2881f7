"""Environment variable names shared by the stack (which sets them) and the runtime (which reads them).

This module has no imports on purpose: the CDK app imports it at synth time without pulling in the
runtime's dependencies.
"""

from __future__ import annotations

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
