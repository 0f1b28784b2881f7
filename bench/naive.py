"""The baseline handler of the throughput case: what public samples do, one record at a time.

Per SQS record: ``json.loads`` the SNS envelope and the notification, ``GetObject`` the output (samples
ignore the inline response), ``SendMessage`` it on. No exactly-once guard, no status store, no partial
batch response: a failure fails the whole batch.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3

_s3: Any = None
_sqs: Any = None


def handler(event: dict[str, Any], context: Any) -> None:
    """The sample handler (clients created once per execution environment, as samples do)."""
    global _s3, _sqs
    if _s3 is None:
        _s3, _sqs = boto3.client("s3"), boto3.client("sqs")
    queue_url = os.environ["RESULTS_QUEUE_URL"]
    for record in event["Records"]:
        message = json.loads(json.loads(record["body"])["Message"])
        bucket, _, key = message["responseParameters"]["outputLocation"][len("s3://") :].partition("/")
        output = _s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        _sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=json.dumps(
                {
                    "inferenceId": message["inferenceId"],
                    "status": message["invocationStatus"],
                    "output": output.decode(),
                }
            ),
        )
