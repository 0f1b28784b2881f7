#!/usr/bin/env python3
"""A CDK app of your own: one construct adds SageMaker async inference with pushed results.

The library is installed from PyPI, a wheel, a path or a git URL (``pip install
"sagemaker-async-results[cdk,local]"``); this app's own handler plugins live in ``handlers/``.
"""

from __future__ import annotations

import aws_cdk as cdk

from sagemaker_async_results.cdk import AsyncInferenceResults, add_aws_solutions_checks

app = cdk.App()
stack = cdk.Stack(app, "SentimentService")
AsyncInferenceResults(
    stack,
    "Sentiment",
    endpoint_name="sentiment-async",
    handlers_dir="handlers",  # every module defining `router = Router()` is loaded
)
add_aws_solutions_checks(app)  # optional: the construct already passes cdk-nag's AwsSolutions pack
app.synth()
