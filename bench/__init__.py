"""Benchmarks (issue 5): pushed results vs polling, handler throughput, cold start, memory.

``python -m bench`` (``make bench``) runs every case on the embedded emulator, each side by side with
its baseline, and writes ``bench/results/latest.{json,md}`` and ``time_to_result.png``.

The runtime lives in ``functions/`` (the Lambda asset root), so that folder goes on ``sys.path`` here,
exactly as Lambda puts the asset root on its path.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
for _path in (str(ROOT), str(FUNCTIONS)):
    if _path not in sys.path:
        sys.path.append(_path)
