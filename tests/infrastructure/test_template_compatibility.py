"""Apps built with ``AsyncInferenceResults`` before the pipeline and the endpoint became two constructs
deploy as an update, not a replacement: every resource and output of the templates they synthesized then
(``snapshots/``, asset hashes masked) is still there with the same logical ID and type, and with the
same properties unless a deliberate change is listed in :data:`DELIBERATE_CHANGES` with its reason.

Regenerate a snapshot only for a deliberate change of every app's template:
``UPDATE_SNAPSHOTS=1 pytest tests/infrastructure/test_template_compatibility.py``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.infrastructure.conftest import Synthesized

SNAPSHOTS = Path(__file__).parent / "snapshots"
_ASSET_HASH = re.compile(r"[0-9a-f]{64}")

#: Resources and outputs the pipeline added to every app (new logical IDs: nothing existing changes).
ADDED = {
    "Outputs": {
        "EncryptionKeyArn",
        "PublisherPolicyArn",
        "ClientPolicyArn",
        # The reply queues, on by default (the client's push).
        "ReplyQueuePrefix",
        "ReplyQueueKeyArn",
        "ReplyQueueCallerPolicyArn",
    },
    "Resources": {
        "AsyncResultsPublisherPolicy9149E6D2",
        "AsyncResultsClientPolicyDADC0619",  # what a client needs (grant_client, the ClientPolicyArn output)
        # The created bucket's recovery notifications through CDK's custom resource (see the bucket below).
        "AsyncResultsStorageBucketNotificationsEE79016D",
        "AsyncResultsStorageBucketNotificationsHandlerPolicy6FF047EF",
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db8347ECC3691",
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db834RoleB6FB88EC",
        # The reply queues' sweeper (every 5 minutes) and the callers' managed policy.
        "AsyncResultsDestinationsReplyQueuesSweeper5C6A341B",
        "AsyncResultsDestinationsReplyQueuesSweeperLogs51968876",
        "AsyncResultsDestinationsReplyQueuesSweeperRole3295BC6F",
        "AsyncResultsDestinationsReplyQueuesSweeperRoleDefaultPolicyD8E2823A",
        "AsyncResultsDestinationsReplyQueuesSweepSchedule8CF2C3AE",
        "AsyncResultsDestinationsReplyQueuesSweepScheduleAllowEventRuleAsyncInferenceStack"
        "AsyncResultsDestinationsReplyQueuesSweeperD048F971236F9C71",
        "AsyncResultsDestinationsReplyQueuesCallerPolicy10E54C9B",
    },
}

#: Logical ID -> why its properties changed on purpose since the snapshot (an update in place).
DELIBERATE_CHANGES: dict[str, str] = {
    "AsyncResultsOperationsAlarmTopicPolicy45B2E367": "allows the account's CloudWatch alarms to publish "
    "(a topic policy replaces SNS's default; without it no alarm reached anyone)",
    "AsyncResultsEncryptionKeyD937F786": "SNS statement also names the alarm topic (its e-mail subscriptions' "
    "dead-letter queue); CloudWatch statement in the documented kms:GenerateDataKey* form",
    "AsyncResultsRecoveryQueuePolicy4E7CB7FA": "accepts S3 events of the pipeline's bucket only (was: any bucket "
    "of the account)",
    "AsyncResultsStorageBucketA6DF5A53": "recovery notifications moved to CDK's custom resource, which runs "
    "after the queue policy naming this exact bucket exists",
    "AsyncResultsRecoveryQueueEE2D16B0": "7-day retention, shorter than its dead-letter queue's 14 days",
    "AsyncResultsSuccessDeliveryQueueD867F9ED": "7-day retention, shorter than its dead-letter queue's 14 days",
    "AsyncResultsErrorDeliveryQueueE14B8866": "7-day retention, shorter than its dead-letter queue's 14 days",
    "AsyncResultsDestinationsResultsQueue53C615AA": "7-day retention, shorter than its dead-letter queue's 14 days",
    "AsyncResultsDestinationsKinesisStreamB1C7DA67": "deleted with the stack by default (records are copies of "
    "results kept in S3 and the table; an idle on-demand stream bills per hour)",
    **dict.fromkeys(
        (
            "AsyncResultsSuccessHandlerFunction1DA7E334",
            "AsyncResultsErrorHandlerFunctionF66A347B",
            "AsyncResultsRecoveryHandlerFunction0BD6752A",
            "AsyncResultsSuccessHandlerRoleDefaultPolicy6FAC068C",
            "AsyncResultsErrorHandlerRoleDefaultPolicy465410DD",
            "AsyncResultsRecoveryHandlerRoleDefaultPolicyF39F4865",
        ),
        "reply queues on by default: REPLY_QUEUE_PREFIX, sqs:SendMessage on the prefix's queues and "
        "dynamodb:BatchGetItem on the table (the callers' replyTo)",
    ),
}


def _normalized(template: dict[str, Any]) -> dict[str, Any]:
    masked: dict[str, Any] = json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))
    return masked


@pytest.mark.parametrize("variation", sorted(p.stem for p in SNAPSHOTS.glob("*.json")))
def test_existing_apps_synthesize_unchanged(synth: Callable[[str], Synthesized], variation: str) -> None:
    current = _normalized(dict(synth(variation).template_dict))
    snapshot_path = SNAPSHOTS / f"{variation}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        snapshot_path.write_text(json.dumps(current, sort_keys=True, separators=(",", ":")) + "\n")
    snapshot = json.loads(snapshot_path.read_text())

    removed = {
        section: sorted(set(snapshot.get(section, {})) - set(current.get(section, {})))
        for section in ("Resources", "Outputs", "Parameters", "Conditions", "Mappings")
    }
    assert not any(removed.values()), f"removed (CloudFormation would delete or replace them): {removed}"
    replaced = sorted(
        logical_id
        for logical_id, resource in snapshot["Resources"].items()
        if current["Resources"][logical_id]["Type"] != resource["Type"]
    )
    assert not replaced, f"type changed (a replacement): {replaced}"

    changed = sorted(
        logical_id
        for section in ("Resources", "Outputs")
        for logical_id, value in snapshot[section].items()
        if current[section][logical_id] != value and logical_id not in DELIBERATE_CHANGES
    )
    assert not changed, f"properties changed without a reason in DELIBERATE_CHANGES: {changed}"

    added = {
        section: set(current.get(section, {})) - set(snapshot.get(section, {})) - ADDED.get(section, set())
        for section in ("Resources", "Outputs")
    }
    assert not any(added.values()), f"new resources or outputs not listed in ADDED: {added}"


def test_the_snapshots_cover_the_main_variations() -> None:
    """The comparison above is only as good as what it compares: direct, buffered with every destination,
    existing resources, and an existing alarm topic with endpoint settings."""
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} >= {
        "default",
        "buffered",
        "existing",
        "endpoint-settings",
    }
