"""A small evaluator of AWS access policies, for asking a synthesized template "may this principal do this
to that resource": identity policies, resource policies (topic, queue, bucket, function) and key policies.

Why hand-written: of the offline Python packages, ``policyuniverse``, ``parliament``, ``policy-sentry`` and
``cloudsplaining`` parse, lint or write policies but decide nothing, and moto's ``IAMPolicy`` skips every
condition operator but ``StringEquals`` and every principal but ``*``. (``@cloud-copilot/iam-simulate`` on
npm does evaluate, but would need a Node bridge and would still need the template's intrinsics resolved
here.) This module follows AWS's documented policy evaluation logic for one account:

- an explicit ``Deny`` in any policy that applies wins;
- an AWS service principal is allowed only by a resource policy naming it (or ``*``);
- an IAM principal of the account is allowed by its identity policies or by a resource policy naming it
  (a resource policy naming the account only delegates to IAM);
- a KMS key is different: its key policy must allow the principal directly, or allow the account (which
  then delegates to the principal's identity policies).

Policy grammar: ``Effect``, ``Action``/``NotAction`` (case-insensitive wildcards), ``Resource``/
``NotResource`` (case-sensitive wildcards; a key policy's ``*`` means the key), ``Principal``/
``NotPrincipal`` (``*``, ``AWS`` ARNs or account IDs, ``Service``), and ``Condition`` with the string, ARN,
``Bool``, ``Null``, numeric and date-free operators, their ``IfExists`` forms and the ``ForAnyValue:`` /
``ForAllValues:`` set qualifiers. An operator it does not know raises :class:`UnsupportedPolicy`: a
condition is never skipped. Condition keys are matched case-insensitively, as AWS does.

:class:`TemplateModel` resolves a CloudFormation template's intrinsics (``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub``, ``Fn::FindInMap``, ``Fn::Select``, pseudo parameters) into concrete ARNs for a
modelled account, region and stack name, and collects every policy of the template by the resource it
governs or the role it is attached to.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = [
    "Decision",
    "Principal",
    "Request",
    "TemplateModel",
    "UnsupportedPolicy",
    "evaluate",
    "statement_applies",
    "wildcard_match",
]

ContextValue = str | bool | int | Sequence[str]


class UnsupportedPolicy(ValueError):
    """A policy element the evaluator does not understand (it refuses rather than guess)."""


@dataclass(frozen=True)
class Principal:
    """Who makes the request: an AWS service (``service="sns.amazonaws.com"``) or an IAM ARN."""

    arn: str | None = None
    service: str | None = None

    @property
    def account(self) -> str | None:
        if self.arn is None:
            return None
        parts = self.arn.split(":")
        return parts[4] if len(parts) > 4 else None

    def __str__(self) -> str:
        return self.service or self.arn or "?"


@dataclass(frozen=True)
class Request:
    """One API call: principal, action (``sns:Publish``), resource ARN, request context keys."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)

    def key(self, name: str) -> ContextValue | None:
        lowered = name.lower()
        for key, value in self.context.items():
            if key.lower() == lowered:
                return value
        return None


@dataclass(frozen=True)
class Decision:
    """The outcome, with the statements that decided it (``policy#sid``) and a readable reason."""

    allowed: bool
    reason: str
    allowed_by: tuple[str, ...] = ()
    denied_by: tuple[str, ...] = ()


# --- matching ---------------------------------------------------------------------------------------------


@cache
def _wildcard_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: ``*`` any run of characters, ``?`` one character."""
    if "${" in pattern:
        raise UnsupportedPolicy(f"policy variables are not evaluated: {pattern!r}")
    return _wildcard_regex(pattern, ignore_case).match(value) is not None


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: each of the six colon-separated parts matched separately (the last keeps its colons)."""
    p_parts = pattern.split(":", 5)
    v_parts = value.split(":", 5)
    if len(p_parts) != 6 or len(v_parts) != 6:
        return wildcard_match(pattern, value) if pattern == "*" else False
    return all(wildcard_match(p, v) for p, v in zip(p_parts, v_parts, strict=True))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _text(value: ContextValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        raise UnsupportedPolicy(f"expected a number in a numeric condition, received {value!r}") from error


_MATCHERS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": lambda p, v: wildcard_match(p, v),
    "ArnEquals": _arn_like,  # AWS documents ArnEquals and ArnLike as the same comparison
    "ArnLike": _arn_like,
    "Bool": lambda p, v: p.lower() == v.lower(),
    "NumericEquals": lambda p, v: _number(v) == _number(p),
    "NumericLessThan": lambda p, v: _number(v) < _number(p),
    "NumericLessThanEquals": lambda p, v: _number(v) <= _number(p),
    "NumericGreaterThan": lambda p, v: _number(v) > _number(p),
    "NumericGreaterThanEquals": lambda p, v: _number(v) >= _number(p),
    "IpAddress": lambda p, v: p == v,
}
#: Negated operators: true when the request value matches none of the policy values (and when it is absent).
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _condition_holds(operator: str, key: str, policy_values: Any, request: Request) -> bool:
    qualifier = None
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
        if qualifier not in ("ForAnyValue", "ForAllValues"):
            raise UnsupportedPolicy(f"unknown condition set qualifier {qualifier!r}")
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    expected = [_text(v) for v in _as_list(policy_values)]
    actual = request.key(key)
    if base == "Null":
        return all((actual is None) == (e.lower() == "true") for e in expected)
    if base not in _MATCHERS and base not in _NEGATED:
        raise UnsupportedPolicy(f"condition operator {operator!r} (key {key}) is not supported")
    values = [_text(v) for v in _as_list(actual)] if actual is not None else []
    negated = base in _NEGATED
    match = _MATCHERS[_NEGATED.get(base, base)]
    if not values:
        if qualifier == "ForAllValues":
            return True
        return if_exists or negated

    def one(value: str) -> bool:
        hit = any(match(e, value) for e in expected)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in values)
    return any(one(v) for v in values)


def _conditions_hold(condition: Mapping[str, Any] | None, request: Request) -> bool:
    for operator, keys in (condition or {}).items():
        if not isinstance(keys, Mapping):
            raise UnsupportedPolicy(
                f"condition {operator!r}: expected a key -> values map, received {keys!r}"
            )
        for key, values in keys.items():
            if not _condition_holds(operator, key, values, request):
                return False
    return True


def _principal_matches(element: Any, principal: Principal, own_account: str) -> str | None:
    """``"direct"`` when the element names the principal, ``"account"`` when it names its account only."""
    if element == "*":
        return "direct"
    if not isinstance(element, Mapping):
        raise UnsupportedPolicy(f"Principal: expected '*' or a map, received {element!r}")
    found: str | None = None
    for kind, values in element.items():
        for value in _as_list(values):
            if kind == "Service":
                if principal.service is not None and value == principal.service:
                    return "direct"
            elif kind == "AWS":
                if value == "*":
                    return "direct"
                if principal.arn is not None and value == principal.arn:
                    return "direct"
                account = value if re.fullmatch(r"\d{12}", value) else None
                match = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):root", value)
                account = account or (match.group(1) if match else None)
                if account is not None and principal.account == account:
                    found = "account"
            elif kind in ("Federated", "CanonicalUser"):
                continue
            else:
                raise UnsupportedPolicy(f"Principal kind {kind!r} is not supported")
    del own_account
    return found


def statement_applies(
    statement: Mapping[str, Any], request: Request, *, resource_policy: bool, own_account: str = ""
) -> str | None:
    """Whether ``statement`` covers ``request``: ``None``, ``"direct"`` or (principal = the account) ``"account"``."""
    unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                                "Principal", "NotPrincipal", "Condition"}  # fmt: skip
    if unknown:
        raise UnsupportedPolicy(f"statement elements not supported: {sorted(unknown)}")
    if "Action" in statement:
        if not any(
            wildcard_match(a, request.action, ignore_case=True) for a in _as_list(statement["Action"])
        ):
            return None
    elif "NotAction" in statement:
        if any(wildcard_match(a, request.action, ignore_case=True) for a in _as_list(statement["NotAction"])):
            return None
    else:
        raise UnsupportedPolicy(f"statement without Action or NotAction: {statement}")
    if "Resource" in statement:
        if not any(wildcard_match(r, request.resource) for r in _as_list(statement["Resource"])):
            return None
    elif "NotResource" in statement:
        if any(wildcard_match(r, request.resource) for r in _as_list(statement["NotResource"])):
            return None
    elif not resource_policy:
        raise UnsupportedPolicy(f"identity statement without Resource: {statement}")
    how = "direct"
    if resource_policy:
        if "Principal" in statement:
            matched = _principal_matches(statement["Principal"], request.principal, own_account)
            if matched is None:
                return None
            how = matched
        elif "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], request.principal, own_account) is not None:
                return None
        else:
            raise UnsupportedPolicy(f"resource policy statement without Principal: {statement}")
    if not _conditions_hold(statement.get("Condition"), request):
        return None
    return how


@dataclass(frozen=True)
class Policy:
    """A named policy document (name: where it comes from, e.g. a logical ID)."""

    name: str
    document: Mapping[str, Any]

    def statements(self) -> list[tuple[str, Mapping[str, Any]]]:
        found = []
        for index, statement in enumerate(_as_list(self.document.get("Statement"))):
            effect = statement.get("Effect")
            if effect not in ("Allow", "Deny"):
                raise UnsupportedPolicy(f"{self.name}: Effect must be Allow or Deny, received {effect!r}")
            found.append((f"{self.name}#{statement.get('Sid', index)}", statement))
        return found


def evaluate(
    request: Request,
    *,
    identity: Iterable[Policy] = (),
    resource: Policy | None = None,
    key_policy: bool = False,
) -> Decision:
    """Decide ``request`` against the principal's identity policies and the resource's policy.

    ``resource=None`` means the resource has no resource policy (a queue or bucket without one). With
    ``key_policy=True`` the resource policy is a KMS key policy and is required.
    """
    own_account = request.principal.account or ""
    denied: list[str] = []
    identity_allows: list[str] = []
    resource_direct: list[str] = []
    resource_account: list[str] = []
    if request.principal.arn is not None:
        for policy in identity:
            for name, statement in policy.statements():
                if statement_applies(statement, request, resource_policy=False):
                    (denied if statement["Effect"] == "Deny" else identity_allows).append(name)
    if resource is not None:
        for name, statement in resource.statements():
            how = statement_applies(statement, request, resource_policy=True, own_account=own_account)
            if how is None:
                continue
            if statement["Effect"] == "Deny":
                denied.append(name)
            else:
                (resource_direct if how == "direct" else resource_account).append(name)
    if denied:
        return Decision(False, f"explicit Deny by {', '.join(denied)}", denied_by=tuple(denied))
    if request.principal.service is not None:
        if resource_direct:
            return Decision(True, "allowed by the resource policy", allowed_by=tuple(resource_direct))
        where = resource.name if resource is not None else "(the resource has no resource policy)"
        return Decision(False, f"no statement of {where} allows {request.principal}")
    if key_policy:
        if resource_direct:
            return Decision(True, "allowed by the key policy", allowed_by=tuple(resource_direct))
        if resource_account and identity_allows:
            return Decision(True, "key policy delegates to IAM; allowed by an identity policy",
                            allowed_by=tuple(resource_account + identity_allows))  # fmt: skip
        if not resource_account:
            return Decision(False, "the key policy neither names the principal nor delegates to IAM")
        return Decision(False, "no identity policy allows it (the key policy delegates to IAM)")
    if identity_allows or resource_direct:
        return Decision(True, "allowed", allowed_by=tuple(identity_allows + resource_direct))
    return Decision(False, "no identity or resource policy statement allows it")


# --- a template as a modelled account ------------------------------------------------------------------------

_PSEUDO = {"AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix", "AWS::StackName",
           "AWS::StackId", "AWS::NoValue"}  # fmt: skip


class TemplateModel:
    """A synthesized template deployed (on paper) as ``stack_name`` in ``account``/``region``.

    Generated physical names are ``<stack>-<logical id>-gen`` (lower case for buckets): deterministic
    stand-ins for CloudFormation's random suffixes, so that a policy naming ``...:*`` matches them and a
    policy naming another exact name does not.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        account: str = "111122223333",
        region: str = "us-east-1",
        partition: str = "aws",
        stack_name: str = "AsyncInferenceStack",
        parameters: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template.get("Resources", {})
        self.account = account
        self.region = region
        self.partition = partition
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})

    # --- names ---
    def _prop(self, logical_id: str, name: str) -> Any:
        value = self.resources[logical_id].get("Properties", {}).get(name)
        return self.resolve(value) if value is not None else None

    def physical_name(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name_props = {
            "AWS::SNS::Topic": "TopicName", "AWS::SQS::Queue": "QueueName", "AWS::S3::Bucket": "BucketName",
            "AWS::IAM::Role": "RoleName", "AWS::DynamoDB::Table": "TableName",
            "AWS::Lambda::Function": "FunctionName", "AWS::Kinesis::Stream": "Name",
            "AWS::SageMaker::Endpoint": "EndpointName", "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::Events::EventBus": "Name", "AWS::CloudWatch::Alarm": "AlarmName",
            "AWS::IAM::ManagedPolicy": "ManagedPolicyName", "AWS::SageMaker::Model": "ModelName",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
        }  # fmt: skip
        prop = name_props.get(kind)
        given = self._prop(logical_id, prop) if prop else None
        if given:
            return str(given)
        generated = f"{self.stack_name}-{logical_id}-gen"
        return generated.lower() if kind == "AWS::S3::Bucket" else generated

    def arn(self, logical_id: str) -> str:
        """The ARN of a template resource."""
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account
        arns = {
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::S3::Bucket": f"arn:{p}:s3:::{name}",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:{p}:iam::{a}:policy/{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::Kinesis::Stream": f"arn:{p}:kinesis:{r}:{a}:stream/{name}",
            "AWS::SageMaker::Endpoint": f"arn:{p}:sagemaker:{r}:{a}:endpoint/{name.lower()}",
            "AWS::SageMaker::Model": f"arn:{p}:sagemaker:{r}:{a}:model/{name.lower()}",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
            "AWS::KMS::Key": f"arn:{p}:kms:{r}:{a}:key/{self._key_id(logical_id)}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
        }
        if kind not in arns:
            raise UnsupportedPolicy(f"{logical_id}: ARN of {kind} is not modelled")
        return arns[kind]

    @staticmethod
    def _key_id(logical_id: str) -> str:
        return f"{zlib.crc32(logical_id.encode()):08x}-0000-4000-8000-000000000000"

    def ref(self, logical_id: str) -> str:
        if logical_id in _PSEUDO:
            return self._pseudo(logical_id)
        if logical_id in self.parameters:
            return str(self.parameters[logical_id])
        if logical_id in self.template.get("Parameters", {}):
            default = self.template["Parameters"][logical_id].get("Default")
            if default is None:
                raise UnsupportedPolicy(f"parameter {logical_id} has no value: pass it in parameters")
            return str(default)
        kind = self.resources[logical_id]["Type"]
        if kind in ("AWS::SNS::Topic", "AWS::SageMaker::Endpoint", "AWS::IAM::ManagedPolicy"):
            return self.arn(logical_id)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(logical_id)}"
        if kind == "AWS::KMS::Key":
            return self._key_id(logical_id)
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if attribute == "Arn" or (kind == "AWS::SNS::Topic" and attribute == "TopicArn"):
            return self.arn(logical_id)
        if attribute in ("TopicName", "QueueName", "EndpointName", "ModelName", "Name", "RoleId"):
            return self.physical_name(logical_id)
        if kind == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return self.ref(logical_id)
        if kind == "AWS::S3::Bucket" and attribute == "RegionalDomainName":
            return f"{self.physical_name(logical_id)}.s3.{self.region}.amazonaws.com"
        raise UnsupportedPolicy(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not modelled")

    def _pseudo(self, name: str) -> str:
        return {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::NoValue": "",
        }[name]

    def resolve(self, value: Any) -> Any:
        """Every intrinsic in ``value`` replaced by its modelled value."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self.ref(arg)
            if name == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in self.resolve(parts))
            if name == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if name == "Fn::FindInMap":
                mapping, top, second = (self.resolve(a) for a in arg)
                return self.template["Mappings"][mapping][top][second]
            if name == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                variables = {k: self.resolve(v) for k, v in variables.items()}

                def sub(match: re.Match[str]) -> str:
                    token = match.group(1)
                    if token in variables:
                        return str(variables[token])
                    if "." in token:
                        logical_id, attribute = token.split(".", 1)
                        return self.get_att(logical_id, attribute)
                    return self.ref(token)

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
            if name.startswith("Fn::") or name == "Condition":
                raise UnsupportedPolicy(f"intrinsic {name} is not modelled")
        return {k: self.resolve(v) for k, v in value.items()}

    def logical_id_of(self, value: Any) -> str | None:
        """The logical ID a ``Ref``/``Fn::GetAtt`` names, else ``None`` (a literal, e.g. an existing resource)."""
        if isinstance(value, Mapping) and "Ref" in value and value["Ref"] in self.resources:
            return str(value["Ref"])
        if isinstance(value, Mapping) and "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        return None

    # --- policies ---
    def of_type(self, kind: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def identity_policies(self, role_arn: str) -> list[Policy]:
        """Inline, attached (``AWS::IAM::Policy``) and managed policies of the role ``role_arn``."""
        role_name = role_arn.rsplit("/", 1)[-1]
        found: list[Policy] = []
        for logical_id, role in self.of_type("AWS::IAM::Role").items():
            if self.arn(logical_id) != role_arn:
                continue
            props = role.get("Properties", {})
            for inline in props.get("Policies", []):
                found.append(
                    Policy(f"{logical_id}/{inline['PolicyName']}", self.resolve(inline["PolicyDocument"]))
                )
            for managed in props.get("ManagedPolicyArns", []):
                managed_id = self.logical_id_of(managed)
                if managed_id is None:
                    raise UnsupportedPolicy(f"{logical_id}: AWS managed policy {managed} is not modelled")
                document = self.resources[managed_id]["Properties"]["PolicyDocument"]
                found.append(Policy(managed_id, self.resolve(document)))
        for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for logical_id, policy in self.of_type(kind).items():
                roles = [str(self.resolve(r)) for r in policy["Properties"].get("Roles", [])]
                if role_name in roles:
                    found.append(Policy(logical_id, self.resolve(policy["Properties"]["PolicyDocument"])))
        return found

    def resource_policy(self, resource_logical_id: str) -> Policy | None:
        """The policy governing a template resource (topic, queue, bucket, key, function), if any."""
        kind = self.resources[resource_logical_id]["Type"]
        if kind == "AWS::KMS::Key":
            document = self.resources[resource_logical_id]["Properties"]["KeyPolicy"]
            return Policy(resource_logical_id, self.resolve(document))
        if kind == "AWS::Lambda::Function":
            return self._function_policy(resource_logical_id)
        policy_type, target_prop = {
            "AWS::SNS::Topic": ("AWS::SNS::TopicPolicy", "Topics"),
            "AWS::SQS::Queue": ("AWS::SQS::QueuePolicy", "Queues"),
            "AWS::S3::Bucket": ("AWS::S3::BucketPolicy", "Bucket"),
        }.get(kind, (None, None))
        if policy_type is None:
            raise UnsupportedPolicy(f"{resource_logical_id}: resource policies of {kind} are not modelled")
        statements: list[Any] = []
        names: list[str] = []
        for logical_id, policy in self.of_type(policy_type).items():
            targets = [self.logical_id_of(t) for t in _as_list(policy["Properties"][target_prop])]
            if resource_logical_id in targets:
                names.append(logical_id)
                statements.extend(_as_list(self.resolve(policy["Properties"]["PolicyDocument"])["Statement"]))
        if not names:
            return None
        return Policy("+".join(names), {"Version": "2012-10-17", "Statement": statements})

    def _function_policy(self, function_id: str) -> Policy | None:
        """``AWS::Lambda::Permission`` resources of a function, as the statements Lambda stores for them."""
        statements = []
        for logical_id, permission in self.of_type("AWS::Lambda::Permission").items():
            props = permission["Properties"]
            if self.logical_id_of(props["FunctionName"]) != function_id:
                continue
            principal = str(self.resolve(props["Principal"]))
            condition: dict[str, Any] = {}
            if "SourceArn" in props:
                condition["ArnLike"] = {"AWS:SourceArn": self.resolve(props["SourceArn"])}
            if "SourceAccount" in props:
                condition["StringEquals"] = {"AWS:SourceAccount": self.resolve(props["SourceAccount"])}
            statements.append({
                "Sid": logical_id,
                "Effect": "Allow",
                "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                "Action": self.resolve(props["Action"]),
                "Resource": self.arn(function_id),
                **({"Condition": condition} if condition else {}),
            })  # fmt: skip
        return Policy(f"{function_id}(permissions)", {"Statement": statements}) if statements else None

    def find_by_arn(self, arn: str) -> str | None:
        """The logical ID of the template resource with this ARN (or queue URL), if any."""
        for logical_id, resource in self.resources.items():
            try:
                if arn in (self.arn(logical_id), self.ref(logical_id)):
                    return logical_id
            except (UnsupportedPolicy, KeyError):
                continue
            del resource
        return None

    def dump(self, value: Any) -> str:
        return json.dumps(self.resolve(value), sort_keys=True)
