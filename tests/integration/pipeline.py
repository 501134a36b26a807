"""A Herald streams worker on its own topic prefix, and helpers to drive it like a service."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec
from herald.models import (
    Channel,
    DeliveryStatus,
    NotificationRequest,
    Priority,
    UserContacts,
    UserPreferences,
)
from herald.publisher import Publisher
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from lab.offsets import wait_caught_up
from lab.statuses import StatusReader
from lab.workers import WorkerProcess
from streams.app import app_id


def request(
    recipients: list[str], *, template: str = "order_shipped", **fields: object
) -> NotificationRequest:
    values: dict[str, object] = {
        "request_id": f"req-{uuid.uuid4().hex}",
        "source": "tests",
        "category": "transactional",
        "priority": Priority.NORMAL,
        "template_id": template,
        "recipients": recipients,
        "created_at": datetime.now(UTC),
        "data": {"name": "Ann", "order_id": "42"},
    }
    values.update(fields)
    return NotificationRequest(**values)  # type: ignore[arg-type]


def user(prefix: str = "u") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def reachable(user_id: str) -> UserContacts:
    from herald.models import Device, Platform

    return UserContacts(
        user_id,
        devices=(Device(f"tok-{user_id}", Platform.ANDROID),),
        phone="+12015550100",  # 555-01xx: fictional, valid for its country
        email=f"{user_id}@example.com",
    )


@dataclass
class Pipeline:
    settings: HeraldSettings
    worker: WorkerProcess
    publisher: Publisher
    codec: AvroCodec
    names: TopicNames
    readers: list[StatusReader] = field(default_factory=list)

    def profiles(
        self, prefs: Iterable[UserPreferences] = (), contacts: Iterable[UserContacts] = ()
    ) -> None:
        """Publish profiles and wait until the worker has applied them."""
        self.publisher.publish_preferences(prefs)
        self.publisher.publish_contacts(contacts)
        wait_caught_up(
            self.settings,
            app_id(self.settings),
            [self.names.user_preferences, self.names.user_contacts],
        )

    def statuses(self) -> StatusReader:
        reader = StatusReader(self.settings, self.codec)
        self.readers.append(reader)
        return reader

    def outcome(
        self, requests: list[NotificationRequest], per_user: int = 3, timeout_s: float = 60
    ) -> dict[tuple[str, str | None], DeliveryStatus]:
        """Wait for ``per_user`` statuses per recipient of ``requests``; the latest by
        (user, channel)."""
        ids = {r.request_id for r in requests}
        wanted = sum(len(r.recipients) for r in requests) * per_user
        reader = self.statuses()

        def mine() -> list[DeliveryStatus]:
            return [s for s in reader.seen if s.request_id in ids]

        reader.wait_until(lambda _: len(mine()) >= wanted, timeout_s)
        return {(s.user_id, s.channel): s for s in mine()}


@contextmanager
def running_pipeline(stack: HeraldSettings, workdir: Path) -> Iterator[Pipeline]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = stack.with_prefix(prefix)
    names = TopicNames(prefix)
    admin = AdminClient(settings.kafka.client_config())
    ensure_topics(admin, pipeline_topics(names, settings.pipeline.partitions))
    with ExitStack() as cleanup:  # undone in reverse, whichever step failed
        cleanup.callback(_delete_run, admin, settings, names)
        worker_settings = settings.updated(pipeline={"deferred_poll_s": 0.5})
        first = WorkerProcess("streams", worker_settings, workdir / "worker.log").start()
        codec = cleanup.enter_context(AvroCodec.from_settings(settings.registry))
        publisher = cleanup.enter_context(Publisher(settings, codec=codec))
        pipeline = Pipeline(settings, first, publisher, codec, names)
        cleanup.callback(_close_readers, pipeline)
        cleanup.callback(lambda: pipeline.worker.stop())  # the test may have replaced it
        yield pipeline


def _close_readers(pipeline: Pipeline) -> None:
    for reader in pipeline.readers:
        reader.close()


def _delete_run(admin: AdminClient, settings: HeraldSettings, names: TopicNames) -> None:
    """Everything a run left under its prefix: topics (the worker's too), deferred sets."""
    ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(names.prefix)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result(timeout=30)
    client = redis.Redis.from_url(settings.redis.url.get_secret_value())
    client.delete(*names.deferred_keys)
    client.close()


CHANNELS = (Channel.PUSH, Channel.SMS, Channel.EMAIL)


def read_records(
    pipeline: Pipeline, topic: str, count: int, timeout_s: float = 30
) -> list[tuple[dict[str, str], bytes | None, dict[str, object] | None]]:
    """The first ``count`` records of ``topic``: (headers, raw value, decoded value or None)."""
    import time

    from confluent_kafka import Consumer

    consumer = Consumer(
        pipeline.settings.kafka.client_config(
            **{
                "group.id": f"test-read-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
            }
        )
    )
    consumer.subscribe([topic])
    found: list[tuple[dict[str, str], bytes | None, dict[str, object] | None]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < count and time.monotonic() < deadline:
            for message in consumer.consume(100, 0.5):
                if message.error() is not None:
                    continue
                headers = {k: (v or b"").decode() for k, v in message.headers() or []}
                try:
                    decoded: dict[str, object] | None = pipeline.codec.decode(message.value())
                except Exception:
                    decoded = None
                found.append((headers, message.value(), decoded))
    finally:
        consumer.close()
    return found
