"""The sample stack: the :class:`AsyncInferenceResults` construct built from the app's context."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from sagemaker_async_results.cdk.async_inference_results import AsyncInferenceResults
from sagemaker_async_results.cdk.config import StackConfig

__all__ = ["HANDLERS_DIR", "AsyncInferenceStack"]

#: The sample's handler plugins, deployed as the package ``handlers``.
HANDLERS_DIR = Path(__file__).resolve().parent.parent / "functions" / "handlers"


class AsyncInferenceStack(Stack):
    """SageMaker async inference endpoint whose results go to SNS topics and then to handler functions.

    Parameters
    ----------
    config: validated configuration (see :func:`sagemaker_async_results.cdk.config.parse_context`).
    code: a ready code asset instead of bundling :data:`HANDLERS_DIR`; default none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        code: lambda_.Code | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault(
            "description", "SageMaker async inference with SNS result notifications (async-results)"
        )
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.results = AsyncInferenceResults.from_config(
            self,
            "AsyncResults",
            config,
            **({"code": code} if code is not None else {"handlers_dir": HANDLERS_DIR}),
        )
