"""Deleting what a demo run left under its prefix."""

from __future__ import annotations

import shutil
from contextlib import suppress

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec, RegistryError
from herald.contracts import subject, topic_contracts
from herald.errors import HeraldError
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from infra.stack.launcher import Say
from lab.demo.config import demo_home
from streams.app import app_id


def delete_run(settings: HeraldSettings, say: Say) -> None:
    """Remove what a run left under its prefix: topics (the worker's too), subjects, Redis keys
    (deferred notifications, retries, the delivery ledger) and the worker's directory.
    Problems are reported, not raised."""
    prefix = settings.kafka.topic_prefix
    try:
        admin = AdminClient(settings.kafka.client_config())
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result(timeout=30)
        _delete_subjects(settings)
        client = redis.Redis.from_url(settings.redis.url.get_secret_value())
        # Deferred notifications, sender retries, ledger, buckets and breakers.
        keys = [*TopicNames(prefix).deferred_keys, *client.scan_iter(match=f"{prefix}*")]
        client.delete(*keys)
        client.close()
    except (HeraldError, KafkaException, redis.RedisError) as error:
        say(f"warning: could not clean up everything under {prefix}: {error}")
        return
    shutil.rmtree(demo_home(settings) / "worker" / app_id(settings), ignore_errors=True)
    say(f"deleted this run's {len(ours)} topics, subjects and Redis keys under {prefix}")


def _delete_subjects(settings: HeraldSettings) -> None:
    """The prefix's subjects; those never registered (no worker ran) are skipped."""
    with AvroCodec.from_settings(settings.registry) as codec:
        for topic in topic_contracts(TopicNames(settings.kafka.topic_prefix)):
            with suppress(RegistryError):
                codec.delete_subject(subject(topic))
