"""Readiness probes: each asks its server a real question, not just whether a port is open."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from herald.cassandra import cassandra_cluster
from herald.settings import HeraldSettings
from infra.stack.process import port_in_use
from infra.stack.servers import ServerPlan


def kafka(settings: HeraldSettings) -> bool:
    """Broker metadata answered."""
    admin = AdminClient(settings.kafka.client_config(**{"socket.timeout.ms": 2000}))
    try:
        return bool(admin.list_topics(timeout=3).brokers)
    except KafkaException:
        return False


def cassandra(settings: HeraldSettings) -> bool:
    """A CQL query answered."""
    from cassandra.cluster import NoHostAvailable

    cluster = cassandra_cluster(settings.cassandra, connect_timeout=3)
    # The driver logs each refused connection as an error while the node is starting.
    driver_log = logging.getLogger("cassandra")
    level = driver_log.level
    driver_log.setLevel(logging.CRITICAL)
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        return row is not None
    except (NoHostAvailable, OSError):
        return False
    finally:
        cluster.shutdown()
        driver_log.setLevel(level)


def registry(settings: HeraldSettings) -> bool:
    """The Confluent-compatible API listed its subjects."""
    try:
        return httpx.get(f"{settings.registry.url}/subjects", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def redis_ping(settings: HeraldSettings) -> bool:
    client = redis.Redis.from_url(settings.redis.url.get_secret_value(), socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


PROBES: dict[str, Callable[[HeraldSettings], bool]] = {
    "kafka": kafka,
    "cassandra": cassandra,
    "registry": registry,
    "redis": redis_ping,
}


def ready(plan: ServerPlan, settings: HeraldSettings) -> bool:
    """The port is open and the server answered its probe."""
    return port_in_use(plan.listen.host, plan.listen.port) and PROBES[plan.name](settings)
