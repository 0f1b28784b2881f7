"""The local Lambda runtime without a stack: handler load failures, Ctrl-C, and bundled dependencies
installed for this machine (pure Python and native) instead of the user's environment.

The dependency tests install small packages from the package index into a temporary cache (pip's own
cache keeps them fast after the first run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sagemaker_async_results import contract
from sagemaker_async_results.local.host_dependencies import asset_pins, host_dependencies
from sagemaker_async_results.local.lambda_runtime import FunctionSpec, LocalFunction


def _function(code_dir: Path, log_dir: Path, handler: str = "app.handler", **spec: object) -> LocalFunction:
    return LocalFunction(
        FunctionSpec(
            name="probe-fn",
            arn="arn:aws:lambda:us-east-1:123456789012:function:probe-fn",
            handler=handler,
            environment={},
            code_dir=code_dir,
            timeout_seconds=30,
            **spec,  # type: ignore[arg-type]
        ),
        {"AWS_REGION": "us-east-1"},
        log_dir,
    )


def _dist_info(code_dir: Path, name: str, version: str) -> None:
    info = code_dir / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody: x\n")


def test_a_handler_that_cannot_load_fails_its_check_with_the_reason_in_the_log(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "import a_package_nobody_installed\n\ndef handler(event, context):\n    return 1\n"
    )
    function = _function(code, tmp_path / "logs")
    try:
        started = time.monotonic()
        checked = function.check()
        assert time.monotonic() - started < 20
        assert checked.init_failed
        assert checked.error_type == "Runtime.ImportModuleError"
        assert checked.error_message == (
            "Unable to import module 'app': ModuleNotFoundError: No module named 'a_package_nobody_installed'"
        )
        assert function.init_error == f"Runtime.ImportModuleError: {checked.error_message}"
        # Every invocation then fails the same way, as on Lambda, and none counts as a run of the handler.
        invoked = function.invoke({"Records": []})
        assert (invoked.error_type, invoked.init_failed) == ("Runtime.ImportModuleError", True)
    finally:
        function.close()
    log = function.log_path.read_text()
    assert log.startswith(f"[ERROR] Runtime.ImportModuleError: {checked.error_message}\n"), log
    assert "Traceback (most recent call last)" in log


def test_a_missing_handler_function_is_lambdas_handler_not_found(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def other(event, context):\n    return 1\n")
    function = _function(code, tmp_path / "logs")
    try:
        checked = function.check()
    finally:
        function.close()
    assert checked.error_type == "Runtime.HandlerNotFound"
    assert "has no attribute 'handler'" in str(checked.error_message)


def test_ctrl_c_leaves_no_keyboard_interrupt_traceback_in_the_log(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    function = _function(code, tmp_path / "logs")
    try:
        assert function.check().ok
        process = function._environments[0]._process
        assert process is not None
        os.kill(process.pid, signal.SIGINT)  # what Ctrl-C sends to the whole foreground process group
        time.sleep(0.5)
        assert process.poll() is None, "the worker must outlive Ctrl-C; the parent ends it"
        assert function.invoke({"n": 1}).payload == {"n": 1}
    finally:
        function.close()
    assert "KeyboardInterrupt" not in function.log_path.read_text()


def test_asset_pins_are_read_from_the_bundled_dist_info_folders(tmp_path: Path) -> None:
    _dist_info(tmp_path, "pydantic-core", "2.50.4")
    _dist_info(tmp_path, "six", "1.17.0")
    (tmp_path / "handlers").mkdir()
    assert asset_pins(tmp_path) == ["pydantic-core==2.50.4", "six==1.17.0"]
    assert asset_pins(tmp_path / "handlers") == []


@pytest.mark.slow
def test_a_native_handler_requirement_bundled_for_lambda_runs_locally_with_this_machines_build(
    tmp_path: Path,
) -> None:
    """A handler folder requiring orjson: bundled for Lambda (arm64), it cannot load here; the local run
    installs the same pin for this machine and runs the function isolated from this interpreter's
    packages (which do not have orjson, nor should they need it)."""
    code = tmp_path / "code"
    code.mkdir()
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
    lambda_platform = ["--only-binary=:all:", "--platform", contract.LAMBDA_WHEEL_PLATFORM]
    lambda_platform += ["--implementation", "cp", "--python-version", contract.LAMBDA_PYTHON_VERSION]
    bundled = subprocess.run(
        [*pip, *lambda_platform, "--target", str(code), "orjson==3.11.4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bundled.returncode == 0, bundled.stderr
    (code / "app.py").write_text(
        "import sys, orjson\n\n"
        "def handler(event, context):\n"
        "    return {'dumped': orjson.dumps(event).decode(), 'from': orjson.__file__,\n"
        "            'site': [p for p in sys.path if 'site-packages' in p]}\n"
    )
    assert asset_pins(code) == ["orjson==3.11.4"]
    cache = tmp_path / "cache"
    installed = host_dependencies(code, cache)
    assert installed is not None
    assert host_dependencies(code, cache) == installed  # cached by the pins' hash: no second install
    function = _function(code, tmp_path / "logs", dependencies_dir=installed)
    try:
        result = function.invoke({"a": [1, 2]})
    finally:
        function.close()
    assert result.ok, (result.error_type, result.error_message, function.log_path.read_text())
    assert result.payload["dumped"] == '{"a":[1,2]}'
    assert result.payload["from"].startswith(str(installed))
    assert result.payload["site"] == []  # never the user's environment


def test_nothing_bundled_means_no_install_and_the_interpreters_packages(tmp_path: Path) -> None:
    (tmp_path / "handlers").mkdir()
    assert host_dependencies(tmp_path, tmp_path / "cache") is None
    assert not (tmp_path / "cache").exists()


def test_the_check_builds_the_app_so_a_plugin_that_cannot_import_fails_before_any_event(
    tmp_path: Path,
) -> None:
    """This library's entry point builds its app (plugins) on the first event; the check builds it first."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "def get_app():\n"
        "    raise RuntimeError('cannot load handler plugins: handlers.x: cannot import')\n\n"
        "def handler(event, context):\n"
        "    return get_app()\n"
    )
    function = _function(code, tmp_path / "logs")
    try:
        checked = function.check()
    finally:
        function.close()
    assert (checked.init_failed, checked.error_type) == (True, "RuntimeError")
    assert function.init_error == "RuntimeError: cannot load handler plugins: handlers.x: cannot import"
    log = function.log_path.read_text()
    assert "[ERROR] RuntimeError: cannot load handler plugins" in log
    assert "Traceback (most recent call last)" in log


def _pid_alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def test_closing_the_local_run_stops_a_worker_still_inside_an_invocation(tmp_path: Path) -> None:
    """A handler that never returns (a hung call, a retry loop) must not outlive the local run."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import time\n\ndef handler(event, context):\n    time.sleep(600)\n")
    function = _function(code, tmp_path / "logs")
    import threading

    invocation = threading.Thread(target=function.invoke, args=({},), daemon=True)
    invocation.start()
    deadline = time.monotonic() + 30
    while not function._environments or not function._environments[0].running:
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.05)
    process = function._environments[0]._process
    assert process is not None
    started = time.monotonic()
    function.close(grace_seconds=0.5)
    assert process.poll() is not None, "the busy worker was killed after the grace period"
    assert time.monotonic() - started < 10
    invocation.join(10)
    assert not invocation.is_alive()


def test_a_worker_whose_parent_dies_mid_invocation_exits(tmp_path: Path) -> None:
    """The local run killed (kill -9, a crashed terminal) leaves no worker running a handler behind."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import time\n\ndef handler(event, context):\n    time.sleep(600)\n")
    parent = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "sys.path[:0] = [p for p in sys.argv[3:]]\n"
        "from tests.integration.test_local_functions import _function\n"
        "function = _function(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "threading.Thread(target=function.invoke, args=({},), daemon=True).start()\n"
        "import time\n"
        "while not function._environments or not function._environments[0].running: time.sleep(0.05)\n"
        "print(function._environments[0]._process.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    root = Path(__file__).resolve().parents[2]
    started = subprocess.Popen(
        [sys.executable, "-c", parent, str(code), str(tmp_path / "logs"), str(root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert started.stdout is not None
        worker = int(started.stdout.readline())
        assert _pid_alive(worker)
    finally:
        started.kill()
        started.wait()
    deadline = time.monotonic() + 10
    while _pid_alive(worker):
        assert time.monotonic() < deadline, f"worker {worker} outlived its parent by 10 s"
        time.sleep(0.1)
