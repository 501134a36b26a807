"""`herald api` as a child process on its own topic prefix and keyspace, and keys for it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from cassandra.cluster import Session
from confluent_kafka.admin import AdminClient
from playwright.sync_api import Browser, sync_playwright

from api.keys import KeyStore, Scope
from herald.migrate import migrate
from herald.settings import CassandraSettings, HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.fetch import system_command
from lab.sandboxes.config import free_port
from lab.workers import ApiProcess
from tests.integration.conftest import fresh_keyspace


@dataclass
class Api:
    settings: HeraldSettings
    process: ApiProcess
    keys: KeyStore
    names: TopicNames

    @property
    def url(self) -> str:
        return self.process.url

    def token(self, *scopes: Scope) -> str:
        return self.keys.create("tests", scopes)[1]


@pytest.fixture
def migrated(cql: Session, keyspace: str) -> str:
    migrate(cql, CassandraSettings(keyspace=keyspace))
    return keyspace


@contextmanager
def api_launcher(
    stack: HeraldSettings, cql: Session, keyspace: str, workdir: Path
) -> Iterator[Callable[..., Api]]:
    """Starts APIs on a fresh prefix (its topics created) and ``keyspace`` (migrated);
    ``**sections`` change their settings. Stops them and deletes the prefix's topics and
    Redis keys at the end."""
    migrate(cql, CassandraSettings(keyspace=keyspace))
    started: list[Api] = []
    admin = AdminClient(stack.kafka.client_config())
    prefix = f"t{uuid.uuid4().hex[:8]}."
    names = TopicNames(prefix)
    ensure_topics(admin, pipeline_topics(names, stack.pipeline.partitions))

    def start(
        settings: HeraldSettings | None = None,
        port: int | None = None,
        **sections: dict[str, object],
    ) -> Api:
        base = (settings or stack.with_prefix(prefix)).updated(
            cassandra={"keyspace": keyspace}, api={"key_cache_s": 0.0}
        )
        config = base.updated(**sections) if sections else base
        log = workdir / f"api-{len(started)}.log"
        process = ApiProcess(config, log, port or free_port()).start()
        api = Api(config, process, KeyStore(cql, keyspace), names)
        started.append(api)
        return api

    try:
        yield start
    finally:
        for api in started:
            api.process.stop()
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result(timeout=30)
        client = redis.Redis.from_url(stack.redis.url.get_secret_value())
        stale = list(client.scan_iter(f"{prefix}*"))
        if stale:
            client.delete(*stale)
        client.close()


@pytest.fixture
def start_api(
    stack: HeraldSettings, cql: Session, migrated: str, tmp_path: Path
) -> Iterator[Callable[..., Api]]:
    with api_launcher(stack, cql, migrated, tmp_path) as start:
        yield start


@pytest.fixture(scope="module")
def module_api(
    stack: HeraldSettings, cql: Session, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """One API for a whole module, on a keyspace of its own."""
    with (
        fresh_keyspace(cql) as keyspace,
        api_launcher(stack, cql, keyspace, tmp_path_factory.mktemp("api")) as start,
    ):
        yield start()


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api()


def requests_on_topic(api: Api, idle_s: float = 3.0) -> list[tuple[bytes, dict[str, object]]]:
    return records_on(api, api.names.requests, idle_s)


def records_on(api: Api, topic: str, idle_s: float = 3.0) -> list[tuple[bytes, dict[str, object]]]:
    """Every record on ``topic`` (key, decoded), read until ``idle_s`` pass with nothing
    new."""
    import time

    from confluent_kafka import Consumer

    from herald.codec import AvroCodec

    consumer = Consumer(
        api.settings.kafka.client_config(
            **{"group.id": f"test-read-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([topic])
    found: list[tuple[bytes, dict[str, object]]] = []
    quiet_since = time.monotonic()
    with AvroCodec.from_settings(api.settings.registry) as codec:
        try:
            while time.monotonic() - quiet_since < idle_s or not consumer.assignment():
                for message in consumer.consume(100, 0.5):
                    if message.error() is None:
                        found.append((message.key(), codec.decode(message.value())))
                        quiet_since = time.monotonic()
        finally:
            consumer.close()
    return found


# Debian's chromium, headless, without the background traffic this closed network refuses
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"  # kept after the run


@pytest.fixture
def browser(settings: HeraldSettings) -> Iterator[Browser]:
    """Debian's chromium (installed through apt when missing, as the stack's servers are),
    driven by Playwright; Playwright's own browser downloads are never used. For one test:
    Playwright's sync API keeps an event loop running in this thread until it stops, which
    would break every asyncio test after it."""
    path = system_command(settings, "chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
