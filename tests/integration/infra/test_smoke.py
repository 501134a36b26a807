"""The stack is real: Avro through Kafka and the registry, Cassandra rows, Redis, topic admin."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from cassandra.cluster import Session
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource

from herald.codec import AvroCodec, unframe
from herald.settings import HeraldSettings
from herald.topics import TopicSpec, ensure_topics, partition_count

GREETING = {
    "type": "record",
    "name": "Greeting",
    "namespace": "herald.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


def test_avro_record_round_trips_through_kafka_and_the_registry(
    stack: HeraldSettings, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("avro")
    record = {"id": uuid.uuid4().hex, "count": 42, "note": "héllo"}
    with AvroCodec.from_settings(stack.registry) as writer:
        schema_id = writer.register(f"{topic}-value", GREETING)
        value = writer.encode(schema_id, record)

    producer = Producer(stack.kafka.client_config(**{"enable.idempotence": True, "acks": "all"}))
    producer.produce(topic, key=record["id"].encode(), value=value)
    assert producer.flush(30) == 0

    consumer = Consumer(
        stack.kafka.client_config(
            **{
                "group.id": f"smoke-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
            }
        )
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        raw = message.value()
        assert raw is not None
    finally:
        consumer.close()

    framed_id, _ = unframe(raw)
    assert raw[0] == 0 and framed_id == schema_id
    # A reader with an empty cache must fetch the writer's schema from the registry by id.
    with AvroCodec.from_settings(stack.registry) as reader:
        assert reader.decode(raw) == record
        assert reader.latest_id(f"{topic}-value") == schema_id


def test_cassandra_keyspace_table_write_and_read(cql: Session, keyspace: str) -> None:
    cql.execute(
        f"CREATE TABLE {keyspace}.events (user_id text, at timeuuid, body text, "
        "PRIMARY KEY (user_id, at)) WITH CLUSTERING ORDER BY (at DESC)"
    )
    insert = cql.prepare(f"INSERT INTO {keyspace}.events (user_id, at, body) VALUES (?, now(), ?)")
    for body in ("first", "second"):
        cql.execute(insert, ("u1", body))
    rows = list(cql.execute(f"SELECT body FROM {keyspace}.events WHERE user_id = 'u1'"))
    assert [row.body for row in rows] == ["second", "first"]


def test_redis_round_trip(stack: HeraldSettings) -> None:
    import redis

    client = redis.Redis.from_url(stack.redis.url.get_secret_value())
    key = f"herald-test:{uuid.uuid4().hex}"
    try:
        client.zadd(key, {"a": 2.0, "b": 1.0})
        assert client.zrange(key, 0, -1) == [b"b", b"a"]
    finally:
        client.delete(key)
        client.close()


def test_topics_are_created_once_and_described(admin: AdminClient) -> None:
    name = f"herald-test.admin-{uuid.uuid4().hex[:8]}"
    spec = TopicSpec(name, partitions=3, config={"cleanup.policy": "compact"})
    try:
        ensure_topics(admin, [spec])
        ensure_topics(admin, [spec])  # a second call finds it there and changes nothing
        assert partition_count(admin, name) == 3
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        assert configs["cleanup.policy"].value == "compact"
    finally:
        admin.delete_topics([name], operation_timeout=30)[name].result(timeout=30)
