"""Benchmarks: pushed results vs polling, handler throughput, cold start, memory, cost.

``python -m bench`` (``make bench``) runs every case on the embedded emulator, each side by side with
its baseline (handler throughput also on a fake AWS that costs 10 ms per call and no CPU,
:mod:`bench.fake_aws`), derives the cost per million results (:mod:`bench.cost`), and writes
``bench/results/latest.{json,md}`` and ``time_to_result.png``. ``python -m bench.soak``
(``make soak``) is the chaos soak.

The library (``src/``) is installed into the project's virtual environment; the sample's handler plugins
(``functions/handlers``) go on ``sys.path`` here, as the code asset puts them at Lambda's task root.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
for _path in (str(ROOT), str(FUNCTIONS)):
    if _path not in sys.path:
        sys.path.append(_path)
