"""cdk-nag AwsSolutions (no unacknowledged finding) and cfn-lint (no error) on every template variation."""

from __future__ import annotations

import json
from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from cfnlint.api import lint

from sagemaker_async_results.cdk.nag import add_aws_solutions_checks
from tests.infrastructure.conftest import SKIP_BUNDLING, VARIATIONS, Synthesized, synthesize


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_cdk_nag_passes_and_cfn_lint_has_no_errors(name: str, synth: Callable[[str], Synthesized]) -> None:
    synthesized = synth(name)  # synth with AwsSolutionsChecks raises on any unacknowledged finding
    matches = lint(json.dumps(synthesized.template_dict), regions=["us-east-1"])
    errors = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in matches
        if m.rule.id.startswith("E")
    ]
    assert errors == []


def test_every_acknowledgement_has_a_reason(default: Synthesized) -> None:
    acknowledged = []
    for construct in default.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                acknowledged.append(entry.data)
    reasons = {rule: reason for data in acknowledged for rule, reason in data.items()}
    assert len(reasons) >= 5
    for rule, reason in reasons.items():
        assert rule.startswith("AwsSolutions::AwsSolutions-"), rule
        assert len(reason) > 20, (rule, reason)


def test_cdk_nag_fails_on_an_insecure_resource(tmp_path: object) -> None:
    app = cdk.App(context=SKIP_BUNDLING, outdir=str(tmp_path))
    stack = cdk.Stack(app, "Insecure")
    sqs.Queue(stack, "PlainQueue")  # no encryption with a CMK, no SSL-only policy, no DLQ
    add_aws_solutions_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_cdk_nag_fails_on_an_unacknowledged_wildcard_in_the_sample_stack(tmp_path: object) -> None:
    import app as cdk_app
    from tests.infrastructure.conftest import cdk_json_context

    app = cdk.App(context={**cdk_json_context(), **SKIP_BUNDLING}, outdir=str(tmp_path))
    stack = cdk_app.build(app, nag=True)
    role = stack.node.find_child("AsyncResults").node.find_child("SuccessHandler").node.find_child("Role")
    assert isinstance(role, iam.Role)
    role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:*"], resources=["*"]))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_synthesizes_with_no_context_at_all(tmp_path: object) -> None:
    from pathlib import Path

    synthesized = synthesize({}, Path(str(tmp_path)), with_cdk_json=False)
    synthesized.template.resource_count_is("AWS::SageMaker::Endpoint", 1)
    synthesized.template.has_resource_properties(
        "AWS::SageMaker::Model", {"PrimaryContainer": {"Environment": {"HF_TASK": "text-classification",
                                                                       "HF_MODEL_ID": "distilbert/distilbert-base-uncased-finetuned-sst-2-english"}}}
    )  # fmt: skip
