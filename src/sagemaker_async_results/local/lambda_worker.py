"""Worker process of the local Lambda runtime (see :mod:`sagemaker_async_results.local.lambda_runtime`).

Started as a script by path (never as a module of this package), so that the handler's code, this
library's runtime included, is imported from the deployed code asset first, as on Lambda, and not from
the interpreter's site-packages.

Protocol: one JSON request per line on stdin, one JSON reply per line on the original stdout. The
handler's own stdout (Powertools logs) is redirected to stderr, which the parent writes to a log file.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline_ms: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.deadline_ms - time.time() * 1000))


def load_native_dependencies(code_dir: Path) -> list[str]:
    """Import this interpreter's copies of the asset's packages that contain native extensions.

    The asset's wheels are built for Lambda (arm64, CPython 3.14) and cannot load here; once the local
    copy (same pinned version) is in ``sys.modules``, the asset's copy is never tried. Everything else,
    the runtime and the handlers included, comes from the asset.
    """
    loaded = []
    for package in sorted(code_dir.iterdir()):
        if package.is_dir() and package.name.isidentifier() and any(package.rglob("*.so")):
            try:
                importlib.import_module(package.name)
                loaded.append(package.name)
            except ImportError:
                pass  # the asset's copy will fail to load and say why
    return loaded


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the handler prints goes to the log, not into the protocol
    sys.stdout = sys.stderr
    code_dir = Path(os.environ["LOCAL_LAMBDA_CODE_DIR"])
    del sys.path[0]  # this script's own folder
    load_native_dependencies(code_dir)
    sys.path.insert(0, os.fspath(code_dir))  # the task root first, as on Lambda
    module_name, _, function_name = os.environ["LOCAL_LAMBDA_HANDLER"].rpartition(".")
    handler = getattr(importlib.import_module(module_name), function_name)
    for line in sys.stdin:
        request = json.loads(line)
        context = LambdaContext(
            function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            invoked_function_arn=os.environ["LOCAL_LAMBDA_FUNCTION_ARN"],
            memory_limit_in_mb=int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")),
            aws_request_id=request["requestId"],
            deadline_ms=time.time() * 1000 + request["timeoutMs"],
        )
        reply: dict[str, Any]
        try:
            reply = {"result": handler(request["event"], context)}
        except Exception as exc:
            reply = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc),
            }
        sys.stderr.flush()
        replies.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
