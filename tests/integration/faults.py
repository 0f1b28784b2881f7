"""Fault injection at the botocore boundary, for moto-backed tests.

:class:`Faults` hooks a client's ``before-send`` event (ahead of moto's own hook) and answers chosen
attempts of chosen operations with an error, either *before* the call took effect (the request never
reaches moto) or *after* it took effect (moto applies the request, then the client is told it failed).
botocore's retry handler sees the error exactly as it would see a real throttle or a 500, so its own
retries go through the same path they take in AWS: that is what makes "ambiguous write" tests real.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

#: (HTTP status, DynamoDB error type): both are retried by botocore's standard retry mode.
THROTTLE = (400, "ThrottlingException")
SERVER_ERROR = (500, "InternalServerError")


@dataclass
class Fault:
    """Answer the next ``times`` attempts of ``operation`` with ``error``; ``after_effect`` applies them first."""

    operation: str
    times: int
    after_effect: bool
    error: tuple[int, str] = THROTTLE
    seen: int = 0


@dataclass
class Faults:
    """Faults for one client; ``calls`` counts every attempt per operation (faulted or not)."""

    faults: list[Fault] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, client: Any) -> Faults:
        # botocore calls every before-send handler and takes the first answer: moto's own handler
        # would apply a "before effect" request too. This hook replaces it and calls moto itself.
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register_first("before-send", self._before_send)
        return self

    def add(
        self, operation: str, *, times: int, after_effect: bool, error: tuple[int, str] = THROTTLE
    ) -> Faults:
        self.faults.append(Fault(operation, times, after_effect, error))
        return self

    def _before_send(self, request: Any, event_name: str, **kwargs: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rpartition(".")[2]
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            fault = next((f for f in self.faults if f.operation == operation and f.seen < f.times), None)
            if fault is not None:
                fault.seen += 1
        if fault is None:
            return botocore_stubber(event_name, request)
        if fault.after_effect:
            botocore_stubber(event_name, request)  # moto applies the request; its answer is lost
        status, code = fault.error
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"})
        return AWSResponse(request.url, status, {"x-amzn-ErrorType": code}, MockRawResponse(body))  # type: ignore[arg-type]
