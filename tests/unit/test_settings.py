"""Environment parsing: defaults, every variable, all problems reported at once."""

from __future__ import annotations

import pytest

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.settings import DEFAULT_MAX_PAYLOAD_BYTES, S3Prefix, Settings


def test_defaults_are_secure_and_off() -> None:
    s = Settings.from_env({})
    assert s.readable_locations == ()  # every read refused
    assert s.results_table is None
    assert not s.idempotency_enabled
    assert s.handler_modules == ("handlers",)
    assert s.max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES
    assert dict(s.environment) == {}


def test_every_variable() -> None:
    env = {
        names.RESULTS_BUCKET: "b",
        names.READABLE_LOCATIONS: "s3://b/outputs/, s3://b/extra",
        names.RESULTS_TABLE: "t",
        names.RESULT_TTL_DAYS: "7",
        names.MAX_PAYLOAD_BYTES: "1024",
        names.HANDLER_MODULES: "handlers, my_plugins.billing",
        names.DELIVERY_MODE: "buffered",
        names.IDEMPOTENCY_TTL_SECONDS: "60",
        names.BATCH_CONCURRENCY: "3",
        "POWERTOOLS_METRICS_NAMESPACE": "Custom",
    }
    s = Settings.from_env(env)
    assert s.readable_locations == (S3Prefix("b", "outputs/"), S3Prefix("b", "extra/"))
    assert s.handler_modules == ("handlers", "my_plugins.billing")
    assert (s.result_ttl_days, s.max_payload_bytes, s.idempotency_ttl_seconds) == (7, 1024, 60)
    assert (s.batch_concurrency, s.metrics_namespace) == (3, "Custom")
    assert s.delivery_mode == "buffered"
    assert s.idempotency_enabled


def test_environment_is_a_read_only_snapshot_for_destinations() -> None:
    env = {names.EVENT_BUS_NAME: "bus"}
    s = Settings.from_env(env)
    env[names.EVENT_BUS_NAME] = "changed later"
    assert s.environment[names.EVENT_BUS_NAME] == "bus"
    with pytest.raises(TypeError):
        s.environment[names.EVENT_BUS_NAME] = "x"  # type: ignore[index]
    assert "bus" not in repr(s)  # the environment may hold secrets: never logged through repr


def test_settings_have_no_field_per_destination() -> None:
    fields = set(Settings.__dataclass_fields__)
    assert not fields & {"event_bus_name", "results_queue_url", "step_functions_callback_enabled"}


def test_bucket_alone_makes_the_bucket_readable() -> None:
    assert Settings.from_env({names.RESULTS_BUCKET: "b"}).readable_locations == (S3Prefix("b", ""),)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(
            {
                names.MAX_PAYLOAD_BYTES: "ten",
                names.RESULT_TTL_DAYS: "0",
                names.READABLE_LOCATIONS: "bucket/prefix",
                names.DELIVERY_MODE: "carrier-pigeon",
            }
        )
    message = info.value.message
    for name in ("MAX_PAYLOAD_BYTES", "RESULT_TTL_DAYS", "READABLE_LOCATIONS", "DELIVERY_MODE"):
        assert name in message
