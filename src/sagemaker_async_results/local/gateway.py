"""The two AWS APIs moto cannot serve for this project, served on loopback for boto3 clients.

- SageMaker Runtime ``InvokeEndpointAsync`` -> :class:`~sagemaker_async_results.local.simulator.AsyncEndpointSimulator`
- Lambda ``Invoke`` -> :class:`~sagemaker_async_results.local.lambda_runtime.LocalFunction`

boto3 reaches them through its standard per-service endpoint settings (``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``,
``AWS_ENDPOINT_URL_LAMBDA``), so the client and CLI run unchanged against the local run or real AWS.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from sagemaker_async_results.local.lambda_runtime import LocalFunction
from sagemaker_async_results.local.simulator import AsyncEndpointSimulator, EndpointValidationError

_ASYNC_INVOKE = re.compile(r"^/endpoints/(?P<name>[^/]+)/async-invocations$")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


class Gateway:
    """Serves the simulator and the local functions on ``127.0.0.1:<port>``."""

    def __init__(self, simulator: AsyncEndpointSimulator, functions: Mapping[str, LocalFunction]) -> None:
        self.simulator = simulator
        self.functions = dict(functions)
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = unquote(self.path.split("?", 1)[0])
                if match := _ASYNC_INVOKE.match(path):
                    gateway._invoke_async(self, match["name"], body)
                elif match := _LAMBDA_INVOKE.match(path):
                    gateway._invoke_function(self, match["name"], body)
                else:
                    _reply(self, 404, {"message": f"no local API at {path}"})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Gateway:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _invoke_async(self, request: BaseHTTPRequestHandler, endpoint: str, body: bytes) -> None:
        headers = request.headers

        def header(name: str) -> str | None:
            return headers.get(f"X-Amzn-SageMaker-{name}")

        try:
            response = self.simulator.invoke_endpoint_async(
                EndpointName=endpoint,
                InputLocation=header("InputLocation"),
                Body=body if header("InputLocation") is None else None,
                ContentType=header("Content-Type") or "application/octet-stream",
                Accept=header("Accept"),
                CustomAttributes=header("Custom-Attributes"),
                InferenceId=header("Inference-Id"),
                RequestTTLSeconds=int(header("RequestTTLSeconds") or 21600),
                InvocationTimeoutSeconds=int(header("InvocationTimeoutSeconds") or 900),
                Filename=header("Filename"),
                S3OutputPathExtension=header("S3OutputPathExtension"),
            )
        except EndpointValidationError as error:
            _reply(request, 400, {"message": str(error)}, {"x-amzn-ErrorType": "ValidationError"})
            return
        extra = {"X-Amzn-SageMaker-OutputLocation": response["OutputLocation"]}
        if "FailureLocation" in response:
            extra["X-Amzn-SageMaker-FailureLocation"] = response["FailureLocation"]
        _reply(request, 202, {"InferenceId": response["InferenceId"]}, extra)

    def _invoke_function(self, request: BaseHTTPRequestHandler, name: str, body: bytes) -> None:
        function = self.functions.get(name.rsplit(":function:", 1)[-1].split(":")[0])
        if function is None:
            _reply(
                request,
                404,
                {"message": f"Function not found: {name}"},
                {"x-amzn-ErrorType": "ResourceNotFoundException"},
            )
            return
        result = function.invoke(json.loads(body or b"{}"))
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if not result.ok:
            headers["X-Amz-Function-Error"] = "Unhandled"
            _reply(
                request, 200, {"errorType": result.error_type, "errorMessage": result.error_message}, headers
            )
            return
        _reply(request, 200, result.payload, headers)


def _reply(
    request: BaseHTTPRequestHandler, status: int, body: Any, headers: Mapping[str, str] | None = None
) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(data)
