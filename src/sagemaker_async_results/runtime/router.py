"""Extension API: a :class:`Router` whose decorators register user result handlers.

Split like Powertools' event handlers: :class:`RouteRegistry` stores routes, :class:`Router` offers
the decorators (which return the function unchanged), the app (:mod:`sagemaker_async_results.runtime.app`) resolves
and dispatches.

Matching order (documented contract)
------------------------------------
**Every** matching handler runs, one after another:

1. status-specific handlers (``on_success`` for ``Completed``, ``on_failure`` for ``Failed``),
2. then ``on_result`` handlers (any status),

each group in registration order (plugin modules load in the order of ``HANDLER_MODULES``; a
package's modules alphabetically). The first exception that no exception handler handles stops
the remaining handlers and fails the record. A result that matches no handler is not an error.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from sagemaker_async_results.runtime.result import InferenceResult

ResultHandler = Callable[["InferenceResult"], Any]
ExceptionHandler = Callable[[Exception, "InferenceResult"], Any]
AttributeMatcher = Mapping[str, str] | Callable[[Mapping[str, str]], bool]
H = TypeVar("H", bound=ResultHandler)
E = TypeVar("E", bound=ExceptionHandler)

Status = Literal["Completed", "Failed"]


@dataclass(frozen=True, slots=True)
class Route:
    """One registered handler and what it matches.

    Parameters
    ----------
    handler
        Called with the :class:`~sagemaker_async_results.runtime.result.InferenceResult`.
    status
        ``Completed``, ``Failed`` or ``None`` for any.
    endpoint
        ``fnmatch`` glob on the endpoint name (``"*"`` matches all).
    content_type
        ``fnmatch`` glob on the media type without parameters (``"text/*"``), or ``None`` for any.
    attributes
        Custom attributes to match: a dict that must be a subset of the parsed ``key=value`` pairs
        (values may be globs), or a predicate taking those pairs.
    name
        Shown in logs and in the result record's ``routedTo``.
    """

    handler: ResultHandler
    status: Status | None = None
    endpoint: str = "*"
    content_type: str | None = None
    attributes: AttributeMatcher | None = None
    name: str = ""

    def matches(self, result: InferenceResult) -> bool:
        """Whether this route accepts ``result``."""
        if self.status is not None and result.status != self.status:
            return False
        if not fnmatch.fnmatchcase(result.endpoint_name, self.endpoint):
            return False
        if self.content_type is not None:
            media = (result.content_type or "").split(";")[0].strip().lower()
            if not fnmatch.fnmatchcase(media, self.content_type.lower()):
                return False
        if self.attributes is None:
            return True
        if callable(self.attributes):
            return bool(self.attributes(result.attributes))
        return all(
            key in result.attributes and fnmatch.fnmatchcase(result.attributes[key], str(pattern))
            for key, pattern in self.attributes.items()
        )


@dataclass(slots=True)
class RouteRegistry:
    """Routes and exception handlers, in registration order. Knows nothing about decorators."""

    routes: list[Route] = field(default_factory=list)
    exception_handlers: dict[type[Exception], ExceptionHandler] = field(default_factory=dict)

    def add(self, route: Route) -> None:
        self.routes.append(route)

    def add_exception_handler(self, exc_type: type[Exception], handler: ExceptionHandler) -> None:
        self.exception_handlers[exc_type] = handler

    def merge(self, other: RouteRegistry) -> None:
        """Append ``other``'s routes; its exception handlers fill types not registered here."""
        self.routes.extend(other.routes)
        for exc_type, handler in other.exception_handlers.items():
            self.exception_handlers.setdefault(exc_type, handler)


def _name(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


class Router:
    """Collects result handlers of one plugin module.

    Example
    -------
    .. code-block:: python

        from sagemaker_async_results.runtime import InferenceResult, Router

        router = Router()

        @router.on_success("churn-*", content_type="application/json")
        def store_scores(result: InferenceResult) -> None:
            scores = result.json()
            ...

        @router.on_failure(attributes={"tenant": "acme"})
        def page_acme(result: InferenceResult) -> None:
            ...

        @router.exception_handler(TimeoutError)
        def ignore_timeouts(exc: Exception, result: InferenceResult) -> None:
            ...  # returning normally marks the error handled
    """

    def __init__(self) -> None:
        self.registry = RouteRegistry()

    def _register(
        self,
        status: Status | None,
        endpoint: str,
        content_type: str | None,
        attributes: AttributeMatcher | None,
        name: str | None,
    ) -> Callable[[H], H]:
        def decorator(func: H) -> H:
            self.registry.add(
                Route(
                    handler=func,
                    status=status,
                    endpoint=endpoint,
                    content_type=content_type,
                    attributes=attributes,
                    name=name or _name(func),
                )
            )
            return func

        return decorator

    def on_success(
        self,
        endpoint: str = "*",
        *,
        content_type: str | None = None,
        attributes: AttributeMatcher | None = None,
        name: str | None = None,
    ) -> Callable[[H], H]:
        """Register a handler for ``Completed`` results. See :class:`Route` for the matchers."""
        return self._register("Completed", endpoint, content_type, attributes, name)

    def on_failure(
        self,
        endpoint: str = "*",
        *,
        content_type: str | None = None,
        attributes: AttributeMatcher | None = None,
        name: str | None = None,
    ) -> Callable[[H], H]:
        """Register a handler for ``Failed`` results."""
        return self._register("Failed", endpoint, content_type, attributes, name)

    def on_result(
        self,
        endpoint: str = "*",
        *,
        content_type: str | None = None,
        attributes: AttributeMatcher | None = None,
        name: str | None = None,
    ) -> Callable[[H], H]:
        """Register a handler for every result; runs after the status-specific handlers."""
        return self._register(None, endpoint, content_type, attributes, name)

    def exception_handler(self, exc_type: type[Exception]) -> Callable[[E], E]:
        """Register ``func(exc, result)`` for exceptions of ``exc_type`` (and subclasses) from handlers.

        Returning normally marks the exception handled: the remaining handlers run and the record
        succeeds. Raising (re-raise or another exception) fails the record.
        """

        def decorator(func: E) -> E:
            self.registry.add_exception_handler(exc_type, func)
            return func

        return decorator

    def include_router(self, router: Router) -> None:
        """Merge another router's handlers (after this router's own ones)."""
        self.registry.merge(router.registry)

    def resolve(self, result: InferenceResult) -> list[Route]:
        """The routes ``result`` goes to, in the documented matching order."""
        matching = [r for r in self.registry.routes if r.matches(result)]
        return [r for r in matching if r.status is not None] + [r for r in matching if r.status is None]

    def find_exception_handler(self, exc: Exception) -> ExceptionHandler | None:
        """The handler registered for the most specific class of ``exc`` (walks its MRO)."""
        for cls in type(exc).__mro__:
            handler = self.registry.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None
