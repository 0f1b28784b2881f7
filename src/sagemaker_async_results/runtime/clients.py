"""AWS clients: each one injectable, otherwise created lazily, once, when first needed.

``boto3`` is imported only when a client is first created, keeping cold starts light. Clients use
botocore's ``standard`` retry mode, so a throttled call is retried with backoff before the runtime
reports it (reason ``Throttled``). During an invocation, retries also stop in time for the runtime
to record what completed (:mod:`~sagemaker_async_results.runtime.deadline`): a hook on each client,
injected or created; created clients give up on one attempt after
:data:`~sagemaker_async_results.runtime.deadline.ATTEMPT_SECONDS` (connect + read timeouts).

Example
-------
>>> clients = Clients(s3=my_s3_client)            # doctest: +SKIP
>>> clients = Clients(endpoint_url="http://127.0.0.1:5000")   # local emulator  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sagemaker_async_results.runtime import deadline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

#: botocore retries (after the first call: 6 calls in all) before a throttled or failing call is reported.
MAX_ATTEMPTS = 5


class Clients:
    """Holds the runtime's AWS clients.

    Parameters
    ----------
    s3, dynamodb, events, sqs, stepfunctions
        Pre-built clients (tests, the local run); missing ones are created on first use.
    services
        Pre-built clients of any other service, by boto3 service name (``{"kinesis": client}``): a
        destination for a new service gets its client from :meth:`client` without a change here.
    session
        ``boto3.session.Session`` to create clients from (default: boto3's default session).
    endpoint_url
        Send every created client to this endpoint (e.g. a moto server). ``AWS_ENDPOINT_URL`` in the
        environment works too, natively in boto3.
    region_name
        Region for created clients (default: the session's).
    """

    def __init__(
        self,
        *,
        s3: S3Client | None = None,
        dynamodb: DynamoDBClient | None = None,
        events: EventBridgeClient | None = None,
        sqs: SQSClient | None = None,
        stepfunctions: SFNClient | None = None,
        services: Mapping[str, Any] | None = None,
        session: Any = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
    ) -> None:
        self._clients: dict[str, Any] = {
            name: client
            for name, client in {
                "s3": s3,
                "dynamodb": dynamodb,
                "events": events,
                "sqs": sqs,
                "stepfunctions": stepfunctions,
            }.items()
            if client is not None
        }
        self._clients.update(services or {})
        for client in self._clients.values():
            deadline.install(client)
        self._session = session
        self._endpoint_url = endpoint_url
        self._region_name = region_name
        self._lock = threading.Lock()

    def client(self, service: str) -> Any:
        """The client of ``service`` (a boto3 service name), created once on first use."""
        return self._get(service)

    def _get(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._create(service)
                    self._clients[service] = client
        return client

    def _create(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        # boto3's default session caches loaded service models across clients.
        factory = self._session.client if self._session is not None else boto3.client
        config = Config(
            retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
            connect_timeout=deadline.CONNECT_TIMEOUT_SECONDS,
            read_timeout=deadline.READ_TIMEOUT_SECONDS,
        )
        client = factory(
            service,  # type: ignore[call-overload]
            endpoint_url=self._endpoint_url,
            region_name=self._region_name,
            config=config,
        )
        return deadline.install(client)

    @property
    def s3(self) -> S3Client:
        return self._get("s3")

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self._get("dynamodb")

    @property
    def events(self) -> EventBridgeClient:
        return self._get("events")

    @property
    def sqs(self) -> SQSClient:
        return self._get("sqs")

    @property
    def stepfunctions(self) -> SFNClient:
        return self._get("stepfunctions")
