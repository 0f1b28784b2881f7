"""Sweeper of reply queues: deletes the queues of callers that died without deleting their own.

A client's reply queue carries a ``heartbeat`` tag (epoch seconds) that the live client refreshes
every 5 minutes. Run every few minutes by a schedule, :func:`handler` deletes the queues of the
stack's prefix whose heartbeat is older than ``REPLY_QUEUE_EXPIRY_SECONDS`` (default 900 s: three
missed heartbeats). So a killed caller's queue is gone within expiry + the schedule's period (+ up to
60 s that SQS takes to delete a queue).

This module imports only the standard library and boto3: the stack deploys it as the sweeper
function's inline code (no asset, no layer).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

#: Name prefix of the callers' reply queues (the stack's); the sweeper touches nothing else.
PREFIX_ENV = "REPLY_QUEUE_PREFIX"
#: Seconds without a heartbeat after which a reply queue is deleted.
EXPIRY_ENV = "REPLY_QUEUE_EXPIRY_SECONDS"
DEFAULT_EXPIRY_SECONDS = 900
#: Queue tag holding the epoch seconds of the caller's last heartbeat.
HEARTBEAT_TAG = "heartbeat"

logger = logging.getLogger("sagemaker_async_results.reply_queue_sweeper")
logger.setLevel(logging.INFO)


def queue_name(queue_url: str) -> str:
    """The queue's name: the last part of its URL."""
    return queue_url.rstrip("/").rpartition("/")[2]


def sweep(sqs: Any, prefix: str, *, expiry_seconds: float, now: float | None = None) -> dict[str, int]:
    """Delete the queues of ``prefix`` whose heartbeat is older than ``expiry_seconds``.

    A queue without the tag is judged by its ``CreatedTimestamp``. Returns ``{"seen", "deleted", "kept"}``.
    """
    now = time.time() if now is None else now
    counts = {"seen": 0, "deleted": 0, "kept": 0}
    for page in sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, MaxResults=1000):
        for url in page.get("QueueUrls", []):
            if not queue_name(url).startswith(prefix):
                continue
            counts["seen"] += 1
            try:
                beat = sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(HEARTBEAT_TAG)
                if beat is None:
                    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["CreatedTimestamp"])
                    beat = attributes["Attributes"]["CreatedTimestamp"]
                if now - float(beat) <= expiry_seconds:
                    counts["kept"] += 1
                    continue
                sqs.delete_queue(QueueUrl=url)
            except Exception as exc:  # gone meanwhile, or a bad tag: the next run looks again
                logger.warning("reply queue %s not swept: %s", url, exc)
                continue
            counts["deleted"] += 1
    return counts


def handler(event: Any, context: Any) -> dict[str, int]:
    """The scheduled sweeper's Lambda handler."""
    import boto3

    prefix = os.environ.get(PREFIX_ENV, "").strip()
    if not prefix:
        raise ValueError(f"{PREFIX_ENV} is not set: expected the reply queues' name prefix")
    expiry = float(os.environ.get(EXPIRY_ENV) or DEFAULT_EXPIRY_SECONDS)
    counts = sweep(boto3.client("sqs"), prefix, expiry_seconds=expiry)
    logger.info("reply queues swept: %s", counts)
    return counts
