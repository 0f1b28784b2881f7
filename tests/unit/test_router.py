"""Router matching rules and the documented matching order."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Router
from sagemaker_async_results.runtime.testing import notification


def make_result(**kwargs: Any) -> InferenceResult:
    kwargs.setdefault("output_location", "s3://bucket/out/x.out")
    n = parse_notification(notification(**kwargs))
    assert isinstance(n, InferenceResultNotification)

    def no_s3() -> Any:
        raise AssertionError("routing must not touch S3")

    payload = Payload(inline=None, location=None, guard=LocationGuard(()), s3_client=no_s3, max_bytes=10)
    return InferenceResult(n, payload)


def names(router: Router, result: InferenceResult) -> list[str]:
    return [route.name for route in router.resolve(result)]


def test_decorators_return_the_function_unchanged() -> None:
    router = Router()

    def handler(result: InferenceResult) -> str:
        return "x"

    for decorator in (router.on_success(), router.on_failure(), router.on_result()):
        assert decorator(handler) is handler

    def on_error(exc: Exception, result: InferenceResult) -> None: ...

    assert router.exception_handler(ValueError)(on_error) is on_error
    assert len(router.registry.routes) == 3


def test_status_specific_handlers_run_before_on_result_then_registration_order() -> None:
    router = Router()
    router.on_result(name="any-1")(lambda r: None)
    router.on_success(name="ok-1")(lambda r: None)
    router.on_failure(name="failed-1")(lambda r: None)
    router.on_result(name="any-2")(lambda r: None)
    router.on_success(name="ok-2")(lambda r: None)

    assert names(router, make_result()) == ["ok-1", "ok-2", "any-1", "any-2"]
    assert names(router, make_result(status="Failed")) == ["failed-1", "any-1", "any-2"]


def test_endpoint_glob() -> None:
    router = Router()
    router.on_success("fraud-*", name="fraud")(lambda r: None)
    router.on_success("fraud-scorer-v2", name="exact")(lambda r: None)
    assert names(router, make_result(endpoint_name="fraud-scorer-v2")) == ["fraud", "exact"]
    assert names(router, make_result(endpoint_name="churn")) == []


def test_content_type_glob_ignores_parameters_and_case() -> None:
    router = Router()
    router.on_success(content_type="text/*", name="text")(lambda r: None)
    router.on_success(content_type="application/json", name="json")(lambda r: None)
    assert names(router, make_result(content_type="Text/CSV; charset=utf-8")) == ["text"]
    assert names(router, make_result(content_type="application/json")) == ["json"]
    assert names(router, make_result(content_type=None)) == []


@pytest.mark.parametrize(
    ("matcher", "expected"),
    [
        ({"tenant": "acme"}, True),
        ({"tenant": "ac*"}, True),
        ({"tenant": "other"}, False),
        ({"tenant": "acme", "missing": "*"}, False),
        (lambda attrs: attrs.get("priority") == "high", True),
        (lambda attrs: "nope" in attrs, False),
    ],
)
def test_custom_attribute_matching(matcher: Any, expected: bool) -> None:
    router = Router()
    router.on_result(attributes=matcher, name="h")(lambda r: None)
    result = make_result(custom_attributes="tenant=acme; priority=high;taskToken=a=b")
    assert bool(names(router, result)) is expected


def test_include_router_appends_in_order_and_keeps_own_exception_handlers() -> None:
    app, plugin = Router(), Router()
    app.on_success(name="app")(lambda r: None)
    plugin.on_success(name="plugin")(lambda r: None)

    def mine(exc: Exception, result: InferenceResult) -> None: ...

    def theirs(exc: Exception, result: InferenceResult) -> None: ...

    app.exception_handler(ValueError)(mine)
    plugin.exception_handler(ValueError)(theirs)
    plugin.exception_handler(KeyError)(theirs)
    app.include_router(plugin)
    assert names(app, make_result()) == ["app", "plugin"]
    assert app.find_exception_handler(ValueError()) is mine
    assert app.find_exception_handler(KeyError()) is theirs


def test_exception_handler_most_specific_class_wins() -> None:
    router = Router()
    handlers: dict[str, Callable[[Exception, InferenceResult], None]] = {
        "base": lambda e, r: None,
        "lookup": lambda e, r: None,
    }
    router.exception_handler(Exception)(handlers["base"])
    router.exception_handler(LookupError)(handlers["lookup"])
    assert router.find_exception_handler(KeyError("k")) is handlers["lookup"]
    assert router.find_exception_handler(RuntimeError()) is handlers["base"]
    assert Router().find_exception_handler(RuntimeError()) is None


def test_default_names_are_module_qualified() -> None:
    router = Router()

    @router.on_success()
    def store(result: InferenceResult) -> None: ...

    assert (
        router.registry.routes[0].name == f"{__name__}.test_default_names_are_module_qualified.<locals>.store"
    )
