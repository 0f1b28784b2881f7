"""A local Lambda runtime: runs a deployed function's real handler in its own process.

moto stores Lambda functions but needs Docker to run them. Here each deployed function gets a worker
process, like a Lambda execution environment: its handler is found from the deployed handler string,
its environment is the deployed function's environment (plus the emulator's endpoint), its code is the
deployed asset, and its logs go to a file (the local CloudWatch Logs).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_async_results.local.emulator import clean_environment

#: By path, not ``-m``: importing this package first would shadow the asset's copy of the runtime.
_WORKER = [sys.executable, str(Path(__file__).with_name("lambda_worker.py"))]


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runtime needs of a deployed function (from ``GetFunction`` and the template)."""

    name: str
    arn: str
    handler: str
    environment: dict[str, str]
    code_dir: Path
    timeout_seconds: int = 60
    memory_mb: int = 512


@dataclass
class InvokeResult:
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def ok(self) -> bool:
        return self.error_type is None


class LocalFunction:
    """One warm execution environment for a function; invocations are serialised like Lambda's."""

    def __init__(self, spec: FunctionSpec, aws_environment: dict[str, str], log_dir: Path) -> None:
        self.spec = spec
        # Like Lambda, the worker sees its function's environment and the emulator's, never the AWS_*
        # settings (profile, credentials, endpoints) of the shell that started the local run.
        self._environment = {**clean_environment(), **spec.environment, **aws_environment}
        self._environment.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "LOCAL_LAMBDA_HANDLER": spec.handler,
                "LOCAL_LAMBDA_CODE_DIR": str(spec.code_dir),
                "LOCAL_LAMBDA_FUNCTION_ARN": spec.arn,
                # Lambda's task root holds the code; the caller's own path must not leak into it.
                "PYTHONPATH": "",
            }
        )
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{spec.name}.log"
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self.invocations = 0

    def _start(self) -> subprocess.Popen[str]:
        log = self.log_path.open("a")
        process = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter and our worker module
            _WORKER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=self._environment,
            text=True,
            bufsize=1,
        )
        log.close()
        return process

    def invoke(self, event: Any) -> InvokeResult:
        """Run the handler once with ``event``; a crash or a timeout restarts the environment."""
        request_id = str(uuid.uuid4())
        with self._lock:
            self.invocations += 1
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            process = self._process
            assert process.stdin is not None
            assert process.stdout is not None
            request = {"event": event, "requestId": request_id, "timeoutMs": self.spec.timeout_seconds * 1000}
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            timer = threading.Timer(self.spec.timeout_seconds, process.kill)
            timer.start()
            try:
                line = process.stdout.readline()
            finally:
                timer.cancel()
            if not line:
                self._process = None
                process.wait()
                return InvokeResult(
                    error_type="Runtime.ExitError" if process.returncode else "Sandbox.Timedout",
                    error_message=f"Task timed out or exited (code {process.returncode})",
                    request_id=request_id,
                )
        reply = json.loads(line)
        return InvokeResult(
            payload=reply.get("result"),
            error_type=reply.get("errorType"),
            error_message=reply.get("errorMessage"),
            request_id=request_id,
        )

    def close(self) -> None:
        with self._lock:
            if self._process and self._process.poll() is None:
                assert self._process.stdin is not None
                self._process.stdin.close()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
            self._process = None
