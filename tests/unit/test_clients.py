"""AWS clients: injected ones used as they are, the others created once, lazily, with standard retries."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from sagemaker_async_results.runtime.clients import MAX_ATTEMPTS, Clients


class FakeSession:
    """Stands in for a boto3 session: records every client it creates."""

    def __init__(self, delay: float = 0.0) -> None:
        self.created: list[tuple[str, dict[str, Any]]] = []
        self.delay = delay

    def client(self, service: str, **kwargs: Any) -> object:
        time.sleep(self.delay)
        self.created.append((service, kwargs))
        return object()


@pytest.mark.parametrize("service", ["s3", "dynamodb", "events", "sqs", "stepfunctions"])
def test_an_injected_client_is_the_one_used(service: str) -> None:
    injected = object()
    session = FakeSession()
    clients = Clients(session=session, **{service: cast(Any, injected)})
    assert getattr(clients, service) is injected
    assert clients.client(service) is injected
    assert session.created == []


def test_clients_of_other_services_can_be_injected() -> None:
    kinesis = object()
    clients = Clients(services={"kinesis": kinesis}, session=FakeSession())
    assert clients.client("kinesis") is kinesis


@pytest.mark.parametrize("service", ["s3", "dynamodb", "events", "sqs", "stepfunctions"])
def test_each_property_creates_the_client_of_its_own_service(service: str) -> None:
    session = FakeSession()
    clients = Clients(session=session)
    created = getattr(clients, service)
    assert [name for name, _ in session.created] == [service]
    assert getattr(clients, service) is created  # once


def test_a_missing_client_is_created_once_with_the_endpoint_region_and_retries() -> None:
    session = FakeSession()
    clients = Clients(session=session, s3=None, endpoint_url="http://127.0.0.1:5000", region_name="eu-west-1")
    first = clients.client("kinesis")
    assert clients.client("kinesis") is first
    ((service, kwargs),) = session.created
    assert service == "kinesis"
    assert (kwargs["endpoint_url"], kwargs["region_name"]) == ("http://127.0.0.1:5000", "eu-west-1")
    # botocore's max_attempts counts retries: six calls in all.
    assert (
        kwargs["config"].retries
        == {"mode": "standard", "max_attempts": MAX_ATTEMPTS}
        == {
            "mode": "standard",
            "max_attempts": 5,
        }
    )


def test_without_a_session_boto3_creates_the_client() -> None:
    client = Clients(region_name="eu-west-1", endpoint_url="http://127.0.0.1:5000").sqs
    assert client.meta.service_model.service_name == "sqs"
    assert client.meta.region_name == "eu-west-1"
    assert client.meta.endpoint_url == "http://127.0.0.1:5000"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_threads_asking_at_once_share_one_client() -> None:
    session = FakeSession(delay=0.05)
    clients = Clients(session=session)
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(clients.client("s3"))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(session.created) == 1
    assert len(seen) == 6
    assert all(client is seen[0] for client in seen)
