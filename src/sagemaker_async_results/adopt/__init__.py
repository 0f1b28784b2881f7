"""Adopt the results pipeline from endpoints deployed by any tool.

- :mod:`.pipeline`: what an endpoint needs to know of a deployed pipeline (its stack's outputs).
- :mod:`.snippets`: that configuration written for each deploy tool (SageMaker Python SDK v2 and v3,
  boto3, Terraform) and the IAM statements the endpoint's execution role needs.
- :mod:`.grants`: whether an execution role's policies allow those statements.
- :mod:`.attach`: point an endpoint that already runs at the pipeline (a new endpoint config and
  ``UpdateEndpoint``), and back.

Only boto3 clients passed in are used (no ``cdk``, ``local`` or ``cli`` import), so the command line,
the local run and a notebook share it.
"""

from __future__ import annotations

from sagemaker_async_results.adopt.pipeline import PipelineNotFoundError, PipelineOutputs
from sagemaker_async_results.adopt.snippets import FORMATS, async_inference_config, render

__all__ = [
    "FORMATS",
    "PipelineNotFoundError",
    "PipelineOutputs",
    "async_inference_config",
    "render",
]
