"""Router matching rules and the documented matching order."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_type_hints

import pytest

from sagemaker_async_results.runtime.models import InferenceResultNotification, parse_notification
from sagemaker_async_results.runtime.payloads import LocationGuard, Payload
from sagemaker_async_results.runtime.result import InferenceResult
from sagemaker_async_results.runtime.router import Route, Router, RouteRegistry
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


def test_route_defaults_match_every_result() -> None:
    def handler(result: InferenceResult) -> None: ...

    route = Route(handler)
    assert (route.status, route.endpoint, route.content_type, route.attributes, route.name) == (
        None,
        "*",
        None,
        None,
        "",
    )
    assert route.matches(make_result())
    assert route.matches(make_result(status="Failed", endpoint_name="", content_type=None))


@pytest.mark.parametrize(
    ("register", "completed", "failed"),
    [("on_success", True, False), ("on_failure", False, True), ("on_result", True, True)],
)
def test_each_decorator_registers_its_status(register: str, completed: bool, failed: bool) -> None:
    router = Router()
    getattr(router, register)(name="h")(lambda r: None)
    (route,) = router.registry.routes
    assert route.status == {"on_success": "Completed", "on_failure": "Failed", "on_result": None}[register]
    assert (route.endpoint, route.content_type, route.attributes) == ("*", None, None)
    assert bool(names(router, make_result())) is completed
    assert bool(names(router, make_result(status="Failed"))) is failed


@pytest.mark.parametrize("register", ["on_success", "on_failure", "on_result"])
def test_each_decorator_passes_every_matcher_on(register: str) -> None:
    router = Router()

    def predicate(attrs: Any) -> bool:
        return True

    def handler(result: InferenceResult) -> None: ...

    getattr(router, register)("churn-*", content_type="text/*", attributes=predicate, name="n")(handler)
    (route,) = router.registry.routes
    assert (route.handler, route.endpoint, route.content_type, route.attributes, route.name) == (
        handler,
        "churn-*",
        "text/*",
        predicate,
        "n",
    )


def test_endpoint_glob_is_case_sensitive_and_anchored() -> None:
    router = Router()
    router.on_result("Fraud-*", name="upper")(lambda r: None)
    router.on_result("fraud", name="exact")(lambda r: None)
    assert names(router, make_result(endpoint_name="fraud-1")) == []
    assert names(router, make_result(endpoint_name="Fraud-1")) == ["upper"]
    assert names(router, make_result(endpoint_name="fraud")) == ["exact"]
    assert names(router, make_result(endpoint_name="fraud2")) == []


def test_status_must_match_exactly() -> None:
    router = Router()
    router.on_failure(name="failed")(lambda r: None)
    assert names(router, make_result(status="Completed")) == []
    assert names(router, make_result(status="Failed")) == ["failed"]


def test_content_type_pattern_is_lowercased_and_parameters_are_dropped() -> None:
    router = Router()
    router.on_result(content_type="Application/JSON", name="json")(lambda r: None)
    assert names(router, make_result(content_type="application/json")) == ["json"]
    assert names(router, make_result(content_type=" APPLICATION/JSON ;charset=utf-8")) == ["json"]
    assert names(router, make_result(content_type="application/json-seq")) == []
    assert names(router, make_result(content_type="text/plain; x=application/json")) == []


def test_content_type_star_matches_a_result_without_content_type() -> None:
    router = Router()
    router.on_result(content_type="*", name="any")(lambda r: None)
    assert names(router, make_result(content_type=None)) == ["any"]


def test_attribute_predicate_gets_the_parsed_pairs_and_its_truthiness_counts() -> None:
    seen: list[dict[str, str]] = []

    def predicate(attrs: Any) -> Any:
        seen.append(dict(attrs))
        return attrs.get("tenant", "")

    router = Router()
    router.on_result(attributes=predicate, name="h")(lambda r: None)
    assert names(router, make_result(custom_attributes="tenant=acme;x=1")) == ["h"]
    assert names(router, make_result(custom_attributes="x=1")) == []
    assert seen == [{"tenant": "acme", "x": "1"}, {"x": "1"}]


def test_attribute_dict_needs_every_key_and_compares_patterns_as_text() -> None:
    result = make_result(custom_attributes="n=7;tenant=acme")
    assert Route(lambda r: None, attributes={"n": 7}).matches(result)  # type: ignore[dict-item]
    assert Route(lambda r: None, attributes={"n": "7", "tenant": "acme"}).matches(result)
    assert not Route(lambda r: None, attributes={"n": "7", "tenant": "other"}).matches(result)
    assert not Route(lambda r: None, attributes={"absent": "*"}).matches(result)
    assert not Route(lambda r: None, attributes={"tenant": "ACME"}).matches(result)
    assert Route(lambda r: None, attributes={}).matches(result)  # no requirement: matches


def test_every_matcher_must_agree() -> None:
    route = Route(
        lambda r: None, status="Completed", endpoint="e-*", content_type="text/*", attributes={"t": "a"}
    )
    good: dict[str, Any] = {
        "endpoint_name": "e-1",
        "content_type": "text/csv",
        "custom_attributes": "t=a",
    }
    assert route.matches(make_result(**good))
    for change in (
        {"status": "Failed"},
        {"endpoint_name": "f-1"},
        {"content_type": "application/json"},
        {"custom_attributes": "t=b"},
    ):
        assert not route.matches(make_result(**{**good, **change}))


def test_registry_merge_appends_routes_and_fills_missing_exception_handlers() -> None:
    def h1(result: InferenceResult) -> None: ...

    def h2(result: InferenceResult) -> None: ...

    def mine(exc: Exception, result: InferenceResult) -> None: ...

    def theirs(exc: Exception, result: InferenceResult) -> None: ...

    own, other = RouteRegistry(), RouteRegistry()
    own.add(Route(h1, name="1"))
    own.add_exception_handler(ValueError, mine)
    other.add(Route(h2, name="2"))
    other.add_exception_handler(ValueError, theirs)
    other.add_exception_handler(KeyError, theirs)
    own.merge(other)
    assert [r.name for r in own.routes] == ["1", "2"]
    assert own.exception_handlers == {ValueError: mine, KeyError: theirs}
    assert [r.name for r in other.routes] == ["2"]  # the merged registry is unchanged
    assert RouteRegistry().routes == []
    assert RouteRegistry().exception_handlers == {}


def test_include_router_keeps_the_plugins_exception_handler_for_new_types() -> None:
    app, plugin = Router(), Router()

    def theirs(exc: Exception, result: InferenceResult) -> None: ...

    plugin.exception_handler(TimeoutError)(theirs)
    app.include_router(plugin)
    assert app.find_exception_handler(TimeoutError()) is theirs
    assert app.find_exception_handler(ValueError()) is None


def test_later_exception_handler_for_the_same_type_replaces_the_earlier() -> None:
    router = Router()

    def first(exc: Exception, result: InferenceResult) -> None: ...

    def second(exc: Exception, result: InferenceResult) -> None: ...

    router.exception_handler(ValueError)(first)
    router.exception_handler(ValueError)(second)
    assert router.find_exception_handler(ValueError()) is second


def test_exception_handler_found_through_a_base_class_of_several_levels() -> None:
    router = Router()

    def base(exc: Exception, result: InferenceResult) -> None: ...

    router.exception_handler(OSError)(base)
    assert router.find_exception_handler(FileNotFoundError()) is base  # OSError is two levels up
    assert router.find_exception_handler(ValueError()) is None


def test_explicit_name_wins_and_default_name_of_a_callable_object() -> None:
    class Handler:
        def __call__(self, result: InferenceResult) -> None: ...

        def __repr__(self) -> str:
            return "<the handler>"

    router = Router()
    router.on_result(name="given")(lambda r: None)
    router.on_result()(Handler())
    router.on_result(name="")(Handler())
    assert [r.name for r in router.registry.routes] == [
        "given",
        f"{__name__}.<the handler>",
        f"{__name__}.<the handler>",
    ]


def test_public_annotations_resolve_to_the_documented_types() -> None:
    """Tools that read annotations at run time (docs, plugin checks) see the documented types."""
    names_in_scope = {"InferenceResult": InferenceResult}
    route = get_type_hints(Route, localns=names_in_scope)
    result_handler = get_type_hints(RouteRegistry, localns=names_in_scope)["exception_handlers"]
    assert route["handler"] == Callable[[InferenceResult], Any]
    assert route["status"] == Literal["Completed", "Failed"] | None
    assert route["content_type"] == str | None
    assert route["attributes"] == Mapping[str, str] | Callable[[Mapping[str, str]], bool] | None
    assert result_handler == dict[type[Exception], Callable[[Exception, InferenceResult], Any]]
    decorator = get_type_hints(Router.on_success, localns=names_in_scope)["return"]
    (handler_type,) = set(get_args(decorator)[0]) | {get_args(decorator)[1]}
    assert isinstance(handler_type, TypeVar)
    assert handler_type.__name__ == "H"
    assert handler_type.__bound__ == Callable[["InferenceResult"], Any]
    on_error = get_type_hints(Router.exception_handler, localns=names_in_scope)["return"]
    (error_type,) = set(get_args(on_error)[0]) | {get_args(on_error)[1]}
    assert isinstance(error_type, TypeVar)
    assert error_type.__name__ == "E"
    assert error_type.__bound__ == Callable[[Exception, "InferenceResult"], Any]


def test_routes_are_immutable_with_no_instance_dict() -> None:
    route = Route(lambda r: None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        route.name = "other"  # type: ignore[misc]
    assert not hasattr(route, "__dict__")
    assert not hasattr(RouteRegistry(), "__dict__")


def test_empty_content_type_pattern_matches_only_results_without_one() -> None:
    route = Route(lambda r: None, content_type="")
    assert route.matches(make_result(content_type=None))
    assert not route.matches(make_result(content_type="text/plain"))
