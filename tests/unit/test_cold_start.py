"""Importing the entry module must stay light: no boto3, pydantic or Powertools at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def test_entrypoint_import_is_light() -> None:
    code = (
        "import sys, sagemaker_async_results.runtime.entrypoint;"
        "heavy = [m for m in ('boto3', 'botocore', 'pydantic', 'aws_lambda_powertools') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""
