"""Exit codes of ``async-results``: one table, so scripts can tell an inference's outcome from a setup problem.

Codes 0-9 describe the inference (or the command's own outcome); codes 10 and up mean the command could not
do its job at all (setup, AWS, the app), so a script never mistakes "no credentials" for "the model failed".
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code of the command line; the help epilog is generated from this table."""

    #: Completed (``result``, ``invoke --wait``) or the command succeeded.
    OK = 0
    #: The inference Failed (the model's error response is printed to stderr).
    FAILED = 1
    #: Wrong options or arguments (click's own usage code).
    USAGE = 2
    #: The inference is still pending (Submitted, no result yet).
    PENDING = 3
    #: The inference Expired: no notification by RequestTTLSeconds + InvocationTimeoutSeconds.
    EXPIRED = 4
    #: No record of that inference ID.
    UNKNOWN = 5
    #: ``--wait`` gave up before a result arrived (the request may still complete).
    WAIT_TIMEOUT = 6
    #: ``redrive`` left messages that still fail.
    REDRIVE_FAILING = 7
    #: A result handler or destination failed for this result (routing Failed).
    ROUTING_FAILED = 8
    #: ``demo``: a check failed (a result missing or wrong, a dead letter, a duplicate routed twice).
    CHECK_FAILED = 9
    #: No AWS region configured.
    NO_REGION = 10
    #: No AWS credentials, an unknown profile, or credentials AWS rejected.
    NO_CREDENTIALS = 11
    #: The AWS endpoint could not be reached (network, ``--endpoint-url``).
    UNREACHABLE = 12
    #: An AWS service answered with an error (access denied, throttling, a missing resource, ...).
    AWS_ERROR = 13
    #: No deployed AsyncInferenceResults construct found, or several: name one.
    NOT_FOUND = 14
    #: The CDK app could not be synthesized or deployed locally (cdk.json, synth, template).
    APP_ERROR = 15
    #: An optional part of the library is not installed (the message says which extra).
    MISSING_EXTRA = 16
    #: ``deploy-check``: the account/region is not bootstrapped for the CDK.
    NOT_BOOTSTRAPPED = 17
    #: ``attach``: the endpoint's config has no AsyncInferenceConfig (a real-time endpoint).
    NOT_ASYNC = 18
    #: ``attach``/``detach``: the endpoint is not InService (creating, updating, failed...).
    ENDPOINT_BUSY = 19
    #: ``attach``: the endpoint's execution role lacks grants the pipeline needs (the message lists them).
    MISSING_GRANTS = 20
    #: ``detach``: the endpoint serves a config that ``attach`` did not create.
    NOT_ATTACHED = 21


_DESCRIPTIONS = {
    ExitCode.OK: "completed / success",
    ExitCode.FAILED: "inference Failed",
    ExitCode.USAGE: "usage error",
    ExitCode.PENDING: "still pending",
    ExitCode.EXPIRED: "Expired (no notification in time)",
    ExitCode.UNKNOWN: "unknown inference ID",
    ExitCode.WAIT_TIMEOUT: "--wait timed out",
    ExitCode.REDRIVE_FAILING: "redrive left failing messages",
    ExitCode.ROUTING_FAILED: "a result handler failed (routing Failed)",
    ExitCode.CHECK_FAILED: "demo check failed",
    ExitCode.NO_REGION: "no AWS region",
    ExitCode.NO_CREDENTIALS: "no / unknown / rejected credentials",
    ExitCode.UNREACHABLE: "AWS endpoint unreachable",
    ExitCode.AWS_ERROR: "AWS service error",
    ExitCode.NOT_FOUND: "no deployed construct found (or several)",
    ExitCode.APP_ERROR: "CDK app error (cdk.json, synth, local deploy)",
    ExitCode.MISSING_EXTRA: "optional dependency missing",
    ExitCode.NOT_BOOTSTRAPPED: "account not CDK-bootstrapped",
    ExitCode.NOT_ASYNC: "attach: endpoint is not asynchronous",
    ExitCode.ENDPOINT_BUSY: "attach/detach: endpoint not InService",
    ExitCode.MISSING_GRANTS: "attach: execution role lacks grants",
    ExitCode.NOT_ATTACHED: "detach: endpoint not attached",
}


def epilog() -> str:
    """The exit-code table for ``--help`` (``\\b`` keeps click from rewrapping it)."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {code.value:>2}  {_DESCRIPTIONS[code]}" for code in ExitCode]
    return "\n".join(lines)
