"""Where AWS calls go: the embedded moto server (default), a real account, or another endpoint.

Every boto3 client of a local run is created from an :class:`AwsTarget`, so the same code talks to the
emulator over HTTP exactly as it would talk to AWS.
"""

from __future__ import annotations

import copy
import os
import socket
import threading
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

#: Credentials the emulator accepts; never valid anywhere else.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_REGION = "us-east-1"
#: AWS configuration a local run must never read: a stray ``AWS_PROFILE`` would make boto3 raise
#: ``ProfileNotFound`` (or worse, find real credentials) even when the fake ones are passed explicitly.
ISOLATED_CONFIG = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


def clean_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default ``os.environ``) without any ``AWS_*`` variable, for processes of a local run.

    Profiles, credentials, role settings and endpoint overrides of the user's shell all start with
    ``AWS_``; the local run sets the few it needs itself (:meth:`AwsTarget.environment`).
    """
    source = os.environ if environ is None else environ
    return {key: value for key, value in source.items() if not key.startswith("AWS_")}


def isolated_session(region: str, credentials: Mapping[str, str] | None = None) -> boto3.Session:
    """A boto3 session with the emulator's fake credentials (or ``credentials``, a role's) that ignores
    the user's AWS configuration.

    ``boto3.Session(aws_access_key_id=...)`` still reads ``AWS_PROFILE`` and the config file, so a
    missing profile breaks it; here no profile is read and both files are empty.
    """
    import botocore.session

    unused = "SAGEMAKER_ASYNC_RESULTS_LOCAL_UNUSED"  # an environment variable name nobody sets
    core = botocore.session.Session(
        session_vars={
            "profile": (None, unused, None, None),
            "config_file": (None, unused, os.devnull, None),
            "credentials_file": (None, unused, os.devnull, None),
        }
    )
    keys = credentials or FAKE_CREDENTIALS
    return boto3.Session(
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
        region_name=region,
        botocore_session=core,
    )


@dataclass(frozen=True)
class AwsTarget:
    """An AWS-compatible endpoint (``endpoint_url``) or, when it is ``None``, real AWS."""

    endpoint_url: str | None
    region: str = DEFAULT_REGION
    #: Per-service endpoint overrides, e.g. ``{"sagemaker-runtime": "http://127.0.0.1:9000"}``.
    service_endpoints: dict[str, str] = field(default_factory=dict)
    #: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` of a role assumed in the
    #: emulator (see :meth:`as_role`); ``None``: the emulator's own credentials (an administrator).
    credentials: Mapping[str, str] | None = None

    @property
    def is_local(self) -> bool:
        return self.endpoint_url is not None

    def session(self) -> boto3.Session:
        if self.is_local:
            return isolated_session(self.region, self.credentials)
        return boto3.Session(region_name=self.region)

    def as_role(self, credentials: Mapping[str, str] | None) -> AwsTarget:
        """This target with the credentials of a role assumed in the emulator (``None``: unchanged)."""
        if credentials is None:
            return self
        return AwsTarget(self.endpoint_url, self.region, dict(self.service_endpoints), dict(credentials))

    def client(self, service: str, **kwargs: Any) -> Any:
        endpoint = self.service_endpoints.get(service, self.endpoint_url)
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        return self.session().client(service, endpoint_url=endpoint, config=config, **kwargs)  # type: ignore[call-overload]

    def environment(self) -> dict[str, str]:
        """Environment variables that point any boto3 process (a Lambda worker, the CLI) at this target.

        For a local target they also cut the process off from the user's AWS configuration: fake
        credentials, no profile, and empty config and credentials files (see :func:`clean_environment`).
        """
        env = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        if self.is_local:
            env.update(self.credentials or FAKE_CREDENTIALS)
            env.update(ISOLATED_CONFIG)
            env["AWS_ENDPOINT_URL"] = str(self.endpoint_url)
        for service, url in self.service_endpoints.items():
            env[f"AWS_ENDPOINT_URL_{service.upper().replace('-', '_')}"] = url
        return env

    def with_service_endpoints(self, endpoints: dict[str, str]) -> AwsTarget:
        return AwsTarget(
            self.endpoint_url, self.region, {**self.service_endpoints, **endpoints}, self.credentials
        )


def free_port() -> int:
    """A free TCP port on loopback (the emulator never listens on any other address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def embedded_aws(
    region: str = DEFAULT_REGION, *, own_process: bool = False, enforce_iam: bool = False
) -> Iterator[AwsTarget]:
    """Run moto's server on loopback for the duration of the block.

    ``own_process`` runs it in a child process instead of a thread of this one, so that the emulator's
    CPU is not this process's (as AWS's services do not share the caller's CPU; used by the benchmark
    that awaits 1,000 requests, where both are busy). The same patches apply in either.

    ``enforce_iam`` makes the emulator authorize every request that is not signed with its own
    credentials against the caller's policies and the resource's policy (see
    :mod:`sagemaker_async_results.local.iam`); the local run switches it on unless ``--no-iam``.
    """
    if own_process:
        with _moto_process(enforce_iam=enforce_iam) as url:
            yield AwsTarget(endpoint_url=url, region=region)
        return
    with _patched_server(0, enforce_iam=enforce_iam) as url:
        # moto's state is process-wide: start from a clean account, as a new AWS account would be.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))  # noqa: S310 - loopback
        yield AwsTarget(endpoint_url=url, region=region)


#: Process id of each running own-process emulator by its URL (benchmarks read its CPU time).
_EMULATOR_PIDS: dict[str, int] = {}


def emulator_pid(url: str | None) -> int | None:
    """The process id of the own-process emulator serving ``url``; ``None`` for an in-process one."""
    return _EMULATOR_PIDS.get(url or "")


@contextmanager
def _moto_process(startup_timeout: float = 60.0, *, enforce_iam: bool = False) -> Iterator[str]:
    """The embedded emulator in a child process (see :func:`serve_emulator`); stopped by closing its stdin."""
    import subprocess
    import sys
    import time

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - this interpreter and this module
        [
            sys.executable,
            "-c",
            f"from {__name__} import serve_emulator; serve_emulator({port}, {enforce_iam!r})",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**clean_environment(), **ISOLATED_CONFIG},
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start on {url}") from None
                time.sleep(0.1)
        _EMULATOR_PIDS[url] = process.pid
        yield url
    finally:
        _EMULATOR_PIDS.pop(url, None)
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_emulator(port: int, enforce_iam: bool = False) -> None:
    """The child process of ``embedded_aws(own_process=True)``: serve until stdin closes."""
    import logging
    import sys

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto").setLevel(logging.ERROR)
    with _patched_server(port, enforce_iam=enforce_iam):
        sys.stdin.read()


@contextmanager
def _patched_server(port: int, *, enforce_iam: bool = False) -> Iterator[str]:
    """moto's threaded server on ``127.0.0.1:port`` (0: any free port), patched for the local run."""
    from moto.server import ThreadedMotoServer

    from sagemaker_async_results.local import iam
    from sagemaker_async_results.local.moto_speedups import speed_up_embedded_moto

    speed_up_embedded_moto()  # also in a child process of its own (``own_process``)
    _honour_endpoint_names()
    _transactions_copy_only_their_items()
    from sagemaker_async_results.local.sagemaker_api import support_update_endpoint

    support_update_endpoint()  # moto has no UpdateEndpoint: attach/detach and the SDKs call it
    with _without_user_profile(), iam.install(enforce_iam):
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        host, bound = server.get_host_and_port()
        try:
            yield f"http://{host}:{bound}"
        finally:
            server.stop()


@contextmanager
def _without_user_profile() -> Iterator[None]:
    """Hide the user's AWS profile and files from this process while the embedded emulator runs.

    moto serves requests in this process and creates boto3 sessions of its own, which read
    ``AWS_PROFILE``: a profile that does not exist here would fail every such request.
    """
    hidden = {
        name: os.environ.pop(name) for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE") if name in os.environ
    }
    replaced = {name: os.environ.get(name) for name in ISOLATED_CONFIG}
    os.environ.update(ISOLATED_CONFIG)
    try:
        yield
    finally:
        os.environ.update(hidden)
        for name, value in replaced.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _honour_endpoint_names() -> None:
    """Make the in-process moto name ``AWS::SageMaker::Endpoint`` resources by their ``EndpointName``.

    moto's CloudFormation generates ``<stack>-<logicalId>-<random>`` for SageMaker endpoints; CloudFormation
    uses ``EndpointName`` when the template sets it. (Against an external emulator the deployer renames
    the endpoint through the SageMaker API instead; see :mod:`sagemaker_async_results.local.deploy`.)
    """
    from moto.sagemaker.models import FakeEndpoint

    FakeEndpoint.cloudformation_name_type = staticmethod(lambda: "EndpointName")  # type: ignore[method-assign]


def target_from_environment(region: str | None = None) -> AwsTarget:
    """Real AWS, or an AWS-compatible endpoint named by ``AWS_ENDPOINT_URL`` (as boto3 itself reads it)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    services = {
        name: os.environ[var]
        for name, var in (
            ("sagemaker-runtime", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"),
            ("lambda", "AWS_ENDPOINT_URL_LAMBDA"),
        )
        if var in os.environ
    }
    return AwsTarget(endpoint_url=endpoint, region=region, service_endpoints=services)


#: Serialises moto's DynamoDB writes, scans and queries: DynamoDB transactions are isolated from other
#: writes, and moto's dictionaries must not change under a scan of another request thread.
_DYNAMODB_LOCK = threading.RLock()


class _TablesNotCopied:
    """``copy`` for moto's DynamoDB module: a whole ``Table`` is returned as is, anything else copied.

    moto backs a transaction up by deep-copying every table it writes, so one ``TransactWriteItems``
    costs time proportional to the table (90 ms at 2,000 items, 180 ms at 3,000 on this machine; AWS's
    does not grow with the table). The transaction wrapper backs up only the items it names instead.
    """

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _transactions_copy_only_their_items() -> None:
    """Make the in-process moto's ``TransactWriteItems`` cost per item, not per table, and thread-safe.

    The local Lambda runtime runs several executions of a function at once (as Lambda does); each
    completes its batch with a ``TransactWriteItems``. moto's own transaction deep-copies whole tables
    (see :class:`_TablesNotCopied`) without a lock: under concurrent writes the copy fails ("dictionary
    changed size during iteration") and its rollback would restore a stale table over other requests'
    writes. Here a transaction holds a lock shared with moto's other DynamoDB writes, scans and
    queries, and backs up (and on failure restores) only the items it names.
    """
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    backend_type: Any = models.DynamoDBBackend
    if getattr(backend_type, "_local_run_patched", False):
        return
    models.copy = _TablesNotCopied(Table)  # type: ignore[assignment]
    transact = backend_type.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _DYNAMODB_LOCK:
            backups = _item_backups(self, transact_items)
            try:
                transact(self, transact_items)
            except Exception:
                _restore_items(self, backups)
                raise

    backend_type.transact_write_items = transact_write_items
    for name in ("put_item", "update_item", "delete_item", "query", "scan"):
        setattr(backend_type, name, _locked(getattr(backend_type, name)))
    backend_type._local_run_patched = True


def _locked(method: Any) -> Any:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_LOCK:
            return method(self, *args, **kwargs)

    call.__name__ = method.__name__
    call.__doc__ = method.__doc__
    return call


def _item_backups(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """``(table, hash key, range key, copy of the item or None)`` for each item the transaction names."""
    backups = []
    for entry in transact_items:
        try:
            operation, request = next(iter(entry.items()))
            table = backend.get_table(request["TableName"])
            if operation == "Put":
                attributes = request["Item"]
                key = {table.hash_key_attr: attributes[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attributes[table.range_key_attr]
            else:
                key = request["Key"]
            hash_key, range_key = backend.get_keys_value(table, key)
            current = table.get_item(hash_key, range_key)
        except Exception:  # noqa: S112 - a malformed entry: moto's own validation reports it
            continue
        backups.append((table, hash_key, range_key, copy.deepcopy(current)))
    return backups


def _restore_items(backend: Any, backups: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(backups):
        if range_key is not None:
            if item is None:
                table.items.get(hash_key, {}).pop(range_key, None)
            else:
                table.items[hash_key][range_key] = item
        elif item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
