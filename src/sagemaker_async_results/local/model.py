"""The small deterministic model the simulator runs by default.

A model is any callable ``(body: bytes, content_type: str, custom_attributes: str | None) -> ModelOutput``
that raises :class:`ModelError` for an error response (SageMaker reports those as ``Failed``).
Point the simulator at your own with ``--model package.module:function``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass

#: Largest generated output the sample model agrees to produce (keeps a typo from filling the disk).
MAX_GENERATED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ModelOutput:
    body: bytes
    content_type: str = "application/json"


class ModelError(Exception):
    """The model container answered with an error status; ``body`` is its error response."""

    def __init__(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        super().__init__(f"model returned {status}")
        self.status = status
        self.body = body
        self.content_type = content_type


Model = Callable[[bytes, str, "str | None"], ModelOutput]


def sentiment_model(body: bytes, content_type: str, custom_attributes: str | None = None) -> ModelOutput:
    """Deterministic stand-in for a text classifier.

    Input: JSON ``{"inputs": "text"}``. ``{"fail": "reason"}`` makes it answer 500 with an error body,
    ``{"pad_bytes": N}`` pads the output to about N bytes (to exercise outputs above the inline limit),
    ``{"sleep_seconds": S}`` makes it slow (to exercise invocation timeouts).
    """
    try:
        request = json.loads(body or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(400, _error("UnsupportedInput", f"expected a JSON body, got: {exc}")) from exc
    if not isinstance(request, dict):
        raise ModelError(
            400, _error("UnsupportedInput", f"expected a JSON object, got {type(request).__name__}")
        )
    if "fail" in request:
        raise ModelError(500, _error("ModelFailure", str(request["fail"])))
    if request.get("sleep_seconds"):
        import time

        time.sleep(float(request["sleep_seconds"]))
    text = str(request.get("inputs", ""))
    digest = hashlib.sha256(text.encode()).digest()
    score = round(0.5 + digest[0] / 510, 4)
    label = "POSITIVE" if digest[1] % 2 == 0 else "NEGATIVE"
    result: dict[str, object] = {"label": label, "score": score, "chars": len(text)}
    pad = min(int(request.get("pad_bytes", 0)), MAX_GENERATED_BYTES)
    if pad:
        result["padding"] = "x" * pad
    return ModelOutput(json.dumps([result]).encode(), "application/json")


def _error(code: str, message: str) -> bytes:
    return json.dumps({"code": code, "message": message}).encode()


def load_model(spec: str | None) -> Model:
    """``None`` for the sample model, else ``package.module:function``."""
    if not spec:
        return sentiment_model
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"--model expects 'package.module:function', got {spec!r}")
    model = getattr(importlib.import_module(module_name), attribute)
    if not callable(model):
        raise TypeError(f"{spec} is {type(model).__name__}, expected a callable model")
    return model
