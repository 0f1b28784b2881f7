"""Environment variables parsed once into a frozen, typed :class:`Settings`.

Names come from :mod:`sagemaker_async_results.contract` (shared with the stack). Every problem is reported at
once in one :class:`~sagemaker_async_results.runtime.errors.ConfigurationError`, so a misconfigured deployment needs
one fix round, not one per variable.

Built-in destinations are not fields here: each one reads its own variables from
:attr:`Settings.environment` (see :mod:`sagemaker_async_results.runtime.destinations`), so adding a
destination never changes this module.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime.errors import ConfigurationError

DEFAULT_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_RESULT_TTL_DAYS = 30
DEFAULT_IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
#: Records of one SQS batch routed at once (threads: the work is waiting on AWS calls).
DEFAULT_BATCH_CONCURRENCY = 10
DEFAULT_HANDLER_MODULES = ("handlers",)
#: ``lazy`` (default): an S3-resident payload is read only when a handler asks for it, so a missing
#: object fails the record only if a handler reads it; ``head``: every S3-resident payload is checked
#: with ``HeadObject`` before handlers run (one more S3 request per result), so a missing or refused
#: object fails the record even when no handler reads it. See :class:`Settings`.
PAYLOAD_CHECK_ENV = names.PAYLOAD_CHECK
PAYLOAD_CHECKS = ("lazy", "head")
#: Seconds of the invocation's time kept for recording what completed (see
#: :mod:`~sagemaker_async_results.runtime.deadline`); unset: a quarter of the invocation's time at its
#: start, at most 10 s.
DEADLINE_MARGIN_ENV = "DEADLINE_MARGIN_SECONDS"


@dataclass(frozen=True, slots=True)
class S3Prefix:
    """An ``s3://bucket/prefix/`` the function may read.

    The prefix is treated as a folder: ``outputs`` and ``outputs/`` both allow ``outputs/x`` and
    never ``outputs-other/x``.
    """

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Prefix:
        """Parse ``s3://bucket[/prefix]``; raise ``ValueError`` naming what is wrong."""
        if not uri.startswith("s3://"):
            raise ValueError(f"{uri!r} is not an s3://bucket/prefix/ location")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} has no bucket name")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return cls(bucket=bucket, prefix=prefix)

    def contains(self, bucket: str, key: str) -> bool:
        """Whether ``s3://bucket/key`` lies under this prefix."""
        return bucket == self.bucket and key.startswith(self.prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime configuration. Build it with :meth:`from_env`, or directly in tests and the local run.

    Example
    -------
    >>> settings = Settings(readable_locations=(S3Prefix.parse("s3://bucket/outputs/"),), results_table="t")
    >>> settings.idempotency_enabled
    True
    """

    results_bucket: str | None = None
    #: Empty means every S3 read is refused (secure default).
    readable_locations: tuple[S3Prefix, ...] = ()
    #: DynamoDB table for result records and idempotency; ``None`` switches both off.
    results_table: str | None = None
    result_ttl_days: int = DEFAULT_RESULT_TTL_DAYS
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    handler_modules: tuple[str, ...] = DEFAULT_HANDLER_MODULES
    delivery_mode: Literal["direct", "buffered"] = "direct"
    idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS
    batch_concurrency: int = DEFAULT_BATCH_CONCURRENCY
    #: Existence check of S3-resident payloads (``PAYLOAD_CHECK``): ``lazy`` costs no S3 request
    #: unless a handler reads the payload; ``head`` adds a ``HeadObject`` per S3-resident result.
    payload_check: Literal["lazy", "head"] = "lazy"
    #: Time kept for the runtime's own writes before the invocation's deadline (``DEADLINE_MARGIN_SECONDS``);
    #: ``None``: a quarter of the time the invocation had at its start, at most 10 s.
    deadline_margin_seconds: float | None = None
    metrics_namespace: str = field(default=names.METRICS_NAMESPACE)
    #: The variables the settings were read from; destinations read their own ones here. Settings built
    #: directly (tests, benchmarks) have none, so only the result store can be on (it needs a table).
    environment: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )

    @property
    def idempotency_enabled(self) -> bool:
        """Idempotency needs the table; without ``RESULTS_TABLE`` duplicates are routed again."""
        return bool(self.results_table)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the environment (``os.environ`` by default); raise one error listing every problem."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def text(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        def positive_int(name: str, default: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                value = int(raw)
            except ValueError:
                value = -1  # pragma: no mutate (a problem was recorded: the settings are never returned)
            if value <= 0:
                problems.append(f"{name}={raw!r}: expected a positive integer")
                return default
            return value

        bucket = text(names.RESULTS_BUCKET)
        locations: list[S3Prefix] = []
        raw_locations = text(names.READABLE_LOCATIONS)
        if raw_locations is None and bucket:
            raw_locations = f"s3://{bucket}/"
        for item in (raw_locations or "").split(","):
            if item.strip():
                try:
                    locations.append(S3Prefix.parse(item.strip()))
                except ValueError as exc:
                    problems.append(f"{names.READABLE_LOCATIONS}: {exc}")

        modules = tuple(m.strip() for m in (text(names.HANDLER_MODULES) or "").split(",") if m.strip())
        mode = (text(names.DELIVERY_MODE) or "direct").lower()
        if mode not in ("direct", "buffered"):
            problems.append(f"{names.DELIVERY_MODE}={mode!r}: expected direct or buffered")
            mode = "direct"  # pragma: no mutate (a problem was recorded: the settings are never returned)

        check = (text(PAYLOAD_CHECK_ENV) or "lazy").lower()
        if check not in PAYLOAD_CHECKS:
            problems.append(f"{PAYLOAD_CHECK_ENV}={check!r}: expected lazy or head")
            check = "lazy"  # pragma: no mutate (a problem was recorded: the settings are never returned)

        margin: float | None = None
        raw_margin = text(DEADLINE_MARGIN_ENV)
        if raw_margin is not None:
            try:
                margin = float(raw_margin)
            except ValueError:
                margin = -1.0  # pragma: no mutate (a problem was recorded: the settings are never returned)
            if not 0 <= margin < 900:
                problems.append(
                    f"{DEADLINE_MARGIN_ENV}={raw_margin!r}: expected seconds, 0 or more and under 900"
                )
                margin = None

        settings = cls(
            results_bucket=bucket,
            readable_locations=tuple(locations),
            results_table=text(names.RESULTS_TABLE),
            result_ttl_days=positive_int(names.RESULT_TTL_DAYS, DEFAULT_RESULT_TTL_DAYS),
            max_payload_bytes=positive_int(names.MAX_PAYLOAD_BYTES, DEFAULT_MAX_PAYLOAD_BYTES),
            handler_modules=modules or DEFAULT_HANDLER_MODULES,
            delivery_mode="buffered" if mode == "buffered" else "direct",
            idempotency_ttl_seconds=positive_int(
                names.IDEMPOTENCY_TTL_SECONDS, DEFAULT_IDEMPOTENCY_TTL_SECONDS
            ),
            batch_concurrency=positive_int(names.BATCH_CONCURRENCY, DEFAULT_BATCH_CONCURRENCY),
            payload_check="head" if check == "head" else "lazy",
            deadline_margin_seconds=margin,
            metrics_namespace=text("POWERTOOLS_METRICS_NAMESPACE") or names.METRICS_NAMESPACE,
            environment=MappingProxyType(dict(env)),
        )
        if problems:
            raise ConfigurationError(
                "invalid environment: " + "; ".join(problems),
                received={k: env.get(k) for k in _all_names() if k in env},
                expected="see docs/destinations.md for every variable",
            )
        return settings


def _all_names() -> list[str]:
    found = [value for key, value in vars(names).items() if key.isupper() and isinstance(value, str)]
    return [*found, DEADLINE_MARGIN_ENV]
