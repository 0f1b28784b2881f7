"""A local Lambda runtime: runs a deployed function's real handler in its own processes.

moto stores Lambda functions but needs Docker to run them. Here each execution environment of a deployed
function is a worker process: its handler is found from the deployed handler string, its environment is
the deployed function's environment (plus the emulator's endpoint), its code is the deployed asset, and
its logs go to a file (the local CloudWatch Logs). As on Lambda, a function runs several invocations at
once, one per environment, each environment one invocation at a time; environments start on demand
(a cold start) and stay warm, up to the function's concurrency limit.

A bundled asset's dependencies are built for Lambda's platform; the worker then runs isolated from the
interpreter's site-packages (``python -I -S``) with this machine's install of the same pins first on its
path (see :mod:`sagemaker_async_results.local.host_dependencies`), so it sees exactly what the Lambda
function gets, whatever pip resolved in the user's environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_async_results.local.emulator import clean_environment

#: Concurrent executions of a function whose template sets no ``ReservedConcurrentExecutions``. Lambda
#: would scale to the account's limit (1,000 by default); a local run keeps at most this many worker
#: processes per function, a few times the cores of a laptop.
LOCAL_DEFAULT_CONCURRENCY = 4
#: By path, not ``-m``: importing this package first would shadow the asset's copy of the runtime.
_WORKER_SCRIPT = str(Path(__file__).with_name("lambda_worker.py"))


def worker_command(dependencies_dir: Path | None) -> list[str]:
    """The worker's argv: isolated from the interpreter's packages when the asset brings its own."""
    if dependencies_dir is None:
        return [sys.executable, _WORKER_SCRIPT]
    return [sys.executable, "-I", "-S", _WORKER_SCRIPT]


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
    #: At most this many invocations at once (the template's reserved concurrency, else the local default).
    max_concurrency: int = LOCAL_DEFAULT_CONCURRENCY
    #: This machine's install of the asset's bundled pins (``None``: the asset bundles none).
    dependencies_dir: Path | None = None


@dataclass
class InvokeResult:
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: The handler could not be loaded (Lambda's init phase failed), so no event reached it.
    init_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.error_type is None


class _ExecutionEnvironment:
    """One worker process: runs one invocation at a time; a crash or a timeout ends it."""

    def __init__(self, command: list[str], environment: dict[str, str], log_path: Path) -> None:
        self._command, self._environment, self._log_path = command, environment, log_path
        self._process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        log = self._log_path.open("a")
        process = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter and our worker module
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=self._environment,
            text=True,
            bufsize=1,
        )
        log.close()
        return process

    def invoke(self, request: dict[str, Any], timeout_seconds: float) -> tuple[str | None, int | None]:
        """``(reply line, None)``, or ``(None, exit code)`` when the worker exited or was killed."""
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        process = self._process
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            line = ""
        else:
            timer = threading.Timer(timeout_seconds, process.kill)
            timer.start()
            try:
                line = process.stdout.readline()
            finally:
                timer.cancel()
        if not line:
            self._process = None
            return None, process.wait()
        return line, None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def close(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalFunction:
    """The execution environments of one function: up to ``spec.max_concurrency`` invocations at once.

    An invocation takes a warm idle environment, or starts one while the function is below its limit,
    or waits for one to be free (Lambda would throttle; its event sources retry, so waiting is what the
    caller of a local run sees).
    """

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
                "LOCAL_LAMBDA_DEPENDENCIES_DIR": str(spec.dependencies_dir or ""),
                "LOCAL_LAMBDA_PARENT_PID": str(os.getpid()),
                # Lambda's task root holds the code; the caller's own path must not leak into it.
                "PYTHONPATH": "",
            }
        )
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{spec.name}.log"
        self._condition = threading.Condition()
        self._environments: list[_ExecutionEnvironment] = []
        self._idle: list[_ExecutionEnvironment] = []
        self._running = 0
        self._closed = False
        self.invocations = 0
        #: The most invocations that ran at once.
        self.peak_concurrency = 0
        #: ``"<errorType>: <errorMessage>"`` once an environment failed to load the handler.
        self.init_error: str | None = None
        self._command = worker_command(spec.dependencies_dir)

    @property
    def max_concurrency(self) -> int:
        return max(1, self.spec.max_concurrency)

    def _acquire(self, count: bool = True) -> _ExecutionEnvironment:
        with self._condition:
            while not self._idle and len(self._environments) >= self.max_concurrency and not self._closed:
                self._condition.wait()
            if self._closed:
                raise RuntimeError(f"function {self.spec.name} is shut down")
            if self._idle:
                environment = self._idle.pop()
            else:
                environment = _ExecutionEnvironment(self._command, self._environment, self.log_path)
                self._environments.append(environment)
            self.invocations += count
            self._running += 1
            self.peak_concurrency = max(self.peak_concurrency, self._running)
            return environment

    def _release(self, environment: _ExecutionEnvironment) -> None:
        with self._condition:
            self._running -= 1
            if self._closed:
                environment.close(timeout=0)
            else:
                self._idle.append(environment)
            self._condition.notify_all()

    def check(self) -> InvokeResult:
        """Start an execution environment and load the handler (Lambda's init phase), with no event.

        The local run does this before it sends anything, so a handler that cannot load fails fast with
        its reason (also in the function's log file) instead of failing every delivery.
        """
        return self._run({"init": True}, count=False)

    def invoke(self, event: Any) -> InvokeResult:
        """Run the handler once with ``event``; a crash or a timeout restarts that environment."""
        return self._run({"event": event})

    def _run(self, request: dict[str, Any], count: bool = True) -> InvokeResult:
        request_id = str(uuid.uuid4())
        environment = self._acquire(count)
        try:
            request = {**request, "requestId": request_id, "timeoutMs": self.spec.timeout_seconds * 1000}
            line, code = environment.invoke(request, self.spec.timeout_seconds)
            if line is None:
                return InvokeResult(
                    error_type="Runtime.ExitError" if code else "Sandbox.Timedout",
                    error_message=f"Task timed out or exited (code {code})",
                    request_id=request_id,
                )
        finally:
            self._release(environment)
        reply = json.loads(line)
        result = InvokeResult(
            payload=reply.get("result"),
            error_type=reply.get("errorType"),
            error_message=reply.get("errorMessage"),
            request_id=request_id,
            init_failed=bool(reply.get("init")),
        )
        if result.init_failed:
            self.init_error = f"{result.error_type}: {result.error_message}"
        return result

    def close(self, grace_seconds: float = 5.0) -> None:
        """Stop every idle environment now; one still running an invocation gets ``grace_seconds`` to
        return, then is killed (the local run is ending: nobody waits for its reply)."""
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._condition.notify_all()
        for environment in idle:
            environment.close()
        with self._condition:
            self._condition.wait_for(lambda: self._running == 0, timeout=grace_seconds)
            busy = [environment for environment in self._environments if environment.running]
        for environment in busy:
            environment.kill()
