"""Assembling a sender worker from settings: the clients it owns, and their closing."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from contextlib import AsyncExitStack

import redis.asyncio as redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

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


async def run_sender(
    settings: HeraldSettings,
    channel: Channel,
    on_ready: Callable[[], None],
    stop: asyncio.Event | None = None,
    metrics: SenderMetrics | None = None,
) -> None:
    """Run the sender worker of ``channel`` until ``stop`` is set (or SIGTERM / SIGINT),
    counting into ``metrics`` (serve its registry to expose them; ``metrics.served`` false:
    the gauges that cost a Redis call are not sampled)."""
    stop = stop or asyncio.Event()
    metrics = metrics or SenderMetrics(channel.value, served=False)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    names = TopicNames(settings.kafka.topic_prefix)
    ensure_topics(
        AdminClient(settings.kafka.client_config()),
        pipeline_topics(names, settings.pipeline.partitions),
    )
    async with AsyncExitStack() as stack:
        worker = await _assemble(settings, channel, names, stack, on_ready, metrics)
        worker.subscribe()
        await worker.run(stop)


async def _assemble(
    settings: HeraldSettings,
    channel: Channel,
    names: TopicNames,
    stack: AsyncExitStack,
    on_ready: Callable[[], None],
    metrics: SenderMetrics,
) -> SenderWorker:
    delivery = settings.delivery
    # A round runs up to batch_size messages at once, each a few short Redis calls: they
    # queue for a bounded pool instead of failing once it is exhausted.
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis.url.get_secret_value(), max_connections=REDIS_CONNECTIONS, timeout=30
    )
    client = redis.Redis(connection_pool=pool)
    stack.push_async_callback(client.aclose)
    codec = stack.enter_context(AvroCodec.from_settings(settings.registry))
    producer = Producer(producer_config(settings))
    stack.callback(producer.flush, 30)
    consumer = Consumer(consumer_config(settings, channel.value))
    stack.callback(consumer.close)  # leaves the group: the partitions move at once
    senders = build_senders(settings, channel)
    stack.push_async_callback(close_senders, senders)
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
    emitter = Emitter(producer, codec, names)
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
        on_ready=on_ready,
    )
