"""Worker process of the local Lambda runtime (see :mod:`sagemaker_async_results.local.lambda_runtime`).

Started as a script by path (never as a module of this package), so that the handler's code, this
library's runtime included, is imported from the deployed code asset first, as on Lambda, and not from
the interpreter's site-packages.

Protocol: one JSON request per line on stdin, one JSON reply per line on the original stdout. The
handler's own stdout (Powertools logs) is redirected to stderr, which the parent writes to a log file.
A request ``{"init": true}`` loads the handler (and builds this library's app, see :func:`prepare`)
and replies ``{"ready": true}`` or the init error.

A handler that cannot be imported (syntax error, missing dependency) fails every invocation with
Lambda's ``Runtime.ImportModuleError`` and the reason, written once to the log with its traceback, as
Lambda writes it to CloudWatch Logs. Ctrl-C in the terminal reaches this process too; it is ignored here
(the parent ends the worker by closing stdin), so no ``KeyboardInterrupt`` traceback lands in the log.
A worker whose parent is gone (the local run ended or was killed mid-invocation) exits at once, as a
Lambda sandbox ends with its service: it never keeps running a handler nobody waits for.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
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


def load_handler(code_dir: Path, dependencies_dir: str | None, handler: str) -> Any:
    """Import the handler as Lambda does: the task root first (after this machine's copy of the
    bundled dependencies, see :mod:`sagemaker_async_results.local.host_dependencies`)."""
    sys.path.insert(0, os.fspath(code_dir))
    if dependencies_dir:
        sys.path.insert(0, dependencies_dir)
    module_name, _, function_name = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), function_name)


def init_error(handler: str, exc: BaseException) -> dict[str, Any]:
    """Lambda's reply when the handler cannot be loaded (``Runtime.ImportModuleError``)."""
    module_name = handler.rpartition(".")[0]
    kind = "Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else "Runtime.ImportModuleError"
    return {
        "errorType": kind,
        "errorMessage": f"Unable to import module '{module_name}': {type(exc).__name__}: {exc}".rstrip(),
        "init": True,
    }


def prepare(handler: Any) -> dict[str, Any]:
    """The init check's reply: also builds the app when the handler module has ``get_app`` (this
    library's entry point builds it, handler plugins included, on the first event; a plugin that cannot
    import would fail every event the same way, so the local run finds out before sending any)."""
    get_app = getattr(sys.modules.get(getattr(handler, "__module__", "")), "get_app", None)
    if callable(get_app):
        try:
            get_app()
        except Exception as exc:
            print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
            traceback.print_exception(exc, file=sys.stderr)
            sys.stderr.flush()
            return {"errorType": type(exc).__name__, "errorMessage": str(exc), "init": True}
    return {"ready": True}


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Exit as soon as the process that started this worker is gone (a daemon thread watches it).

    The parent names itself in ``LOCAL_LAMBDA_PARENT_PID``: one that died while this interpreter was
    still starting would otherwise go unseen.
    """
    import threading

    parent = int(os.environ.get("LOCAL_LAMBDA_PARENT_PID") or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    exit_with_parent()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the handler prints goes to the log, not into the protocol
    sys.stdout = sys.stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_dir = Path(os.environ["LOCAL_LAMBDA_CODE_DIR"])
    if not sys.flags.safe_path:
        del sys.path[0]  # this script's own folder
    handler_name = os.environ["LOCAL_LAMBDA_HANDLER"]
    failed: dict[str, Any] | None = None
    try:
        handler = load_handler(code_dir, os.environ.get("LOCAL_LAMBDA_DEPENDENCIES_DIR"), handler_name)
    except Exception as exc:
        failed = init_error(handler_name, exc)
        # One line Lambda-style, then the traceback: the log file says why every invocation fails.
        print(f"[ERROR] {failed['errorType']}: {failed['errorMessage']}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    for line in sys.stdin:
        request = json.loads(line)
        if failed is not None:
            sys.stderr.flush()
            replies.write(json.dumps(failed) + "\n")
            continue
        if request.get("init"):
            replies.write(json.dumps(prepare(handler)) + "\n")
            continue
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
