"""Session-wide real services, and per-test isolation by unique topic names and keyspaces."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cassandra.cluster import Session
from confluent_kafka.admin import AdminClient

from herald.cassandra import cassandra_cluster
from herald.settings import HeraldSettings
from herald.topics import TopicSpec, ensure_topics
from lab.sandboxes import SandboxControl, on_free_ports
from lab.sandboxes.process import SandboxProcess
from tests.integration import services


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(settings: HeraldSettings) -> Iterator[HeraldSettings]:
    how, stop = services.acquire(settings)
    print(f"\nreal services: {how}")
    yield settings
    if not os.environ.get("HERALD_TEST_KEEP_STACK"):
        stop()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def admin(stack: HeraldSettings) -> AdminClient:
    return AdminClient(stack.kafka.client_config())


@pytest.fixture
def new_topic(admin: AdminClient) -> Iterator[Callable[..., str]]:
    """Creates uniquely named topics for one test and deletes them afterwards."""
    created: list[str] = []

    def make(prefix: str = "test", partitions: int = 1, **config: str) -> str:
        name = unique(f"herald-test.{prefix}")
        ensure_topics(admin, [TopicSpec(name, partitions=partitions, config=config)])
        created.append(name)
        return name

    yield make
    if created:
        for future in admin.delete_topics(created, operation_timeout=30).values():
            future.result(timeout=30)


@pytest.fixture(scope="session")
def cql(stack: HeraldSettings) -> Iterator[Session]:
    cluster = cassandra_cluster(stack.cassandra)
    session = cluster.connect()
    yield session
    cluster.shutdown()


@contextmanager
def fresh_keyspace(cql: Session) -> Iterator[str]:
    """A keyspace of its own, dropped afterwards."""
    name = unique("herald_test")
    cql.execute(
        f"CREATE KEYSPACE {name} WITH replication = {{'class': 'SimpleStrategy', "
        "'replication_factor': 1}"
    )
    try:
        yield name
    finally:
        cql.execute(f"DROP KEYSPACE IF EXISTS {name}")


@pytest.fixture
def keyspace(cql: Session) -> Iterator[str]:
    with fresh_keyspace(cql) as name:
        yield name


@pytest.fixture(scope="session")
def sandbox(
    settings: HeraldSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[HeraldSettings, SandboxControl]]:
    """A private `herald sandbox run` for the session, on free ports with credentials in a
    temporary directory: yields (settings whose delivery points every provider at it, its
    control client). Records accumulate over the session: call ``control.reset()`` first or
    look only at your own notification ids. Child processes (senders) get the same endpoints
    and credential files when they are started with these settings."""
    home = tmp_path_factory.mktemp("sandbox")
    delivery = on_free_ports(settings.delivery, home / "credentials")
    ours = settings.model_copy(update={"delivery": delivery})
    with (
        SandboxProcess(ours, home / "sandbox.log"),
        SandboxControl(delivery) as control,
    ):
        yield ours, control
