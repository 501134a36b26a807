"""The Faust app: built by a factory from settings, agents registered on it, no import-time I/O.

requests --fan_out--> requests-by-user --decide--> channel.push/sms/email  (+ status for each step)
user-preferences / user-contacts --> tables co-partitioned with per-user (by user_id)
templates --> every worker's template store, read whole (herald.template_feed)
address-invalidations --> the dead address out of user-contacts (table and topic)
deferred (Redis) --timer--> per-user
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import faust
import redis.asyncio as redis
from confluent_kafka.admin import AdminClient
from faust.exceptions import PartitionsMismatch

from herald.codec import AvroCodec
from herald.contracts import (
    CONTACTS,
    INVALIDATION,
    PREFERENCES,
    REQUEST,
    TopicCodec,
    register_all,
)
from herald.deferred import DeferredStore
from herald.errors import OutageError
from herald.links import LinkSigner
from herald.profiles import check_contacts, check_preferences
from herald.settings import HeraldSettings
from herald.template_feed import TemplateFeed
from herald.templating import TemplateStore
from herald.topics import TopicNames, TopicSpec, describe
from streams.handlers import Clock, Codecs, Handlers, utc_now
from streams.outbox import Outbox, raw_topic
from streams.producer import StreamProducer
from streams.tables import StateTable

log = logging.getLogger(__name__)


def app_id(settings: HeraldSettings) -> str:
    """Consumer group and changelog names follow the topic prefix, so prefixes isolate."""
    return f"{settings.kafka.topic_prefix}streams"


TABLES = ("user-preferences", "user-contacts", "user-state")


def changelog_topics(settings: HeraldSettings) -> list[TopicSpec]:
    """The tables' changelog topics, named as Faust names them. The worker creates them before
    Faust starts: on a fresh cluster Faust's own creation can lag its producer's metadata, and
    every table write then fails with PartitionsMismatch."""
    return [
        TopicSpec(
            f"{app_id(settings)}-{table}-changelog",
            settings.pipeline.partitions,
            settings.pipeline.replication_factor,
            {"cleanup.policy": "compact"},
        )
        for table in TABLES
    ]


def faust_app(settings: HeraldSettings) -> faust.App:
    brokers = [f"kafka://{b.strip()}" for b in settings.kafka.bootstrap_servers.split(",")]
    return faust.App(
        app_id(settings),
        broker=brokers,
        store="memory://",
        topic_partitions=settings.pipeline.partitions,
        topic_replication_factor=settings.pipeline.replication_factor,
        web_enabled=False,
        producer_acks=-1,
        # Batch produce requests: with Faust's default of no linger, every record became its
        # own request and socket write (a fifth of a busy worker's time).
        producer_linger_ms=settings.pipeline.producer_linger_ms,
        producer_max_batch_size=256 * 1024,
        broker_session_timeout=settings.pipeline.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.pipeline.session_timeout_s / 3),
        consumer_auto_offset_reset="earliest",
        datadir=str(settings.pipeline.worker_dir / app_id(settings)),
        producer_max_request_size=16 * 1024 * 1024,
        consumer_max_fetch_size=16 * 1024 * 1024,
    )


def create_app(settings: HeraldSettings, *, clock: Clock = utc_now) -> faust.App:
    names = TopicNames(settings.kafka.topic_prefix)
    partitions = settings.pipeline.partitions
    batch = settings.pipeline.batch
    app = faust_app(settings)
    codec = AvroCodec.from_settings(settings.registry)
    redis_client = redis.Redis.from_url(settings.redis.url.get_secret_value())
    producer = StreamProducer(settings)
    register_all(codec, names)
    templates = TemplateStore(
        settings.pipeline.templates_dir, max_sms_segments=settings.pipeline.max_sms_segments
    )
    template_feed = TemplateFeed(settings, templates)
    template_feed.catch_up()  # no request renders a file the topic has replaced
    template_feed.start()
    outbox = Outbox(producer, codec, names, crash=app.crash)
    handlers = Handlers(
        Codecs(
            requests=TopicCodec(codec, names.requests, REQUEST),
            per_user=TopicCodec(codec, names.per_user, REQUEST),
            preferences=TopicCodec(codec, names.user_preferences, PREFERENCES),
            contacts=TopicCodec(codec, names.user_contacts, CONTACTS),
            invalidations=TopicCodec(codec, names.address_invalidations, INVALIDATION),
        ),
        outbox,
        templates,
        DeferredStore(redis_client, keys=names.deferred_keys),
        settings.pipeline,
        clock,
        on_fatal=app.crash,
        # a table whose changelog does not match is the deployment's fault, not the event's
        infrastructure=(OutageError, PartitionsMismatch),
        partitions=per_user_partitions(settings),
        links=LinkSigner.configured(settings.links),
    )
    # Faust picks a table's changelog serializers from its types: bytes -> raw, else JSON.
    preferences = app.Table(
        "user-preferences", partitions=partitions, key_type=str, value_type=bytes
    )
    contacts = app.Table("user-contacts", partitions=partitions, key_type=str, value_type=bytes)
    states = app.Table("user-state", partitions=partitions, key_type=str, value_type=bytes)
    state_table = StateTable(states, outbox)

    @app.agent(raw_topic(app, names.requests))
    async def fan_out(stream: Any) -> None:
        async for events in stream.take_events(batch.size, within=batch.within_s):
            await handlers.fan_out_batch(events)

    @app.agent(raw_topic(app, names.user_preferences))
    async def track_preferences(stream: Any) -> None:
        async for event in stream.events():
            await handlers.guarded(
                event,
                partial(
                    handlers.profile,
                    event,
                    preferences,
                    handlers.codecs.preferences,
                    check_preferences,
                ),
                "preferences",
            )
            await outbox.confirmed()  # its dead letter, if it made one, before it is acknowledged

    @app.agent(raw_topic(app, names.user_contacts))
    async def track_contacts(stream: Any) -> None:
        async for event in stream.events():
            await handlers.guarded(
                event,
                partial(
                    handlers.profile,
                    event,
                    contacts,
                    handlers.codecs.contacts,
                    partial(check_contacts, strict=True),
                ),
                "contacts",
            )
            await outbox.confirmed()  # its dead letter, if it made one, before it is acknowledged

    @app.agent(raw_topic(app, names.address_invalidations))
    async def drop_dead_addresses(stream: Any) -> None:
        async for event in stream.events():
            await handlers.guarded(
                event, partial(handlers.invalidate, event, contacts), "invalidation"
            )
            await outbox.confirmed()  # its records and dead letter, before it is acknowledged

    @app.agent(raw_topic(app, names.per_user))
    async def decide(stream: Any) -> None:
        async for events in stream.take_events(batch.size, within=batch.within_s):
            await handlers.decide_batch(events, preferences.data, contacts.data, state_table)

    @app.timer(settings.pipeline.deferred_poll_s)  # type: ignore[untyped-decorator]
    async def release_deferred() -> None:
        try:
            await handlers.release_due()
        except OutageError as error:  # the next tick tries again; nothing was removed
            log.warning("releasing deferred notifications: %s", type(error).__name__)

    async def close_clients(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        producer.close()
        codec.close()
        template_feed.close()
        await redis_client.aclose()
        log.info("closed the producer, the templates feed, the schema registry and Redis clients")

    app.on_before_shutdown.connect(close_clients)
    return app


def per_user_partitions(settings: HeraldSettings) -> int:
    """The per-user topic's partition count as created (shards are placed by it), the
    setting when the topic is not there yet."""
    admin = AdminClient(settings.kafka.client_config())
    found = describe(admin, [TopicNames(settings.kafka.topic_prefix).per_user])
    return next(iter(found.values()), settings.pipeline.partitions)
