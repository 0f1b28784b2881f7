#!/usr/bin/env python3
"""CDK app entry: reads cdk.json context, builds the sample stack, adds the cdk-nag AwsSolutions checks."""

from __future__ import annotations

import sys

import aws_cdk as cdk

from sagemaker_async_results.cdk.config import ConfigError, parse_context
from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from stacks.async_inference_stack import AsyncInferenceStack

#: CloudFormation stack name (the local run and the client find outputs in this stack).
STACK_NAME = "AsyncInferenceStack"


def build(app: cdk.App, *, nag: bool = True) -> AsyncInferenceStack:
    """Build the sample stack from ``app``'s context (missing keys take the documented defaults).

    Every context key except CDK's own (feature flags, ``aws:cdk:*``) is validated, so a misspelt key
    is an error rather than silently ignored.
    """
    config = parse_context(app.node.get_all_context())
    stack = AsyncInferenceStack(app, STACK_NAME, config=config)
    if nag:
        add_aws_solutions_checks(app)
    return stack


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(1) from None
    app.synth()


if __name__ == "__main__":
    main()
