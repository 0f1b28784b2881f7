"""Typed models of SageMaker's async inference notifications (see ``NOTIFICATIONS.md``).

Parse at the edge: the runtime validates a message once here and hands handlers typed objects.
Fields use snake_case in Python and SageMaker's camelCase on the wire. Unknown fields are kept
(``extra="allow"``) because SageMaker may add some; missing optional fields never fail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator
from pydantic.alias_generators import to_camel

_CONFIG = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True, frozen=True)


class _Model(BaseModel):
    """Refuses text that is not valid Unicode in every declared string field.

    JSON can spell a lone surrogate (``"\\ud800"``) and pydantic passes it through a plain ``str``
    field (it checks only fields with length constraints). UTF-8 cannot carry it, so every AWS call
    and log line with it would fail far from here; it is refused at the edge, naming the field.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"text is not valid Unicode ({exc.reason} at {exc.start})") from None
        return value


class RequestParameters(_Model):
    """What the caller sent to ``InvokeEndpointAsync`` (as echoed by SageMaker)."""

    model_config = _CONFIG

    endpoint_name: str | None = None
    content_type: str | None = None
    accept: str | None = None
    #: The request's ``CustomAttributes`` verbatim (at most 1024 visible ASCII characters).
    custom_attributes: str | None = None
    input_location: str | None = None


class ResponseParameters(_Model):
    """Where SageMaker put the result: ``outputLocation`` on success, ``failureLocation`` on failure."""

    model_config = _CONFIG

    content_type: str | None = None
    output_location: str | None = None
    failure_location: str | None = None


class ResponseBody(_Model):
    """Inline response (``IncludeInferenceResponseIn``; responses up to 128 KB)."""

    model_config = _CONFIG

    content: str | None = None
    encoding: str | None = None
    message: str | None = None


class InferenceResultNotification(_Model):
    """One ``InferenceResult`` message: a ``Completed`` or ``Failed`` async invocation."""

    model_config = _CONFIG

    event_name: Literal["InferenceResult"]
    #: 1-64 characters (``InvokeEndpointAsync``'s limit; the lock key must stay small).
    inference_id: str = Field(min_length=1, max_length=64)
    invocation_status: Literal["Completed", "Failed"]
    event_source: Literal["aws:sagemaker"] | None = None
    event_version: str | None = None
    aws_region: str | None = None
    event_time: datetime | None = None
    received_time: datetime | None = None
    request_parameters: RequestParameters = Field(default_factory=RequestParameters)
    response_parameters: ResponseParameters | None = None
    response_body: ResponseBody | None = None
    failure_reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _top_level_failure_location(cls, data: Any) -> Any:
        """Public code disagrees where a failure's location is: ``responseParameters.failureLocation``
        or a top-level ``failureLocation``. Both are accepted; ``responseParameters`` wins when both are."""
        if not isinstance(data, dict) or not isinstance(data.get("failureLocation"), str):
            return data
        response = data.get("responseParameters")
        response = dict(response) if isinstance(response, dict) else {}
        if response.get("failureLocation") or response.get("failure_location"):
            return data
        return {**data, "responseParameters": {**response, "failureLocation": data["failureLocation"]}}


class TestNotification(_Model):
    """Sent when an endpoint is created or updated: not a result; acknowledged and ignored."""

    __test__ = False  # not a pytest test class
    model_config = _CONFIG

    event_name: Literal["TestNotification"]
    event_source: str | None = None
    event_version: str | None = None


Notification = Annotated[InferenceResultNotification | TestNotification, Field(discriminator="event_name")]

_ADAPTER: TypeAdapter[InferenceResultNotification | TestNotification] = TypeAdapter(Notification)


def parse_notification(message: Any) -> InferenceResultNotification | TestNotification:
    """Validate a decoded JSON message; raises ``pydantic.ValidationError`` when it is not SageMaker's."""
    return _ADAPTER.validate_python(message)
