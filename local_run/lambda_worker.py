"""Worker process of the local Lambda runtime (see :mod:`local_run.lambda_runtime`).

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


def main() -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the handler prints goes to the log, not into the protocol
    sys.stdout = sys.stderr
    code_dir = os.environ["LOCAL_LAMBDA_CODE_DIR"]
    # After site-packages: the asset's own copies of native wheels are built for Lambda's platform.
    sys.path.append(code_dir)
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
