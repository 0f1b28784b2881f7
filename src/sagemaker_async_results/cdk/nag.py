"""cdk-nag AwsSolutions checks and the project's acknowledgements, each with its reason.

cdk-nag 3 is a policy-validation plugin: ``cdk synth`` exits 1 and ``app.synth()`` raises
``RuntimeError: ValidationFailed`` on any unacknowledged finding. Acknowledgements are attached to the
narrowest construct that causes them, and each IAM5 finding is named separately.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

__all__ = ["add_aws_solutions_checks"]


def add_aws_solutions_checks(app: cdk.App) -> None:
    """Add the AwsSolutions pack to ``app``. The constructs acknowledge their by-design findings
    themselves (see :mod:`sagemaker_async_results.cdk.constructs._nag`), so any other finding fails synth."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
