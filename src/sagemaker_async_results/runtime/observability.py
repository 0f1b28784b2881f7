"""Observability objects, created in one place: Powertools Logger, Tracer and metric helpers.

Imported lazily (by the app, on the first invocation) so that importing ``entrypoint`` stays light.

Metrics (namespace ``POWERTOOLS_METRICS_NAMESPACE``, default ``SageMakerAsyncResults``), one EMF
blob per result with dimensions ``endpointName`` and ``status``:

* ``Results`` (Count) — results routed;
* ``NotificationLatency`` (Milliseconds) — ``eventTime - receivedTime``;
* ``PayloadBytes`` (Bytes) — size of the payload, when it was looked at;
* ``RecordErrors`` (Count, dimensions ``endpointName`` and ``reason``) — failed records, incl.
  ``HandlerFailed``;
* ``Duplicates`` / ``TestNotifications`` (Count).
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from sagemaker_async_results import contract

#: ``POWERTOOLS_SERVICE_NAME`` (set by the stack), else this default; also the logger's name.
SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or contract.SERVICE_NAME

logger = Logger(service=SERVICE)
# Only the AWS SDK is worth tracing here; patching every library X-Ray supports (the default) imports
# them all and costs about 100 ms of cold start.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))


def emit(
    namespace: str,
    dimensions: dict[str, str],
    values: dict[str, tuple[float, MetricUnit]],
) -> None:
    """Emit one EMF blob with ``values`` under ``dimensions`` (no state kept between calls)."""
    metrics = EphemeralMetrics(namespace=namespace, service=SERVICE)
    for name, value in dimensions.items():
        metrics.add_dimension(name=name, value=value or "unknown")
    for name, (amount, unit) in values.items():
        metrics.add_metric(name=name, unit=unit, value=amount)
    metrics.flush_metrics()
