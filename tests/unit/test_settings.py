"""Environment parsing: defaults, every variable, all problems reported at once."""

from __future__ import annotations

import dataclasses
from typing import get_args, get_type_hints

import pytest

from sagemaker_async_results import contract as names
from sagemaker_async_results.runtime.errors import ConfigurationError
from sagemaker_async_results.runtime.settings import (
    DEFAULT_BATCH_CONCURRENCY,
    DEFAULT_IDEMPOTENCY_TTL_SECONDS,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_RESULT_TTL_DAYS,
    PAYLOAD_CHECK_ENV,
    PAYLOAD_CHECKS,
    S3Prefix,
    Settings,
)


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


def test_documented_defaults() -> None:
    assert DEFAULT_MAX_PAYLOAD_BYTES == 10_485_760
    assert DEFAULT_RESULT_TTL_DAYS == 30
    assert DEFAULT_IDEMPOTENCY_TTL_SECONDS == 86_400
    assert DEFAULT_BATCH_CONCURRENCY == 10
    assert PAYLOAD_CHECK_ENV == "PAYLOAD_CHECK"
    assert PAYLOAD_CHECKS == ("lazy", "head")
    for s in (Settings(), Settings.from_env({})):
        assert s.results_bucket is None
        assert s.readable_locations == ()
        assert s.results_table is None
        assert s.result_ttl_days == 30
        assert s.max_payload_bytes == 10_485_760
        assert s.handler_modules == ("handlers",)
        assert s.delivery_mode == "direct"
        assert s.idempotency_ttl_seconds == 86_400
        assert s.batch_concurrency == 10
        assert s.payload_check == "lazy"
        assert s.metrics_namespace == "SageMakerAsyncResults"
        assert dict(s.environment) == {}
        with pytest.raises(TypeError):
            s.environment["X"] = "y"  # type: ignore[index]


def test_environment_is_neither_shown_nor_compared() -> None:
    with_env = Settings(environment={"SECRET": "hunter2"})
    assert with_env == Settings()
    assert "hunter2" not in repr(with_env)
    assert "environment" not in repr(with_env)
    assert "results_table=None" in repr(with_env)


def test_idempotency_needs_a_table_name() -> None:
    assert Settings(results_table="t").idempotency_enabled is True
    assert Settings(results_table="").idempotency_enabled is False
    assert Settings().idempotency_enabled is False


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(names.RESULTS_TABLE, "from-os")
    monkeypatch.setenv(names.BATCH_CONCURRENCY, "4")
    s = Settings.from_env()
    assert (s.results_table, s.batch_concurrency) == ("from-os", 4)
    assert s.environment[names.RESULTS_TABLE] == "from-os"
    assert Settings.from_env({}).results_table is None  # an explicit mapping is the only source


def test_blank_values_count_as_unset() -> None:
    s = Settings.from_env(
        {
            names.RESULTS_BUCKET: "  ",
            names.RESULTS_TABLE: " ",
            names.RESULT_TTL_DAYS: "  ",
            names.HANDLER_MODULES: " , ,",
            names.DELIVERY_MODE: "",
            PAYLOAD_CHECK_ENV: " ",
            "POWERTOOLS_METRICS_NAMESPACE": " ",
        }
    )
    assert s.results_bucket is None
    assert s.results_table is None
    assert s.readable_locations == ()
    assert s.result_ttl_days == DEFAULT_RESULT_TTL_DAYS
    assert s.handler_modules == ("handlers",)
    assert s.delivery_mode == "direct"
    assert s.payload_check == "lazy"
    assert s.metrics_namespace == "SageMakerAsyncResults"


def test_values_are_stripped() -> None:
    s = Settings.from_env(
        {
            names.RESULTS_BUCKET: " b ",
            names.RESULTS_TABLE: " t ",
            names.MAX_PAYLOAD_BYTES: " 1 ",
            names.DELIVERY_MODE: " Buffered ",
            PAYLOAD_CHECK_ENV: " HEAD ",
        }
    )
    assert (s.results_bucket, s.results_table, s.max_payload_bytes) == ("b", "t", 1)
    assert (s.delivery_mode, s.payload_check) == ("buffered", "head")
    assert s.readable_locations == (S3Prefix("b", ""),)


@pytest.mark.parametrize(
    "name",
    [names.RESULT_TTL_DAYS, names.MAX_PAYLOAD_BYTES, names.IDEMPOTENCY_TTL_SECONDS, names.BATCH_CONCURRENCY],
)
def test_one_is_the_smallest_positive_integer(name: str) -> None:
    s = Settings.from_env({name: "1"})
    assert getattr(s, _FIELDS[name]) == 1
    for bad in ("0", "-1", "1.5", "ten"):
        with pytest.raises(ConfigurationError) as info:
            Settings.from_env({name: bad})
        assert info.value.message == f"invalid environment: {name}={bad!r}: expected a positive integer"


_FIELDS = {
    names.RESULT_TTL_DAYS: "result_ttl_days",
    names.MAX_PAYLOAD_BYTES: "max_payload_bytes",
    names.IDEMPOTENCY_TTL_SECONDS: "idempotency_ttl_seconds",
    names.BATCH_CONCURRENCY: "batch_concurrency",
}


def test_each_count_reads_its_own_variable() -> None:
    s = Settings.from_env({name: str(i) for i, name in enumerate(_FIELDS, start=2)})
    assert [getattr(s, field) for field in _FIELDS.values()] == [2, 3, 4, 5]


def test_readable_locations_list_skips_empty_items_and_wins_over_the_bucket() -> None:
    s = Settings.from_env({names.RESULTS_BUCKET: "b", names.READABLE_LOCATIONS: " s3://x/in ,, ,s3://y"})
    assert s.readable_locations == (S3Prefix("x", "in/"), S3Prefix("y", ""))
    assert s.results_bucket == "b"


def test_delivery_mode_and_payload_check_are_case_insensitive() -> None:
    s = Settings.from_env({names.DELIVERY_MODE: "BUFFERED", PAYLOAD_CHECK_ENV: "Head"})
    assert (s.delivery_mode, s.payload_check) == ("buffered", "head")
    s = Settings.from_env({names.DELIVERY_MODE: "Direct", PAYLOAD_CHECK_ENV: "LAZY"})
    assert (s.delivery_mode, s.payload_check) == ("direct", "lazy")


def test_error_lists_every_problem_in_order() -> None:
    env = {
        names.READABLE_LOCATIONS: "bucket/prefix,s3:///nobucket",
        names.DELIVERY_MODE: "Carrier-Pigeon",
        PAYLOAD_CHECK_ENV: "Always",
        names.RESULT_TTL_DAYS: "0",
    }
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    err = info.value
    assert err.reason == "InvalidConfiguration"
    assert err.message == (
        "invalid environment: "
        "READABLE_LOCATIONS: 'bucket/prefix' is not an s3://bucket/prefix/ location; "
        "READABLE_LOCATIONS: 's3:///nobucket' has no bucket name; "
        "DELIVERY_MODE='carrier-pigeon': expected direct or buffered; "
        "PAYLOAD_CHECK='always': expected lazy or head; "
        "RESULT_TTL_DAYS='0': expected a positive integer"
    )
    assert err.expected == "see docs/destinations.md for every variable"


def test_s3_prefix_parse() -> None:
    assert S3Prefix.parse("s3://b") == S3Prefix("b", "")
    assert S3Prefix.parse("s3://b/") == S3Prefix("b", "")
    assert S3Prefix.parse("s3://b/out") == S3Prefix("b", "out/")
    assert S3Prefix.parse("s3://b/out/") == S3Prefix("b", "out/")
    assert S3Prefix.parse("s3://b/a/b") == S3Prefix("b", "a/b/")
    assert str(S3Prefix.parse("s3://b/out")) == "s3://b/out/"
    assert str(S3Prefix("b")) == "s3://b/"
    with pytest.raises(ValueError, match=r"^'S3://b/' is not an s3://bucket/prefix/ location$"):
        S3Prefix.parse("S3://b/")
    with pytest.raises(ValueError, match=r"^'s3://' has no bucket name$"):
        S3Prefix.parse("s3://")


def test_s3_prefix_is_a_folder_in_one_bucket() -> None:
    prefix = S3Prefix.parse("s3://b/outputs")
    assert prefix.contains("b", "outputs/x")
    assert prefix.contains("b", "outputs/")
    assert not prefix.contains("b", "outputs-other/x")
    assert not prefix.contains("b", "outputs")
    assert not prefix.contains("other", "outputs/x")
    assert not prefix.contains("b", "in/x")
    whole = S3Prefix("b")
    assert whole.contains("b", "anything")
    assert not whole.contains("bb", "anything")


def test_error_shows_the_contract_variables_that_were_set_and_nothing_else() -> None:
    env = {
        PAYLOAD_CHECK_ENV: "always",
        names.EVENT_BUS_NAME: "bus",
        "UNRELATED_VARIABLE": "not reported",
    }
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    assert info.value.received == repr({names.EVENT_BUS_NAME: "bus", PAYLOAD_CHECK_ENV: "always"})


def test_settings_and_prefixes_are_immutable_and_carry_no_instance_dict() -> None:
    for value, attribute in ((Settings(), "results_table"), (S3Prefix("b"), "prefix")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(value, attribute, "changed")
        assert not hasattr(value, "__dict__")


def test_field_types_name_the_accepted_values() -> None:
    hints = get_type_hints(Settings)
    assert hints["results_bucket"] == str | None
    assert hints["results_table"] == str | None
    assert get_args(hints["delivery_mode"]) == ("direct", "buffered")
    assert get_args(hints["payload_check"]) == PAYLOAD_CHECKS
