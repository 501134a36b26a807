"""Assembling a sender worker from settings: the clients it owns, and their closing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import redis.asyncio as redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from connectors.base import Sender
from connectors.delivery.breaker import Breakers
from connectors.delivery.bucket import Buckets
from connectors.delivery.deliver import Delivery, Shared
from connectors.delivery.emit import Emitter
from connectors.delivery.ledger import Ledger, new_owner
from connectors.delivery.worker import SenderWorker, consumer_config
from connectors.registry import build_senders, channel_providers, close_senders, provider_limits
from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, TopicCodec
from herald.deferred import DeferredStore
from herald.metrics import SenderMetrics
from herald.models import Channel
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics

REDIS_CONNECTIONS = 32


@asynccontextmanager
async def open_sender(
    settings: HeraldSettings, channel: Channel, metrics: SenderMetrics | None = None
) -> AsyncIterator[SenderWorker]:
    """The sender worker of ``channel``, subscribed, counting into ``metrics`` (serve its
    registry to expose them; ``metrics.served`` false: the gauges that cost a Redis call are
    not sampled). A provider without its settings stops it here, before any connection."""
    senders = build_senders(settings, channel)
    metrics = metrics or SenderMetrics(channel.value, served=False)
    names = TopicNames(settings.kafka.topic_prefix)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(close_senders, senders)
        ensure_topics(
            AdminClient(settings.kafka.client_config()),
            pipeline_topics(names, settings.pipeline.partitions),
        )
        worker = await _assemble(settings, channel, names, stack, senders, metrics)
        worker.subscribe()
        yield worker


async def _assemble(
    settings: HeraldSettings,
    channel: Channel,
    names: TopicNames,
    stack: AsyncExitStack,
    senders: dict[str, Sender],
    metrics: SenderMetrics,
) -> SenderWorker:
    delivery = settings.delivery
    # A round runs up to batch_size messages at once, each a few short Redis calls: they
    # queue for a bounded pool instead of failing once it is exhausted.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis.url.get_secret_value(), max_connections=REDIS_CONNECTIONS, timeout=30
    )
    client = redis.Redis.from_pool(pool)  # owns the pool: closing it closes the connections
    stack.push_async_callback(client.aclose)
    codec = stack.enter_context(AvroCodec.from_settings(settings.registry))
    producer = Producer(producer_config(settings))
    stack.callback(producer.flush, 30)
    consumer = Consumer(consumer_config(settings, channel.value))
    stack.callback(consumer.close)  # leaves the group: the partitions move at once
    limits = {name: provider_limits(delivery, name) for name in senders}
    retries = DeferredStore(
        client, names.retry_keys(channel.value), stale_after_s=delivery.in_flight_stale_s
    )
    shared = Shared(
        Ledger(
            client, new_owner(), stale_s=delivery.in_flight_stale_s, ttl_s=delivery.ledger_ttl_s
        ),
        Breakers(client, names, limits),
        Buckets(client, names, limits),
        retries,
    )
    topic_codec = TopicCodec(codec, names.channel(channel.value), CHANNEL_MESSAGE)
    emitter = Emitter(producer, codec, names, stage=f"sender.{channel.value}")
    flow = Delivery(
        channel,
        senders,
        channel_providers(delivery, channel),
        shared,
        names,
        emitter,
        topic_codec,
        delivery,
        metrics,
    )
    return SenderWorker(
        consumer,
        topic_codec.topic,
        flow,
        retries,
        topic_codec,
        emitter,
        batch_size=delivery.batch_size,
        poll_s=delivery.poll_s,
        linger_s=delivery.linger_s,
    )
