"""Calls the embedded moto lacks that deploying and adopting endpoints needs, added for the local run.

- SageMaker ``UpdateEndpoint``: swaps an endpoint's config (SageMaker's way to change output paths and
  notifications without downtime, used by ``async-results attach``/``detach`` and the SageMaker Python
  SDK's ``update_endpoint``). As SageMaker documents it: the new config must exist, the endpoint keeps
  its name and ARN and serves the new config's variants. SageMaker passes through ``Updating`` for
  minutes; the emulator swaps at once (the simulator picks the new config up on a later request).
- ``DescribeModel``, ``DescribeEndpointConfig`` and ``DescribeEndpoint`` without the members a resource
  does not have: moto answers ``VpcConfig: {}``, ``DataCaptureConfig: {}`` (and empty lists), which
  SageMaker never does and which the SDK v3's typed resources reject ("Field required").
- IAM ``SimulatePrincipalPolicy``: the SageMaker Python SDK v3 checks an execution role with it before
  it deploys (``ecr:GetAuthorizationToken`` on ``*``). Evaluated on the role's identity policies (inline
  and attached): an explicit ``Deny`` gives ``explicitDeny``, an ``Allow`` ``allowed``, else
  ``implicitDeny``; conditions, boundaries and resource policies are not simulated.
"""

from __future__ import annotations

from typing import Any


def support_update_endpoint() -> None:
    """Add ``UpdateEndpoint`` to moto's SageMaker (idempotent; in-process and server mode alike)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    backend_type: Any = SageMakerModelBackend
    if getattr(backend_type, "_update_endpoint_patched", False):
        return

    def update_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
        endpoint.data_capture_config = config.data_capture_config
        endpoint.last_modified_time = utcnow()
        return endpoint

    def update_endpoint_response(self: Any) -> ActionResult:
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    backend_type.update_endpoint = update_endpoint
    response_type: Any = SageMakerResponse
    response_type.update_endpoint = update_endpoint_response
    backend_type._update_endpoint_patched = True
    _described_without_empty_members()
    _support_simulate_principal_policy()


def _described_without_empty_members() -> None:
    """Filter the API answers only: moto's own code reads the members back (``DataCaptureConfig``)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    response_type: Any = SageMakerResponse
    for name in ("describe_model", "describe_endpoint_config", "describe_endpoint"):
        answer = getattr(response_type, name)

        def described(self: Any, _answer: Any = answer) -> ActionResult:
            result = _answer(self).result
            if isinstance(result, dict):
                result = {k: v for k, v in result.items() if v not in ({}, [])}
            return ActionResult(result)

        setattr(response_type, name, described)


def _support_simulate_principal_policy() -> None:
    import json
    import urllib.parse

    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    from sagemaker_async_results.adopt.grants import allows

    def decision(documents: list[dict[str, Any]], action: str, resource: str) -> str:
        denied_only = [
            {"Statement": [s for s in _statements(d) if s.get("Effect") == "Deny"]} for d in documents
        ]
        if allows(
            [*denied_only, {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}],
            action,
            resource,
        ):
            return "allowed" if allows(documents, action, resource) else "implicitDeny"
        return "explicitDeny"

    def simulate_principal_policy(self: Any) -> ActionResult:
        role = self.backend.get_role_by_arn(self._get_param("PolicySourceArn"))
        raw = [*role.policies.values()]
        for policy in role.managed_policies.values():
            raw += [v.document for v in policy.versions if v.is_default]
        documents = [json.loads(urllib.parse.unquote(d)) if isinstance(d, str) else d for d in raw]
        resources = self._get_param("ResourceArns", []) or ["*"]
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": decision(documents, action, resource),
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in self._get_param("ActionNames", [])
            for resource in resources
        ]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    response_type: Any = IamResponse
    response_type.simulate_principal_policy = simulate_principal_policy


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]
