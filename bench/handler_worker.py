"""Subprocess of the throughput case: times handlers batch by batch, alternating, in one process.

Run as ``python -m bench.handler_worker throughput|fake|cpu CONFIG.json RESULT.json``. stdout is discarded
by the parent (the runtime's JSON logs and EMF metrics go there, as they go to CloudWatch in Lambda);
results are written to ``RESULT.json``.

- ``throughput``: the real handler as deployed (``entrypoint.get_app()`` from the function's
  environment: result store + idempotency + SQS destination), the same with result store and
  idempotency off (SQS destination only), and :mod:`bench.naive`; each gets the same batches.
- ``fake``: the same three handlers on a fake AWS answering from memory, 10 ms per call
  (:mod:`bench.fake_aws`).
- ``cpu``: no AWS at all (no table, no destination, inline bodies, an S3 client that fails if
  called): parse + model + route per notification, and the whole record path of ``ResultsApp``.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bench  # noqa: F401 - puts functions/ on sys.path


def _throughput(config: dict[str, Any]) -> dict[str, Any]:
    from bench import naive
    from sagemaker_async_results.runtime import entrypoint
    from sagemaker_async_results.runtime.app import ResultsApp
    from sagemaker_async_results.runtime.testing import lambda_context, sqs_event

    real = entrypoint.get_app()
    without_store = ResultsApp(settings=dataclasses.replace(real.settings, results_table=None))
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        "project": real,
        "project_no_store": without_store,
        "naive": naive.handler,
    }
    batches: list[list[dict[str, Any]]] = config["batches"]
    times: dict[str, list[float]] = {name: [] for name in handlers}
    failures: dict[str, int] = dict.fromkeys(handlers, 0)
    names = list(handlers)
    for index, batch in enumerate(batches):
        # Rotate the order each batch; batch 0 warms every handler up (clients, connections) untimed.
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            event = sqs_event(batch, raw=False)
            started = time.perf_counter()
            response = handlers[name](event, lambda_context())
            elapsed = time.perf_counter() - started
            if isinstance(response, dict):
                failures[name] += len(response.get("batchItemFailures", []))
            if index > 0:
                times[name].append(elapsed)
    return {"batchSeconds": times, "failures": failures, "batchSize": len(batches[0])}


class _NoS3:
    """Stands in for the S3 client: the CPU case must not do any I/O."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"S3 called ({name}) in the CPU-only case")


def _cpu(config: dict[str, Any]) -> dict[str, Any]:
    from sagemaker_async_results.runtime.app import ResultsApp
    from sagemaker_async_results.runtime.clients import Clients
    from sagemaker_async_results.runtime.envelopes import parse_message, unwrap_sqs_body
    from sagemaker_async_results.runtime.router import Router
    from sagemaker_async_results.runtime.settings import S3Prefix, Settings
    from sagemaker_async_results.runtime.testing import lambda_context, notification, sqs_event

    router = Router()

    @router.on_success("*")
    def accept(result: Any) -> None:
        """A handler that does nothing: the cost measured is the runtime's."""

    app = ResultsApp(
        settings=Settings(
            readable_locations=(S3Prefix.parse("s3://bench/outputs/"),), results_bucket="bench"
        ),
        clients=Clients(s3=_NoS3()),  # type: ignore[arg-type]
        routers=[router],
    )
    count, batch_size, rounds = config["notifications"], config["batchSize"], config["rounds"]
    messages = [
        notification(
            inference_id=f"cpu-{i}",
            output_location=f"s3://bench/outputs/cpu-{i}.out",
            body={"label": "POSITIVE", "score": 0.98},
        )
        for i in range(count)
    ]
    events = [sqs_event(messages[i : i + batch_size], raw=False) for i in range(0, count, batch_size)]
    bodies = [record["body"] for event in events for record in event["Records"]]

    def core() -> None:
        for body in bodies:
            result = app.build_result(parse_message(unwrap_sqs_body(body)))  # type: ignore[arg-type]
            routes = app.router.resolve(result)
            for route in routes:
                route.handler(result)
            {**result.to_record(), "routedTo": [r.name for r in routes]}

    def whole() -> None:
        for event in events:
            response = app(event, lambda_context())
            assert not response["batchItemFailures"], response

    results: dict[str, list[float]] = {"core": [], "whole": []}
    core()
    whole()  # warm-up: imports, pydantic's first validations
    for _ in range(rounds):
        for name, run in (("core", core), ("whole", whole)):
            started = time.perf_counter()
            run()
            results[name].append((time.perf_counter() - started) / count)
    return {"secondsPerNotification": results, "notifications": count}


def main(argv: list[str]) -> None:
    mode, config_path, result_path = argv
    config = json.loads(Path(config_path).read_text())
    if mode == "fake":
        from bench.fake_aws import measure

        result = measure(config)
    else:
        result = _throughput(config) if mode == "throughput" else _cpu(config)
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
