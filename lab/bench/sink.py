"""`herald bench sink`: status events a second one sink worker writes into Cassandra.

N status events (two per notification, ``queued`` then ``sent``, ten notifications per user)
are produced to a fresh prefix's status topic first; then one `herald worker sink` on a fresh
keyspace drains them. The sink group's lag is sampled every second: the sustained rate is the
slope of events written over the middle of the run (warm-up and tail left out). Last, both
tables are counted, so a rate never hides a lost row.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from cassandra.query import SimpleStatement
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from connectors.sink.app import ensure_sink_topics
from connectors.sink.rows import ROWS_PER_STATUS
from herald.cassandra import cassandra_cluster
from herald.codec import AvroCodec
from herald.contracts import STATUS, TopicCodec
from herald.errors import KafkaOutage
from herald.history import REQUEST_TABLE, STATUS_TABLE, USER_TABLE
from herald.migrate import migrate
from herald.models import Channel, DeliveryStatus, State
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from infra.stack.process import rss_bytes
from lab.bench.stats import slope
from lab.offsets import group_lag
from lab.workers import WorkerProcess

Say = Callable[[str], None]
TABLES = (STATUS_TABLE, USER_TABLE, REQUEST_TABLE)


def expected_rows(events: int) -> dict[str, int]:
    """What ``statuses(events)`` leaves: a row per event in the timelines and the users' days,
    one per notification (its latest state) in the requests' outcomes."""
    return {STATUS_TABLE: events, USER_TABLE: events, REQUEST_TABLE: (events + 1) // 2}


def statuses(count: int, start: datetime) -> Iterator[DeliveryStatus]:
    """``count`` statuses: per notification ``queued`` then ``sent``; ten per user."""
    for i in range(count):
        note = i // 2
        sent = i % 2 == 1
        yield DeliveryStatus(
            notification_id=f"bench-n{note}",
            request_id=f"bench-r{note // 100}",
            user_id=f"bench-u{note // 10}",
            state=State.SENT if sent else State.QUEUED,
            occurred_at=start + timedelta(milliseconds=i),
            channel=Channel.PUSH,
            provider="fcm" if sent else None,
            provider_message_id=f"projects/herald/messages/{note}" if sent else None,
            attempt=1 if sent else 0,
        )


def produce(settings: HeraldSettings, codec: AvroCodec, count: int) -> None:
    topic = TopicNames(settings.kafka.topic_prefix).status
    encoder = TopicCodec(codec, topic, STATUS)
    producer = Producer(producer_config(settings, **{"linger.ms": 50}))
    for status in statuses(count, datetime.now(UTC)):
        value = encoder.encode(status)
        while True:
            try:
                producer.produce(topic, key=status.notification_id.encode(), value=value)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) > 0:
        raise KafkaOutage("the broker did not confirm every benchmark status")


def count_rows(session: Session, keyspace: str, table: str) -> int:
    """Every row of a table, paged (a benchmark's table is small enough to scan)."""
    query = f"SELECT notification_id FROM {keyspace}.{table}"  # noqa: S608 - our identifiers
    return sum(1 for _ in session.execute(SimpleStatement(query, fetch_size=5000), timeout=60))


def drain(
    settings: HeraldSettings, worker: WorkerProcess, count: int, say: Say, limit_s: float
) -> dict[str, Any]:
    """Sample the sink group's lag until it is 0: the written-over-time curve and peak RSS."""
    group = f"{settings.kafka.topic_prefix}status-sink"
    topic = TopicNames(settings.kafka.topic_prefix).status
    started = time.monotonic()
    samples: list[tuple[float, float]] = []
    peak = 0
    while True:
        written = count - group_lag(settings, group, [topic])
        now = time.monotonic() - started
        samples.append((now, float(written)))
        peak = max(peak, (rss_bytes(worker.pid) or 0) if worker.pid else 0)
        if written >= count or now > limit_s:
            break
        time.sleep(1.0)
    middle = [(t, w) for t, w in samples if 0.1 * count <= w <= 0.9 * count]
    sustained = slope(middle) if len(middle) >= 3 else written / max(now, 1e-9)
    say(f"sink: {written} of {count} in {now:.1f}s, sustained {sustained:.0f} events/s")
    return {
        "written": int(written),
        "seconds": round(now, 1),
        "events_per_s": round(sustained),
        "rows_per_s": round(ROWS_PER_STATUS * sustained),
        "overall_events_per_s": round(written / max(now, 1e-9)),
        "peak_worker_rss_mb": round(peak / 2**20),
        "samples": samples,
    }


def run(
    stack: HeraldSettings,
    events: int,
    out: Path,
    workdir: Path,
    say: Say,
    *,
    keep: bool = False,
    limit_s: float = 900.0,
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    keyspace = f"bench_sink_{run_id}"
    settings = stack.with_prefix(f"bench-sink-{run_id}.").model_copy(
        update={"cassandra": stack.cassandra.model_copy(update={"keyspace": keyspace})}
    )
    cluster = cassandra_cluster(settings.cassandra)
    session = cluster.connect()
    names = TopicNames(settings.kafka.topic_prefix)
    try:
        migrate(session, settings.cassandra)
        ensure_sink_topics(settings)
        started = time.monotonic()
        with AvroCodec.from_settings(settings.registry) as codec:
            produce(settings, codec, events)
        say(f"produced {events} statuses in {time.monotonic() - started:.1f}s")
        with WorkerProcess("sink", settings, workdir / f"sink-{run_id}.log") as worker:
            results = drain(settings, worker, events, say, limit_s)
        rows = {t: count_rows(session, keyspace, t) for t in TABLES}
        say(f"rows in Cassandra: {rows}")
        results = {
            "events": events,
            "batch_size": settings.sink.batch_size,
            "concurrency": settings.sink.concurrency,
            "started_at": datetime.now(UTC).isoformat(),
            "rows_found": rows,
            "rows_missing": sum(expected_rows(events).values()) - sum(rows.values()),
            **results,
        }
    finally:
        if not keep:
            session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
            admin = AdminClient(settings.kafka.client_config())
            admin.delete_topics([names.status, names.dead_letter], operation_timeout=30)
        cluster.shutdown()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results
