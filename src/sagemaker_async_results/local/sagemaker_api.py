"""SageMaker control-plane calls the embedded moto lacks, added so endpoints can be adopted locally.

moto 5.2 stores endpoints and their configs but has no ``UpdateEndpoint``: the call that swaps an
endpoint's config (SageMaker's way to change output paths and notifications without downtime, used by
``async-results attach``/``detach`` and by the SageMaker Python SDK's ``update_endpoint``). Here it
behaves as SageMaker documents it: the new config must exist, the endpoint keeps its name and ARN, and
it serves the new config's variants. SageMaker passes through ``Updating`` for minutes; the emulator
swaps at once (the local simulator picks the new config up on a later request).
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
