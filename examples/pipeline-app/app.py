#!/usr/bin/env python3
"""A results pipeline without an endpoint: endpoints deployed by the SageMaker Python SDK publish into it.

Deploy this stack, then give each endpoint the configuration ``async-results config`` prints (see
``deploy_endpoint.py``), or point an endpoint that already runs at it with ``async-results attach``.
Context (``cdk.json`` or ``-c``): ``endpointNames`` (alarms and dashboard per endpoint) and
``executionRoleArns`` (the roles that may publish: the topics then refuse every other publisher, and
the roles get the publisher policy; without it, attach the ``PublisherPolicyArn`` output yourself).
"""

from __future__ import annotations

import aws_cdk as cdk

from sagemaker_async_results.cdk import AsyncResultsPipeline, add_aws_solutions_checks

app = cdk.App()
stack = cdk.Stack(app, "ResultsPipeline")
AsyncResultsPipeline(
    stack,
    "Results",
    name="sdk-results",
    handlers_dir="handlers",  # every module defining `router = Router()` is loaded
    endpoint_names=list(app.node.try_get_context("endpointNames") or []),
    execution_roles=list(app.node.try_get_context("executionRoleArns") or []),
)
add_aws_solutions_checks(app)
app.synth()
