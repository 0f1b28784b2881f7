"""checkov (CloudFormation) on every synthesized variation: each finding is fixed or acknowledged.

Acknowledgements live on the resources (``Metadata.checkov.skip``, each with its reason), written by
:func:`sagemaker_async_results.cdk.constructs._nag.acknowledge_checkov`, so they travel with the
template like cdk-nag's. checkov itself cannot be installed into the project's environment (checkov
3.3.x pins ``boto3==1.35.49``; the project pins a newer boto3), so ``make`` installs it into a virtual
environment of its own (``.venv-checkov``, pins in ``tools/checkov/requirements.txt``) and ``make test``
names it in ``CHECKOV``. A plain ``pytest`` without it skips the scan, saying so; in CI (``CI`` set) a
missing checkov fails instead. The reasons are checked either way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.infrastructure.conftest import VARIATIONS, Synthesized

#: Every checkov check the stack acknowledges by design (see each resource's reason). A new one is a
#: decision: add it here with the acknowledgement.
ACKNOWLEDGED = {
    "CKV_AWS_115",  # Lambda reserved concurrency
    "CKV_AWS_116",  # Lambda function DLQ (on-failure destinations and queue redrive instead)
    "CKV_AWS_117",  # Lambda in a VPC
    "CKV_AWS_173",  # Lambda environment encrypted with a customer managed key
    "CKV_AWS_158",  # log groups encrypted with a customer managed key
    "CKV_AWS_18",  # access logging of the access log bucket
    "CKV_AWS_21",  # bucket versioning
    "CKV_AWS_370",  # SageMaker model network isolation (the sample model downloads from the Hub)
}


def _skips(s: Synthesized) -> list[tuple[str, str, str]]:
    found = []
    for logical_id, resource in s.template_dict["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            found.append((logical_id, skip["id"], skip.get("comment", "")))
    return found


@pytest.mark.parametrize("name", sorted(VARIATIONS))
def test_every_checkov_acknowledgement_has_a_reason(synth: Callable[[str], Synthesized], name: str) -> None:
    skips = _skips(synth(name))
    assert skips
    for logical_id, check_id, reason in skips:
        assert check_id in ACKNOWLEDGED, (logical_id, check_id)
        assert len(reason) > 30, (logical_id, check_id, reason)
    if name == "default":
        model = [c for r, c, _ in skips if r.startswith("AsyncResultsInferenceModel")]
        assert model == ["CKV_AWS_370"]


def _checkov() -> str | None:
    return os.environ.get("CHECKOV") or shutil.which("checkov")


def test_checkov_finds_nothing_unacknowledged(synth: Callable[[str], Synthesized]) -> None:
    checkov = _checkov()
    if checkov is None:
        if os.environ.get("CI"):
            pytest.fail("checkov not found: make test installs it into .venv-checkov and sets CHECKOV")
        pytest.skip("checkov not installed (its boto3 pin conflicts with the project's); run make test")
    files = [str(synth(name).template_path) for name in sorted(VARIATIONS)]
    command = [
        checkov,
        "--framework",
        "cloudformation",
        "--quiet",
        "--compact",
        "-o",
        "json",
        "--skip-download",
    ]
    for path in files:
        command += ["-f", path]
    # Offline: no API key, no guideline download; one run scans every variation once.
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    reports: Any = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        (f["file_path"].rsplit("/", 1)[-1], f["resource"], f["check_id"], f["check_name"])
        for report in reports
        for f in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(report["summary"]["parsing_errors"] for report in reports) == 0
    assert sum(report["summary"]["skipped"] for report in reports) > 0
