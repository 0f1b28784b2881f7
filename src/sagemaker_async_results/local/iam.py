"""Enforced permissions in the local run: moto's IAM access control, told which resource each request names.

moto can enforce identity policies (``settings.INITIAL_NO_AUTH_ACTION_COUNT``): each request's access key is
traced to an IAM user or an assumed role, and the action is checked against that principal's policies. But
only SQS, IAM, STS and S3 tell moto which resource a request names; for every other service it checks the
action against ``*``, so a least-privilege grant (``dynamodb:PutItem`` on one table) is refused. And it
evaluates no resource policy except a bucket's, with conditions it mostly ignores.

:func:`install` registers, while a local emulator runs:

- :class:`LocalIAMRequest` / :class:`LocalS3IAMRequest`, moto's request classes extended with the resource
  (or resources, with the action AWS checks for each) that a request names, for DynamoDB, SNS, SQS, S3,
  KMS, Kinesis, EventBridge, Step Functions and Lambda (:func:`checks_for`); the resource policy of the
  topic, queue, bucket or key is evaluated with the identity policies, as AWS does within one account;
- :class:`Statement`, moto's policy statement with the principals and condition operators that the
  stack's policies use (:data:`CONDITION_OPERATORS`), and a failed condition meaning "does not apply";
- checks of the service-to-service deliveries moto performs itself: SNS -> SQS (the queue's policy must
  allow ``sns.amazonaws.com``) and S3 event notifications -> SQS/SNS (the queue's or topic's policy must
  allow ``s3.amazonaws.com``); a delivery refused is dropped, as AWS drops it, and recorded.

Requests signed with the emulator's own credentials (:data:`ADMIN_ACCESS_KEY`: the deployer, the local
client and CLI) are not evaluated: they stand for the account's administrator. Everything a local
function or the endpoint simulator does is signed with its role's credentials, assumed through STS.
Every refusal is kept in :data:`DENIALS` so that the demo can say which role lacks which statement.
"""

from __future__ import annotations

import base64
import contextlib
import fnmatch
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from moto.iam.access_control import IAMPolicyStatement, IAMRequest, PermissionResult, S3IAMRequest

logger = logging.getLogger(__name__)

#: The access key of the emulator's own credentials (see ``emulator.FAKE_CREDENTIALS``): never evaluated.
ADMIN_ACCESS_KEY = "testing"
#: Context keys every local request carries. The local run talks HTTP on loopback where AWS's SDKs use
#: HTTPS, so a policy's SSL-only deny (``aws:SecureTransport`` = ``false``) does not apply locally.
BASE_CONTEXT = {"aws:SecureTransport": "true"}

#: Credential-scope (signing) names whose IAM prefix differs.
_IAM_PREFIX = {"monitoring": "cloudwatch", "execute-api": "execute-api", "email": "ses"}
#: Actions whose IAM action is another one (batch calls are authorized as their single-item action).
_ACTION_ALIASES = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
    "lambda:Invoke": "lambda:InvokeFunction",
    "lambda:InvokeAsync": "lambda:InvokeFunction",
    # S3 operations authorized by another action (AWS's "Actions, resources, and condition keys").
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:ListMultipartUploads": "s3:ListBucketMultipartUploads",
    "s3:ListBuckets": "s3:ListAllMyBuckets",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "s3:CopyObject": "s3:PutObject",
    "s3:DeleteObjects": "s3:DeleteObject",
}
#: Step Functions calls that name a task token: locally the token does not tell which state machine issued
#: it, so they are checked against any resource (an Allow on any state machine suffices).
_TASK_TOKEN_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
ANY_RESOURCE = "<any resource>"


@dataclass(frozen=True)
class Check:
    """One authorization AWS performs for a request: ``action`` on ``resource``."""

    action: str
    resource: str


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an assumed role's session, an IAM user, or an AWS service."""

    #: The ARN AWS names in its messages (``arn:aws:sts::<account>:assumed-role/<role>/<session>``).
    arn: str
    account: str
    #: The role's ARN (``aws:PrincipalArn``) for an assumed role, else ``arn``.
    principal_arn: str
    #: ``sns.amazonaws.com`` etc. for a service principal.
    service: str | None = None
    #: The role or user name (for the demo's summary).
    name: str = ""


@dataclass(frozen=True)
class Denial:
    """A refused request: who, what, on which resource, and why (as AWS words it)."""

    principal: Principal
    action: str
    resource: str
    reason: str
    #: For a service's delivery: the topic or bucket it delivers from (``aws:SourceArn``).
    source: str | None = None

    @property
    def message(self) -> str:
        """AWS's AccessDenied message."""
        delivery = f" (delivery from {self.source})" if self.source else ""
        return (
            f"User: {self.principal.arn} is not authorized to perform: {self.action} on resource: "
            f"{self.resource} {self.reason}{delivery}"
        )

    def missing_statement(self) -> dict[str, Any]:
        """The statement that would allow the request: in the role's policy, or for a service's delivery
        in the target's resource policy."""
        resource = "*" if self.resource == ANY_RESOURCE else self.resource
        statement: dict[str, Any] = {"Effect": "Allow", "Action": self.action, "Resource": resource}
        if self.principal.service is not None:
            statement["Principal"] = {"Service": self.principal.service}
            if self.source:
                statement["Condition"] = {"ArnLike": {"aws:SourceArn": self.source}}
        return statement

    def explain(self) -> str:
        """One line for the demo: which role (or resource policy) lacks which statement, or what denies."""
        if self.principal.service is not None:
            owner = f"the resource policy of {self.resource}"
        else:
            owner = f"role {self.principal.name}"
        if "explicit deny" in self.reason:
            return f"{owner}: {self.action} on {self.resource} is refused {self.reason}"
        return f"{owner} lacks the statement {json.dumps(self.missing_statement())}"


class _Denials:
    """The refusals of this process's emulator, newest last (bounded)."""

    def __init__(self, limit: int = 1000) -> None:
        self._items: list[Denial] = []
        self._limit = limit
        self._lock = threading.Lock()

    def add(self, denial: Denial) -> None:
        with self._lock:
            self._items.append(denial)
            del self._items[: -self._limit]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def all(self) -> list[Denial]:
        with self._lock:
            return list(self._items)


DENIALS = _Denials()


# -- policy evaluation ---------------------------------------------------------------------------------


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _string_like(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _arn_like(pattern: str, value: str) -> bool:
    """ARN matching: per colon-separated part, ``*`` and ``?`` wildcards (the resource part may hold ``:``)."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != len(value_parts):
        return False
    return all(fnmatch.fnmatchcase(v, p) for p, v in zip(pattern_parts, value_parts, strict=True))


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


#: Condition operators evaluated locally: operator -> (match one expected value against one actual value,
#: negated). A statement with any other operator never applies locally (see :meth:`Statement._check_conditions`).
CONDITION_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda e, a: e == a, False),
    "StringNotEquals": (lambda e, a: e == a, True),
    "StringEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda e, a: e.lower() == a.lower(), True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Bool": (_bool, False),
}


class Statement(IAMPolicyStatement):
    """moto's policy statement with AWS's principal matching and the condition operators above.

    moto's own statement treats a failed condition as an explicit deny (also in an ``Allow``), ignores
    every operator but ``StringEquals`` (so an SSL-only deny denies everything) and matches only ``AWS``
    principals. Here a statement whose condition does not hold does not apply, as in AWS.
    """

    def __init__(self, statement: dict[str, Any], context: dict[str, str]) -> None:
        super().__init__(statement)
        self._context = context

    @property
    def effect(self) -> str:
        return str(self._statement.get("Effect", "Allow"))

    def matches(self, check: Check, principal: Principal | None = None) -> bool:
        """Whether this statement applies to ``check`` (by ``principal`` when it names principals)."""
        statement = self._statement
        if "NotAction" in statement:
            if self._element_matches("NotAction", check.action, ignore_case=True):
                return False
        elif not self._element_matches("Action", check.action, ignore_case=True):
            return False
        if check.resource != ANY_RESOURCE:
            if "NotResource" in statement:
                if self._element_matches("NotResource", check.resource):
                    return False
            elif "Resource" in statement and not self._element_matches("Resource", check.resource):
                return False
        if ("Principal" in statement or "NotPrincipal" in statement) and not self._principal_matches(
            principal
        ):
            return False
        return self._check_conditions(self._context)

    def _element_matches(self, element: str, value: str, ignore_case: bool = False) -> bool:
        patterns = _values(self._statement[element])
        if ignore_case:
            return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)
        return any(fnmatch.fnmatchcase(value, p) for p in patterns)

    def _principal_matches(self, principal: Principal | None) -> bool:
        if "NotPrincipal" in self._statement:
            return not _principal_in(self._statement["NotPrincipal"], principal, delegate=False)
        # An Allow to an account (root) delegates to that account's IAM: it grants nothing by itself.
        return _principal_in(self._statement["Principal"], principal, delegate=self.effect == "Allow")

    def _check_conditions(self, incoming_condition_values: dict[str, str] | None) -> bool:
        context = incoming_condition_values or {}
        for operator, keys in (self._statement.get("Condition") or {}).items():
            base = operator.removesuffix("IfExists")
            if base not in CONDITION_OPERATORS:
                logger.warning("condition operator %s is not evaluated locally: statement skipped", operator)
                return False
            compare, negated = CONDITION_OPERATORS[base]
            for key, expected in keys.items():
                actual = context.get(key) if key in context else _case_insensitive(context, key)
                if actual is None:
                    if operator.endswith("IfExists") or negated:
                        continue
                    return False
                hit = any(compare(value, actual) for value in _values(expected))
                if hit == negated:
                    return False
        return True


def _case_insensitive(context: dict[str, str], key: str) -> str | None:
    lowered = key.lower()
    return next((value for name, value in context.items() if name.lower() == lowered), None)


def _principal_in(element: Any, principal: Principal | None, *, delegate: bool) -> bool:
    """Whether a policy's ``Principal`` element names ``principal``."""
    if principal is None:
        return element == "*" or (isinstance(element, dict) and _values(element.get("AWS")) == ["*"])
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    if principal.service is not None:
        return principal.service in _values(element.get("Service")) or "*" in _values(element.get("AWS"))
    for name in _values(element.get("AWS")):
        if name == "*" or name in (principal.principal_arn, principal.arn):
            return True
        if name in (principal.account, f"arn:aws:iam::{principal.account}:root"):
            return not delegate
    return False


def _documents(policies: list[Any]) -> Iterator[dict[str, Any]]:
    for policy in policies:
        if policy is None:
            continue
        if isinstance(policy, bytes):
            policy = policy.decode()
        if isinstance(policy, str):
            try:
                policy = json.loads(policy)
            except ValueError:
                policy = json.loads(unquote(policy))
        if isinstance(policy, dict):
            yield policy


def _statements(policies: list[Any], context: dict[str, str]) -> Iterator[Statement]:
    for document in _documents(policies):
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            yield Statement(statement, context)


def evaluate(
    check: Check,
    principal: Principal,
    identity_policies: list[Any],
    resource_policies: list[Any],
    context: dict[str, str],
    *,
    resource_policy_required: bool = False,
) -> str | None:
    """``None`` when ``principal`` may perform ``check``, else the reason, worded as AWS words it.

    As AWS within one account: an explicit deny in any policy wins; otherwise an allow in an identity
    policy or one naming the principal in the resource policy suffices. A service principal has no
    identity policy, and a KMS key policy must allow (directly or by delegating to the account's IAM):
    there ``resource_policy_required`` is set.
    """
    identity = list(_statements(identity_policies, context))
    resource = list(_statements(resource_policies, context))
    if any(s.effect == "Deny" and s.matches(check) for s in identity):
        return "with an explicit deny in an identity-based policy"
    if any(s.effect == "Deny" and s.matches(check, principal) for s in resource):
        return "with an explicit deny in a resource-based policy"
    allowed_by_resource = any(s.effect == "Allow" and s.matches(check, principal) for s in resource)
    if resource_policy_required:
        delegated = any(s.effect == "Allow" and s.matches(check, _account_root(principal)) for s in resource)
        if not (allowed_by_resource or delegated):
            return f"because no resource-based policy allows the {check.action} action"
        if allowed_by_resource:
            return None
    elif allowed_by_resource:
        return None
    if principal.service is None and any(s.effect == "Allow" and s.matches(check) for s in identity):
        return None
    if principal.service is not None:
        return f"because no resource-based policy allows the {check.action} action"
    return f"because no identity-based policy allows the {check.action} action"


def _account_root(principal: Principal) -> Principal:
    root = f"arn:aws:iam::{principal.account}:root"
    return Principal(arn=root, account=principal.account, principal_arn=root)


# -- resources named by a request ------------------------------------------------------------------------


@dataclass
class RequestView:
    """What :func:`checks_for` needs of a request: service, action and its parameters."""

    service: str
    action: str
    account: str
    region: str
    params: dict[str, Any]
    path: str = ""
    #: The resource moto determined itself (SQS, S3, STS, IAM), else ``*``.
    moto_resource: str = "*"
    headers: dict[str, str] = field(default_factory=dict)
    backends: Any = field(default=None, repr=False)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def checks_for(request: RequestView) -> list[Check]:
    """The authorizations AWS performs for ``request``: the action on each resource it names."""
    action = _ACTION_ALIASES.get(f"{request.service}:{request.action}", f"{request.service}:{request.action}")
    resolver = _RESOLVERS.get(request.service)
    resources = resolver(request) if resolver else None
    if not resources:
        resources = [request.moto_resource or "*"]
    checks = [Check(action, r) for r in resources] if isinstance(resources[0], str) else resources
    return [c for c in checks if isinstance(c, Check)] + _implied_checks(request, checks)


def _dynamodb(request: RequestView) -> list[Any]:
    params = request.params

    def table(name: str, index: str | None = None) -> str:
        arn = name if name.startswith("arn:") else request.arn("dynamodb", f"table/{name}")
        return f"{arn}/index/{index}" if index else arn

    if request.action in ("TransactWriteItems", "TransactGetItems"):
        checks: list[Check] = []
        operations = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                      "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip
        for item in params.get("TransactItems", []):
            for operation, body in item.items():
                if operation in operations and "TableName" in body:
                    checks.append(Check(f"dynamodb:{operations[operation]}", table(body["TableName"])))
        return checks
    if request.action in ("BatchWriteItem", "BatchGetItem"):
        return [table(name) for name in params.get("RequestItems", {})]
    if "TableName" in params:
        return [table(params["TableName"], params.get("IndexName"))]
    return []


def _sns(request: RequestView) -> list[Any]:
    params = request.params
    for name in ("TopicArn", "TargetArn", "ResourceArn"):
        if params.get(name):
            return [str(params[name])]
    if params.get("SubscriptionArn"):
        return [str(params["SubscriptionArn"]).rsplit(":", 1)[0]]
    return []


def _sqs(request: RequestView) -> list[Any]:
    """moto names the queue of a ``QueueUrl``; ``GetQueueUrl``/``CreateQueue`` name it by ``QueueName``."""
    name = request.params.get("QueueName")
    if name and request.moto_resource == "*":
        return [request.arn("sqs", str(name))]
    return []


def _kms(request: RequestView) -> list[Any]:
    key = request.params.get("KeyId") or request.params.get("DestinationKeyId")
    if key is None and request.params.get("CiphertextBlob"):
        key = _key_of_ciphertext(request.params["CiphertextBlob"])
    return [_key_arn(request, str(key))] if key else []


def _kinesis(request: RequestView) -> list[Any]:
    params = request.params
    if params.get("StreamARN"):
        return [str(params["StreamARN"])]
    if params.get("StreamName"):
        return [request.arn("kinesis", f"stream/{params['StreamName']}")]
    return []


def _events(request: RequestView) -> list[Any]:
    def bus(name: str | None) -> str:
        name = name or "default"
        return name if name.startswith("arn:") else request.arn("events", f"event-bus/{name}")

    if request.action == "PutEvents":
        return sorted({bus(entry.get("EventBusName")) for entry in request.params.get("Entries", [])})
    if request.action in ("PutRule", "DescribeRule", "DeleteRule", "PutTargets", "RemoveTargets"):
        name = request.params.get("Name") or request.params.get("Rule")
        bus_name = request.params.get("EventBusName")
        if name:
            prefix = "rule/" if not bus_name or bus_name == "default" else f"rule/{bus_name}/"
            return [request.arn("events", f"{prefix}{name}")]
    if request.params.get("EventBusName") or request.params.get("Name"):
        return [bus(request.params.get("EventBusName") or request.params.get("Name"))]
    return []


def _states(request: RequestView) -> list[Any]:
    if f"states:{request.action}" in _TASK_TOKEN_ACTIONS:
        return [ANY_RESOURCE]
    for name in ("stateMachineArn", "executionArn", "activityArn", "resourceArn"):
        if request.params.get(name):
            return [str(request.params[name])]
    return []


def _lambda(request: RequestView) -> list[Any]:
    name = request.params.get("FunctionName")
    if name is None and "/functions/" in request.path:
        name = unquote(request.path.split("/functions/", 1)[1].split("/", 1)[0])
    if not name:
        return []
    name = str(name)
    if name.startswith("arn:"):
        return [":".join(name.split(":")[:7])]
    return [request.arn("lambda", f"function:{name.split(':', 1)[0]}")]


_RESOLVERS: dict[str, Callable[[RequestView], list[Any]]] = {
    "dynamodb": _dynamodb,
    "sns": _sns,
    "kms": _kms,
    "sqs": _sqs,
    "kinesis": _kinesis,
    "events": _events,
    "states": _states,
    "lambda": _lambda,
}


def _key_of_ciphertext(blob: Any) -> str | None:
    """The key ID inside a moto ciphertext (its first 36 bytes)."""
    try:
        raw = base64.b64decode(blob) if isinstance(blob, str) else bytes(blob)
        return raw[:36].decode()
    except Exception:
        return None


def _key_arn(request: RequestView, key: str) -> str:
    if key.startswith("arn:") and ":key/" in key:
        return key
    with contextlib.suppress(Exception):
        from moto.kms.models import kms_backends

        backend = kms_backends[request.account][request.region]
        return str(backend.keys[backend.any_id_to_key_id(key)].arn)
    return key if key.startswith("arn:") else request.arn("kms", f"key/{key}")


def _implied_checks(request: RequestView, checks: list[Check]) -> list[Check]:
    """Permissions AWS checks besides the action's own.

    SNS and SQS call KMS with the caller's identity for a topic or queue encrypted with a customer key:
    ``kms:GenerateDataKey`` and ``kms:Decrypt`` to publish or send, ``kms:Decrypt`` to receive; S3 does
    the same for an object encrypted with one (SSE-KMS): ``kms:GenerateDataKey`` to write it (the
    request's key or the bucket's default), ``kms:Decrypt`` to read it. S3 answers a read of a missing
    object with 404 only to a caller that may list the bucket (else 403).
    """
    if request.service == "s3" and checks and checks[0].action == "s3:GetObject":
        return _missing_object_check(request, checks[0].resource) + _object_key_check(
            request, checks[0].resource
        )
    if request.service == "s3" and checks and checks[0].action == "s3:PutObject":
        return _put_key_check(request, checks[0].resource)
    implied: list[str] = []
    if (request.service == "sns" and request.action in ("Publish", "PublishBatch")) or (
        request.service == "sqs" and request.action in ("SendMessage", "SendMessageBatch")
    ):
        implied = ["kms:GenerateDataKey", "kms:Decrypt"]
    elif request.service == "sqs" and request.action == "ReceiveMessage":
        implied = ["kms:Decrypt"]
    if not implied or not checks:
        return []
    key = _encryption_key(request, checks[0].resource)
    if key is None:
        return []
    arn = _key_arn(request, key)
    return [Check(action, arn) for action in implied]


def _missing_object_check(request: RequestView, resource: str) -> list[Check]:
    """``s3:ListBucket`` on the bucket when the object ``resource`` names does not exist."""
    if not resource.startswith("arn:aws:s3:::") or "/" not in resource:
        return []
    bucket, key = resource.removeprefix("arn:aws:s3:::").split("/", 1)
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        if key in s3_backends[request.account]["aws"].get_bucket(bucket).keys:
            return []
        return [Check("s3:ListBucket", f"arn:aws:s3:::{bucket}")]
    return []


def _s3_bucket_and_key(resource: str) -> tuple[str, str] | None:
    if not resource.startswith("arn:aws:s3:::") or "/" not in resource:
        return None
    bucket, key = resource.removeprefix("arn:aws:s3:::").split("/", 1)
    return bucket, key


def _customer_key(request: RequestView, key_id: str | None) -> list[str]:
    """The ARN of ``key_id`` when it is a customer key (not ``alias/aws/...``, the AWS-managed ones)."""
    if not key_id or key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return []
    return [_key_arn(request, key_id)]


def _object_key_check(request: RequestView, resource: str) -> list[Check]:
    """``kms:Decrypt`` on the key an existing object is encrypted with (SSE-KMS)."""
    names = _s3_bucket_and_key(resource)
    if names is None:
        return []
    with contextlib.suppress(Exception):
        from moto.s3.models import s3_backends

        stored = s3_backends[request.account]["aws"].get_bucket(names[0]).keys.get(names[1])
        if stored is not None and stored.encryption == "aws:kms":
            return [Check("kms:Decrypt", arn) for arn in _customer_key(request, stored.kms_key_id)]
    return []


def _put_key_check(request: RequestView, resource: str) -> list[Check]:
    """``kms:GenerateDataKey`` on the key a written object gets: the request's, else the bucket's default."""
    names = _s3_bucket_and_key(resource)
    if names is None:
        return []
    algorithm = request.headers.get("x-amz-server-side-encryption")
    key_id = request.headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if algorithm is None:
        with contextlib.suppress(Exception):
            from moto.s3.models import s3_backends

            default = s3_backends[request.account]["aws"].get_bucket(names[0]).encryption
            rule = (default or {}).get("Rule", {}).get("ApplyServerSideEncryptionByDefault", {})
            algorithm, key_id = rule.get("SSEAlgorithm"), rule.get("KMSMasterKeyID")
    if algorithm != "aws:kms":
        return []
    return [Check("kms:GenerateDataKey", arn) for arn in _customer_key(request, key_id)]


def _encryption_key(request: RequestView, resource: str) -> str | None:
    key: str | None = None
    with contextlib.suppress(Exception):
        if request.service == "sns":
            from moto.sns.models import sns_backends

            key = sns_backends[request.account][request.region].topics[resource].kms_master_key_id
        elif request.service == "sqs":
            from moto.sqs.models import sqs_backends

            queue = sqs_backends[request.account][request.region].get_queue(resource.rsplit(":", 1)[-1])
            key = getattr(queue, "kms_master_key_id", None)
    # AWS-managed keys (alias/aws/sns, alias/aws/sqs) allow every principal of the account via the service.
    if not key or key.startswith("alias/aws/"):
        return None
    return key


# -- resource policies held by moto --------------------------------------------------------------------


def resource_policy(account: str, region: str, resource: str) -> tuple[list[Any], bool]:
    """The resource policy of the topic, queue, bucket or key ``resource`` names (``[]`` when none), and
    whether it must allow (a key policy)."""
    with contextlib.suppress(Exception):
        service = resource.split(":")[2]
        if service == "sns":
            from moto.sns.models import sns_backends

            return [sns_backends[account][region].topics[resource].policy], False
        if service == "sqs":
            from moto.sqs.models import sqs_backends

            return [sqs_backends[account][region].get_queue(resource.rsplit(":", 1)[-1]).policy], False
        if service == "s3":
            from moto.s3.models import s3_backends

            bucket = resource.split(":::", 1)[1].split("/", 1)[0]
            return [s3_backends[account]["aws"].get_bucket(bucket).policy], False
        if service == "kms":
            from moto.kms.models import kms_backends

            key = kms_backends[account][region].keys[resource.rsplit("/", 1)[-1]]
            return [key.policy], True
    return [], False


# -- moto's request classes, extended ------------------------------------------------------------------


class _LocalAuthorization:
    """What both request classes add to moto's: the emulator's own key passes, checks per resource."""

    _admin: bool

    def _local_init(self, headers: dict[str, str]) -> bool:
        authorization = headers.get("Authorization", "")
        self._admin = f"Credential={ADMIN_ACCESS_KEY}/" in authorization
        return self._admin

    def _principal(self) -> Principal:
        access_key: Any = self._access_key  # type: ignore[attr-defined]
        account: str = self.account_id  # type: ignore[attr-defined]
        arn = str(access_key.arn)
        role = getattr(access_key, "_owner_role_name", None)
        if role is not None:
            role_arn = str(self.backend.get_role(role).arn)  # type: ignore[attr-defined]
            return Principal(arn=arn, account=account, principal_arn=role_arn, name=role)
        return Principal(arn=arn, account=account, principal_arn=arn, name=arn.rsplit("/", 1)[-1])

    def _request_view(self, resource: str) -> RequestView:
        service = self._service  # type: ignore[attr-defined]
        action = self._action.split(":", 1)[1]  # type: ignore[attr-defined]
        return RequestView(
            service=_IAM_PREFIX.get(service, service),
            action=action,
            account=self.account_id,  # type: ignore[attr-defined]
            region=self._region,  # type: ignore[attr-defined]
            params=_params(self._data, self._body, self._headers),  # type: ignore[attr-defined]
            path=self._path,  # type: ignore[attr-defined]
            moto_resource=resource,
            headers={k.lower(): str(v) for k, v in dict(self._headers).items()},  # type: ignore[attr-defined]
        )

    def _authorize(self, resource: str) -> None:
        if self._admin:
            return
        view = self._request_view(resource)
        if f"{view.service}:{view.action}" == "sts:GetCallerIdentity":
            return
        principal = self._principal()
        identity = self._access_key.collect_policies()  # type: ignore[attr-defined]
        context = {
            **BASE_CONTEXT,
            "aws:PrincipalArn": principal.principal_arn,
            "aws:PrincipalAccount": principal.account,
            # SNS's default topic policy allows the owner account's principals through this key.
            "aws:SourceOwner": principal.account,
        }
        for check in checks_for(view):
            policies, required = resource_policy(view.account, view.region, check.resource)
            reason = evaluate(
                check,
                principal,
                [_policy_document(p) for p in identity],
                policies,
                context,
                resource_policy_required=required,
            )
            if reason is not None:
                denial = Denial(principal, check.action, check.resource, reason)
                DENIALS.add(denial)
                logger.warning("AccessDenied: %s", denial.message)
                self._deny(view, denial)

    def _deny(self, view: RequestView, denial: Denial) -> None:
        raise NotImplementedError


def _policy_document(policy: Any) -> Any:
    """The document of what moto's ``collect_policies`` returns (inline: a string; managed: a Policy)."""
    versions = getattr(policy, "versions", None)
    if versions is not None:
        return next(v.document for v in versions if v.is_default)
    if isinstance(policy, dict) and "policy_document" in policy:
        return policy["policy_document"]
    return policy


def _params(data: Any, body: bytes | str | None, headers: dict[str, str]) -> dict[str, Any]:
    """A request's parameters: its JSON body, or its query/form values (one value per name)."""
    content_type = str(headers.get("Content-Type", "")).lower()
    if body and ("json" in content_type or headers.get("X-Amz-Target")):
        with contextlib.suppress(ValueError):
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                return parsed
    params: dict[str, Any] = {}
    for name, value in dict(data or {}).items():
        params[name] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return params


class LocalIAMRequest(_LocalAuthorization, IAMRequest):
    """moto's ``IAMRequest`` for every service but S3, with the resources each request names."""

    def __init__(self, **kwargs: Any) -> None:
        if self._local_init(kwargs["headers"]):
            return
        super().__init__(**kwargs)

    def check_signature(self) -> None:
        if not self._admin:
            super().check_signature()

    def check_action_permitted(self, resource: str) -> None:
        self._authorize(resource)

    def _deny(self, view: RequestView, denial: Denial) -> None:
        from moto.core.exceptions import JsonRESTError
        from moto.core.exceptions import _RESTError as RESTError

        json_protocol = "json" in str(self._headers.get("Content-Type", "")).lower() or bool(
            self._headers.get("X-Amz-Target")
        )
        code = {"sns": "AuthorizationError", "sqs": "AccessDenied", "sts": "AccessDenied",
                "iam": "AccessDenied"}.get(view.service, "AccessDeniedException")  # fmt: skip
        if json_protocol or view.service == "lambda":
            error: Exception = JsonRESTError(code, denial.message)
        else:
            error = RESTError(code, denial.message)
        error.code = 403  # type: ignore[attr-defined]
        raise error


class LocalS3IAMRequest(_LocalAuthorization, S3IAMRequest):
    """moto's ``S3IAMRequest`` with the bucket policy evaluated and AWS's detailed message."""

    def __init__(self, **kwargs: Any) -> None:
        if self._local_init(kwargs["headers"]):
            return
        super().__init__(**kwargs)

    def check_signature(self) -> None:
        if not self._admin:
            super().check_signature()

    def check_action_permitted(self, resource: str) -> None:
        self._authorize(resource)

    def _deny(self, view: RequestView, denial: Denial) -> None:
        from moto.s3.exceptions import S3ClientError

        raise S3ClientError("AccessDenied", denial.message)


# -- service-to-service deliveries -----------------------------------------------------------------------


def _service_principal(service: str, account: str) -> Principal:
    return Principal(arn=service, account=account, principal_arn=service, service=service, name=service)


@dataclass(frozen=True)
class _StandIn:
    action: str
    resource: str
    policy: dict[str, Any] | None


#: Queues that stand in for another target (the local run's SNS -> Lambda taps): a delivery to one is
#: checked as the delivery to the target it stands for, against that target's policy.
_STAND_INS: dict[str, _StandIn] = {}


def stand_in(queue_arn: str, action: str, resource: str, policy: dict[str, Any] | None) -> None:
    """Check deliveries to ``queue_arn`` as ``action`` on ``resource`` under ``policy`` (e.g. SNS ->
    Lambda: ``lambda:InvokeFunction`` on the function, under its ``AWS::Lambda::Permission`` statements)."""
    _STAND_INS[queue_arn] = _StandIn(action, resource, policy)


def delivery_denial(
    service: str, action: str, target_arn: str, source_arn: str, account: str, region: str
) -> Denial | None:
    """Whether the resource policy of ``target_arn`` lets ``service`` deliver from ``source_arn``."""
    principal = _service_principal(service, account)
    standing_in = _STAND_INS.get(target_arn)
    if standing_in is not None:
        action, target_arn = standing_in.action, standing_in.resource
        policies: list[Any] = [standing_in.policy]
    else:
        policies, _ = resource_policy(account, region, target_arn)
    context = {**BASE_CONTEXT, "aws:SourceArn": source_arn, "aws:SourceAccount": account}
    reason = evaluate(Check(action, target_arn), principal, [], policies, context)
    if reason is None:
        return None
    denial = Denial(principal, action, target_arn, reason, source=source_arn)
    DENIALS.add(denial)
    logger.warning("delivery refused: %s", denial.message)
    return denial


def _checked_sns_subscription_publish(publish: Callable[..., Any]) -> Callable[..., Any]:
    def checked(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> Any:
        if _ENFORCING and self.protocol == "sqs":
            region = self.endpoint.split(":")[3]
            if delivery_denial(
                "sns.amazonaws.com", "sqs:SendMessage", self.endpoint, self.topic.arn, self.account_id, region
            ):
                return None
        return publish(self, message, message_id, *args, **kwargs)

    return checked


def _checked_s3_send(send: Callable[..., Any], action: str, kind: str) -> Callable[..., Any]:
    def checked(account_id: str, event_body: Any, target: str, region_name: str) -> Any:
        if _ENFORCING:
            arn = (
                target if target.startswith("arn:") else f"arn:aws:{kind}:{region_name}:{account_id}:{target}"
            )
            records = event_body.get("Records") or [{}]
            bucket = records[0].get("s3", {}).get("bucket", {}).get("name") or event_body.get("Bucket")
            source = f"arn:aws:s3:::{bucket}"
            if delivery_denial("s3.amazonaws.com", action, arn, source, account_id, region_name):
                return None
        return send(account_id, event_body, target, region_name)

    return checked


def _bucket_permission(self: Any, action: str, resource: str) -> PermissionResult:
    """``FakeBucket.get_permission`` (moto's public-access check) with the conditions evaluated."""
    if self.policy is None:
        return PermissionResult.NEUTRAL
    check = Check(action, resource)
    statements = list(_statements([self.policy], dict(BASE_CONTEXT)))
    if any(s.effect == "Deny" and s.matches(check) for s in statements):
        return PermissionResult.DENIED
    if any(s.effect == "Allow" and s.matches(check) for s in statements):
        return PermissionResult.PERMITTED
    return PermissionResult.NEUTRAL


_ENFORCING = False
_INSTALL_LOCK = threading.Lock()


@contextlib.contextmanager
def install(enforce: bool = True) -> Iterator[None]:
    """Register the extensions above with moto (this process) while the block runs.

    With ``enforce`` moto authorizes every request from its first (``INITIAL_NO_AUTH_ACTION_COUNT`` = 0);
    without it nothing is evaluated (moto's default), but bucket policies still evaluate their conditions.
    """
    global _ENFORCING
    import moto.iam.access_control as access_control
    import moto.s3.notifications as notifications
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.s3.models import FakeBucket
    from moto.sns.models import Subscription

    with _INSTALL_LOCK:
        saved = {
            "count": (settings, "INITIAL_NO_AUTH_ACTION_COUNT", settings.INITIAL_NO_AUTH_ACTION_COUNT),
            "iam": (access_control, "IAMRequest", access_control.IAMRequest),
            "s3": (access_control, "S3IAMRequest", access_control.S3IAMRequest),
            "sub": (Subscription, "publish", Subscription.publish),
            "sqs": (notifications, "_send_sqs_message", notifications._send_sqs_message),
            "sns": (notifications, "_send_sns_message", notifications._send_sns_message),
            "bucket": (FakeBucket, "get_permission", FakeBucket.get_permission),
        }
        access_control.IAMRequest = LocalIAMRequest  # type: ignore[assignment,misc]
        access_control.S3IAMRequest = LocalS3IAMRequest  # type: ignore[assignment,misc]
        Subscription.publish = _checked_sns_subscription_publish(Subscription.publish)  # type: ignore[method-assign]
        notifications._send_sqs_message = _checked_s3_send(
            notifications._send_sqs_message, "sqs:SendMessage", "sqs"
        )
        notifications._send_sns_message = _checked_s3_send(
            notifications._send_sns_message, "sns:Publish", "sns"
        )
        FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign]
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if enforce else float("inf")
        ActionAuthenticatorMixin.request_count = 0
        _ENFORCING = enforce
        DENIALS.clear()
    try:
        yield
    finally:
        with _INSTALL_LOCK:
            _ENFORCING = False
            _STAND_INS.clear()
            for owner, name, value in saved.values():
                setattr(owner, name, value)
