"""The SageMaker Python SDK v2 ``AsyncPredictor`` against the local run, as a user runs it.

Runs in the SDK's own virtual environment (``make bench-sdk``: ``.venv-sdk``, ``bench/requirements-sdk.txt``),
started by :mod:`bench.await_at_scale` with the local run's endpoints in the environment
(``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``). Its one setting: the SDK's
``Session(default_bucket=...)`` (without it the SDK asks STS on AWS to name a default bucket); the
bucket prefix ``default_bucket_prefix`` puts the uploaded inputs where the endpoint's execution role may
read them (the stack's input prefix).

``predict`` (``predict_async`` + ``get_result`` with the SDK's default ``WaiterConfig``: 15 s between
``HeadObject`` checks) runs once per request in a thread pool. Prints one JSON document: per request the
inference ID and the wall-clock time the caller held the result, and the AWS calls made while waiting.

With a failure path (the stack sets ``S3FailurePath``) the SDK waits on the output and the failure
object in two threads and returns when either exists, but never stops the other: the failure waiter
goes on polling (``HeadObject`` every 15 s, 60 attempts: 15 minutes) after the result is returned, in a
non-daemon thread. A process that made 1,000 requests therefore cannot exit for 15 minutes, which is why
an earlier run of this script never finished. The report counts the calls up to the last result and
how many such waiters were still polling then, and the process leaves with ``os._exit``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def main() -> None:
    endpoint, bucket, input_prefix, count, threads, model_seconds = sys.argv[1:7]
    import boto3
    import sagemaker
    from botocore.config import Config
    from sagemaker.deserializers import BytesDeserializer
    from sagemaker.predictor import Predictor
    from sagemaker.predictor_async import AsyncPredictor
    from sagemaker.serializers import IdentitySerializer

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    counting = threading.Event()
    counting.set()

    def count_call(model: Any, **_: Any) -> None:
        if model.name not in ("PutObject", "InvokeEndpointAsync") and counting.is_set():  # the wait only
            with lock:
                calls[model.name] += 1

    boto_session = boto3.Session()
    boto_session.events.register("before-call.*.*", count_call)
    config = Config(max_pool_connections=int(threads))
    session = sagemaker.Session(
        boto_session=boto_session,
        sagemaker_client=boto_session.client("sagemaker", config=config),
        sagemaker_runtime_client=boto_session.client("sagemaker-runtime", config=config),
        default_bucket=bucket,
        default_bucket_prefix=input_prefix.rstrip("/"),
    )
    session.s3_client = boto_session.client("s3", config=config)
    predictor = AsyncPredictor(
        Predictor(
            endpoint,
            sagemaker_session=session,
            serializer=IdentitySerializer("application/json"),
            deserializer=BytesDeserializer(),
        ),
        name=endpoint,
    )
    held: dict[str, float] = {}

    def one(index: int) -> None:
        inference_id = f"sdk-{index}-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"inputs": f"sdk #{index}", "sleep_seconds": float(model_seconds)}).encode()
        result = predictor.predict(data=body, inference_id=inference_id)
        if not result:
            raise RuntimeError(f"empty result for {inference_id}")
        with lock:
            held[inference_id] = time.time()

    started = time.time()
    with ThreadPoolExecutor(int(threads)) as pool:
        list(pool.map(one, range(int(count))))
    counting.clear()
    lingering = sum(1 for t in threading.enumerate() if t.is_alive() and not t.daemon) - 1
    report = {"started": started, "held": held, "calls": dict(calls), "lingeringWaiters": lingering}
    print(json.dumps(report), flush=True)
    sys.stderr.flush()
    os._exit(0)  # the SDK's leftover failure-path waiters would keep the process alive for 15 minutes


if __name__ == "__main__":
    main()
