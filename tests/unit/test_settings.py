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
    assert not s.result_store_active
    assert s.handler_modules == ("handlers",)
    assert s.max_payload_bytes == DEFAULT_MAX_PAYLOAD_BYTES
    assert (s.event_bus_name, s.results_queue_url, s.step_functions_callback_enabled) == (None, None, False)


def test_every_variable() -> None:
    s = Settings.from_env(
        {
            names.RESULTS_BUCKET: "b",
            names.READABLE_LOCATIONS: "s3://b/outputs/, s3://b/extra",
            names.RESULTS_TABLE: "t",
            names.RESULT_TTL_DAYS: "7",
            names.MAX_PAYLOAD_BYTES: "1024",
            names.HANDLER_MODULES: "handlers, my_plugins.billing",
            names.DELIVERY_MODE: "buffered",
            names.RESULT_STORE_ENABLED: "false",
            names.EVENT_BUS_NAME: "default",
            names.RESULTS_QUEUE_URL: "https://sqs/q",
            names.STEP_FUNCTIONS_CALLBACK_ENABLED: "true",
            names.IDEMPOTENCY_TTL_SECONDS: "60",
        }
    )
    assert s.readable_locations == (S3Prefix("b", "outputs/"), S3Prefix("b", "extra/"))
    assert s.handler_modules == ("handlers", "my_plugins.billing")
    assert (s.result_ttl_days, s.max_payload_bytes, s.idempotency_ttl_seconds) == (7, 1024, 60)
    assert s.delivery_mode == "buffered"
    assert s.idempotency_enabled
    assert not s.result_store_active
    assert s.step_functions_callback_enabled
    assert s.event_bus_name == "default"


def test_bucket_alone_makes_the_bucket_readable() -> None:
    assert Settings.from_env({names.RESULTS_BUCKET: "b"}).readable_locations == (S3Prefix("b", ""),)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(
            {
                names.MAX_PAYLOAD_BYTES: "ten",
                names.RESULT_TTL_DAYS: "0",
                names.READABLE_LOCATIONS: "bucket/prefix",
                names.STEP_FUNCTIONS_CALLBACK_ENABLED: "maybe",
                names.DELIVERY_MODE: "carrier-pigeon",
            }
        )
    message = info.value.message
    for name in (
        "MAX_PAYLOAD_BYTES",
        "RESULT_TTL_DAYS",
        "READABLE_LOCATIONS",
        "STEP_FUNCTIONS",
        "DELIVERY_MODE",
    ):
        assert name in message
