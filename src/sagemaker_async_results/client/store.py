"""Reading the result store: one record by consistent ``GetItem``, up to 100 by ``BatchGetItem``.

The store is where every result ends up (the result-handler functions claim each result by writing
its record), so it is what a caller without a push source reads, and the waiter's safety net when it
has one. A record still ``Submitted`` past its expiry moment (TTL + invocation timeout) is checked once
in S3 (its output and failure locations, known from the invoke response) before it is reported
Expired: a result whose notification never came is then reported as found, not as lost.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sagemaker_async_results import contract
from sagemaker_async_results.client.records import (
    InferenceRecord,
    InferenceStatus,
    error_code,
    record_from_item,
    split_s3_uri,
)

#: BatchGetItem reads at most this many keys per call.
BATCH_GET_LIMIT = 100
#: ``failureReason`` of a failure found in S3 after the expiry moment (only a notification says why).
FOUND_FAILURE_REASON = "unknown: the failure object exists in S3 but no notification was routed"


class ResultStoreReader:
    """Consistent reads of the results table, with the one S3 check of a request past its expiry.

    Parameters
    ----------
    table: the results table. dynamodb, s3: boto3 clients. clock: returns "now" (tests move it).
    """

    def __init__(self, table: str, *, dynamodb: Any, s3: Any, clock: Callable[[], datetime]) -> None:
        self.table = table
        self._dynamodb, self._s3, self._clock = dynamodb, s3, clock
        #: Inference ID -> what the one S3 check before Expired found.
        self._s3_checked: dict[str, tuple[InferenceStatus, str | None]] = {}
        self._lock = threading.Lock()

    def status(self, inference_id: str) -> InferenceRecord:
        """The current record; ``Submitted`` past its expiry moment is reported from S3 or as ``Expired``."""
        item = self._dynamodb.get_item(
            TableName=self.table,
            Key={contract.TABLE_PARTITION_KEY: {"S": contract.result_key(inference_id)}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return InferenceRecord(inference_id=inference_id, status=InferenceStatus.UNKNOWN)
        return self.unexpired(record_from_item(inference_id, item))

    def batch_status(
        self, inference_ids: list[str], calls: Counter[str] | None = None
    ) -> dict[str, InferenceRecord]:
        """The records of up to 100 inferences in one ``BatchGetItem`` (consistent reads).

        ``calls`` counts the AWS calls made, by operation (the waiter's statistics).
        """
        if len(inference_ids) > BATCH_GET_LIMIT:
            raise ValueError(f"at most {BATCH_GET_LIMIT} inference IDs per call")
        keys = [{contract.TABLE_PARTITION_KEY: {"S": contract.result_key(i)}} for i in inference_ids]
        found: dict[str, InferenceRecord] = {}
        request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            if calls is not None:
                calls["BatchGetItem"] += 1
            response = self._dynamodb.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self.table, []):
                inference_id = item.get("inferenceId", {}).get("S") or item[contract.TABLE_PARTITION_KEY][
                    "S"
                ].removeprefix(contract.RESULT_KEY_PREFIX)
                found[inference_id] = self.unexpired(record_from_item(inference_id, item), calls)
            request = response.get("UnprocessedKeys") or {}
            if request:
                time.sleep(0.05)
        return found

    def unexpired(self, record: InferenceRecord, calls: Counter[str] | None = None) -> InferenceRecord:
        """``record``, or for a Submitted one past its expiry moment what S3 holds: checked once.

        SageMaker may fail to publish a notification (``NotificationFailures``) after writing the
        output; such a request is reported Completed (or Failed) from its object, with
        ``found_in_s3``; only when neither its output nor its failure exists is it Expired.
        """
        if not (
            record.status == InferenceStatus.SUBMITTED
            and record.expires_by
            and self._clock() > record.expires_by
        ):
            return record
        with self._lock:
            known = self._s3_checked.get(record.inference_id)
        if known is None:
            known = self._check_s3(record, calls)
            with self._lock:
                self._s3_checked[record.inference_id] = known
        status, location = known
        if status == InferenceStatus.COMPLETED:
            return replace(record, status=status, output_location=location, found_in_s3=True)
        if status == InferenceStatus.FAILED:
            return replace(
                record,
                status=status,
                failure_location=location,
                failure_reason=FOUND_FAILURE_REASON,
                found_in_s3=True,
            )
        return replace(record, status=InferenceStatus.EXPIRED)

    def _check_s3(
        self, record: InferenceRecord, calls: Counter[str] | None
    ) -> tuple[InferenceStatus, str | None]:
        candidates = (
            (InferenceStatus.COMPLETED, record.item.get("submittedOutputLocation", {}).get("S")),
            (InferenceStatus.FAILED, record.item.get("submittedFailureLocation", {}).get("S")),
        )
        for status, location in candidates:
            if not location or self._s3 is None:
                continue
            bucket, key = split_s3_uri(location)
            if calls is not None:
                calls["HeadObject"] += 1
            try:
                self._s3.head_object(Bucket=bucket, Key=key)
            except Exception as error:
                if error_code(error) in ("404", "NoSuchKey", "NotFound"):
                    continue
                raise
            return status, location
        return InferenceStatus.EXPIRED, None
