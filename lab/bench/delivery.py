"""`herald bench delivery`: sender workers against the benchmark provider endpoint plus the
status sink.

On a fresh topic prefix and a fresh keyspace, with a private benchmark endpoint
(lab/bench/endpoint, every provider's shape at a fraction of the sandbox's CPU; its CPU and
memory are reported apart, under ``sandbox`` as before) on free ports, it publishes
channel messages straight to the channel topics at each offered rate (a third each to push, SMS
and email; push alternates android -> FCM and ios -> APNs) for a fixed time. Every second it
samples each sender group's and the sink group's lag and the processes' memory; the rate is
sustained when every lag stays flat. Every tenth message's publish time is remembered; its
latency is the ``WRITETIME`` of its ``sent`` row in ``notification_status`` (stamped by the sink's
driver, same clock) minus that time. Then one step at half the highest sustained rate, and last
the sink-only drain (`lab.bench.sink`) for the status rows a second into Cassandra.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cassandra.cluster import Cluster, Session
from cassandra.concurrent import execute_concurrent_with_args
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from connectors.sink.rows import ROWS_PER_STATUS
from herald.cassandra import CASSANDRA_ERRORS, cassandra_cluster
from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, TopicCodec
from herald.errors import CassandraOutage, KafkaOutage
from herald.migrate import migrate
from herald.models import Channel, ChannelMessage, State
from herald.progress import Progress, quiet
from herald.publisher import producer_config
from herald.settings import DeliverySettings, HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.process import cpu_seconds, rss_bytes
from lab.bench import sink
from lab.bench.endpoint.process import EndpointProcess, Tally
from lab.bench.pace import offer
from lab.bench.stats import percentile
from lab.bench.steps import (
    SINK,
    Step,
    bench_message,
    describe,
    lag_flat,
    latencies_ms,
    shares,
    sustained,
)
from lab.demo.cleanup import delete_run
from lab.offsets import GroupOffsets
from lab.sandboxes.config import on_free_ports
from lab.workers import WorkerProcess

Say = Callable[[str], None]

# Every provider's limits (HERALD_DELIVERY__<name>__RATE_PER_S and __BURST).
LIMITS = (
    "fcm.limits",
    "apns.limits",
    "aws.sms_limits",
    "aws.email_limits",
    "twilio.limits",
    "smtp.limits",
)


@dataclass
class Rig:
    """What a sweep drives: the topics' producer, the groups' offsets, the processes."""

    settings: HeraldSettings
    session: Session
    producer: Producer
    codecs: dict[Channel, TopicCodec[ChannelMessage]]
    groups: dict[str, GroupOffsets]
    processes: dict[str, list[WorkerProcess]]  # senders, sink, sandbox (the endpoint)
    endpoint: EndpointProcess
    run_id: str
    next_index: int = 0

    def cpu_s(self) -> dict[str, float]:
        return {
            name: sum(cpu_seconds(p.pid) or 0.0 for p in procs if p.pid)
            for name, procs in self.processes.items()
        }

    def rss_mb(self) -> dict[str, float]:
        return {
            name: sum(rss_bytes(p.pid) or 0 for p in procs if p.pid) / 2**20
            for name, procs in self.processes.items()
        }

    def publish(self, count: int, published_us: dict[str, int], sample_every: int) -> None:
        for _ in range(count):
            i, self.next_index = self.next_index, self.next_index + 1
            message = bench_message(i, self.run_id)
            codec = self.codecs[message.channel]
            value = codec.encode(message)
            while True:
                try:
                    self.producer.produce(codec.topic, key=message.user_id.encode(), value=value)
                    break
                except BufferError:
                    self.producer.poll(0.05)
            if i % sample_every == 0:
                published_us[message.notification_id] = time.time_ns() // 1000
        self.producer.poll(0)

    def lags(self) -> dict[str, tuple[int, int]]:
        """Per group: (committed, lag)."""
        read = {name: group.read() for name, group in self.groups.items()}
        return {name: (p.committed, p.lag) for name, p in read.items()}


def run_step(
    rig: Rig,
    rate: int,
    seconds: float,
    sample_every: int,
    drain_s: float,
    say: Say,
    progress: Progress = quiet,
) -> Step:
    published_us: dict[str, int] = {}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in rig.groups}
    rss: list[dict[str, float]] = []
    before, cpu_before, published = rig.lags(), rig.cpu_s(), 0
    next_sample = 0.0
    for elapsed in offer(seconds, 0.02, progress, f"delivery offered {rate}/s"):
        due = int(rate * elapsed) - published
        rig.publish(due, published_us, sample_every)
        published += max(due, 0)
        if elapsed >= next_sample:
            for name, (_, lag) in rig.lags().items():
                samples[name].append((elapsed, float(lag)))
            rss.append(rig.rss_mb())
            next_sample += 1.0
    if rig.producer.flush(60) > 0:
        raise KafkaOutage("the broker did not confirm every benchmark message")
    after, cpu_after = rig.lags(), rig.cpu_s()
    drain(rig, drain_s, say)
    written = written_us(rig.session, rig.settings.cassandra.keyspace, list(published_us))
    latencies = latencies_ms(published_us, written)
    flat = {name: lag_flat(s, shares(rate)[name]) for name, s in samples.items()}
    senders = [c.value for c in Channel]
    return Step(
        offered_per_s=rate,
        published=published,
        achieved_messages_per_s=sum(after[n][0] - before[n][0] for n in senders) / seconds,
        achieved_rows_per_s=ROWS_PER_STATUS * (after[SINK][0] - before[SINK][0]) / seconds,
        flat=all(flat.values()),
        lag_flat=flat,
        final_lag={name: lag for name, (_, lag) in after.items()},
        latency_samples=len(published_us),
        latency_found=len(latencies),
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        sender_rss_mb=_peak(rss, "senders"),
        sink_rss_mb=_peak(rss, "sink"),
        sandbox_rss_mb=_peak(rss, "sandbox"),
        cpu_cores={n: round((cpu_after[n] - cpu_before[n]) / seconds, 2) for n in cpu_after},
        lag_samples=samples,
    )


def _peak(rss: Sequence[Mapping[str, float]], name: str) -> float | None:
    return round(max(r[name] for r in rss), 1) if rss else None


def drain(rig: Rig, limit_s: float, say: Say) -> None:
    """Wait until every group has caught up (or ``limit_s`` passed)."""
    deadline = time.monotonic() + limit_s
    while (behind := sum(lag for _, lag in rig.lags().values())) > 0:
        if time.monotonic() > deadline:
            say(f"still {behind} behind after {limit_s:.0f}s; going on")
            return
        time.sleep(0.5)


def written_us(session: Session, keyspace: str, ids: Sequence[str]) -> dict[str, int]:
    """Each notification's ``sent`` row's write time (microseconds since the epoch)."""
    query = session.prepare(
        f"SELECT state, WRITETIME(user_id) FROM {keyspace}.notification_status "  # noqa: S608
        "WHERE notification_id = ?"
    )
    found: dict[str, int] = {}
    results = execute_concurrent_with_args(session, query, [(i,) for i in ids], concurrency=64)
    for key, (ok, rows) in zip(ids, results, strict=True):
        for row in rows if ok else ():
            if row[0] == State.SENT.value:
                found[key] = row[1]
    return found


def sweep(
    rig: Rig, rates: Sequence[int], seconds: float, say: Say, progress: Progress = quiet
) -> list[Step]:
    """Rates in order, until one is not sustained."""
    steps: list[Step] = []
    for rate in rates:
        steps.append(run_step(rig, rate, seconds, 10, 120, say, progress))
        say(describe(steps[-1]))
        if not steps[-1].flat:
            break
    return steps


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(total_kb / 2**20, 1),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


# Far above what a sender reaches, yet below UNLIMITED_RATE: the token bucket stays in force
# (its Redis calls are part of what a delivery costs), it just never holds a call back.
BENCH_RATE_PER_S = 100_000


def lifted(delivery: DeliverySettings) -> DeliverySettings:
    """Every provider's rate limit raised out of the way, so the benchmark measures the
    senders, not the accounts' limits; the buckets still take a token for every call."""
    update: dict[str, Any] = {}
    for path in LIMITS:
        provider, field = path.split(".")
        section = update.get(provider) or getattr(delivery, provider)
        limits = getattr(section, field).model_copy(
            update={"rate_per_s": BENCH_RATE_PER_S, "burst": BENCH_RATE_PER_S}
        )
        update[provider] = section.model_copy(update={field: limits})
    return delivery.model_copy(update=update)


def bench_settings(stack: HeraldSettings, workdir: Path, run_id: str) -> HeraldSettings:
    """The run's prefix, keyspace and provider endpoint (the sandbox profile), with the
    providers' limits lifted."""
    keyspace = f"bench_delivery_{run_id}"
    sandboxed = on_free_ports(stack.delivery, workdir / f"sandbox-{run_id}")
    return stack.with_prefix(f"bench-delivery-{run_id}.").model_copy(
        update={
            "cassandra": stack.cassandra.model_copy(update={"keyspace": keyspace}),
            "delivery": lifted(sandboxed),
        }
    )


@contextmanager
def rig(
    settings: HeraldSettings, workdir: Path, senders: int, session: Session, run_id: str
) -> Iterator[Rig]:
    """Topics, the endpoint, the sink and ``senders`` sender workers per channel, running."""
    names = TopicNames(settings.kafka.topic_prefix)
    ensure_topics(
        AdminClient(settings.kafka.client_config()),
        pipeline_topics(names, settings.pipeline.partitions),
    )
    log = workdir / names.prefix
    endpoint = EndpointProcess(settings, Path(f"{log}endpoint.log"))
    processes: dict[str, list[WorkerProcess]] = {
        "sandbox": [endpoint],  # the key the figures have always had
        "sink": [WorkerProcess("sink", settings, Path(f"{log}sink.log"))],
        "senders": [
            WorkerProcess(
                "sender", settings, Path(f"{log}sender-{c}-{n}.log"), args=("--channel", c)
            )
            for c in Channel
            for n in range(senders)
        ],
    }
    with ExitStack() as stack:
        for process in [p for procs in processes.values() for p in procs]:
            stack.enter_context(process)
        codec = stack.enter_context(AvroCodec.from_settings(settings.registry))
        groups = {
            **{c.value: GroupOffsets(settings, f"{names.prefix}sender-{c}", [names.channel(c)])
               for c in Channel},
            SINK: GroupOffsets(settings, f"{names.prefix}status-sink", [names.status]),
        }  # fmt: skip
        for group in groups.values():
            stack.callback(group.close)
        yield Rig(
            settings=settings,
            session=session,
            producer=Producer(producer_config(settings)),
            codecs={c: TopicCodec(codec, names.channel(c.value), CHANNEL_MESSAGE) for c in Channel},
            groups=groups,
            processes=processes,
            endpoint=endpoint,
            run_id=run_id,
        )


def _rows(session: Session, keyspace: str) -> dict[str, int]:
    return {t: sink.count_rows(session, keyspace, t) for t in sink.TABLES}


def measure(
    settings: HeraldSettings,
    session: Session,
    rates: Sequence[int],
    seconds: float,
    senders: int,
    workdir: Path,
    say: Say,
    run_id: str,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """The sweep, then half the highest sustained rate, and the rows found afterwards."""
    keyspace = settings.cassandra.keyspace
    with rig(settings, workdir, senders, session, run_id) as running:
        say(f"prefix {settings.kafka.topic_prefix}, keyspace {keyspace}: workers ready")
        steps = sweep(running, rates, seconds, say, progress)
        best = sustained(steps)
        half = run_step(running, best // 2, seconds, 10, 120, say, progress) if best >= 2 else None
        if half is not None:
            say("half of the highest sustained rate: " + describe(half))
        received: Tally = running.endpoint.counts()
    rows = _rows(session, keyspace)
    return {
        "steps": [asdict(s) for s in steps],
        "sustained_per_s": best,
        "half_rate_step": asdict(half) if half else None,
        "messages_published": running.next_index,
        "rows_found": rows,
        "rows_missing": 2 * running.next_index - sum(rows.values()),
        "endpoint_counts": received,  # what the endpoint took and refused, per provider
    }


def _clean(settings: HeraldSettings, cluster: Cluster, say: Say) -> None:
    """Drop the run's keyspace; delete its topics, subjects and Redis keys."""
    keyspace = settings.cassandra.keyspace
    try:
        cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
    except CASSANDRA_ERRORS as error:
        say(f"warning: could not drop {keyspace}: {type(error).__name__}")
    delete_run(settings, say)


def run(
    stack: HeraldSettings,
    rates: Sequence[int],
    seconds: float,
    senders: int,
    sink_events: int,
    out: Path,
    workdir: Path,
    say: Say,
    *,
    keep: bool = False,
    progress: Progress = quiet,
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    settings = bench_settings(stack, workdir, run_id)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "rates": list(rates),
        "step_seconds": seconds,
        "senders_per_channel": senders,
        "mix": "a third each push (android FCM, ios APNs alternating), sms (SNS), email (SMTP)",
        "provider_endpoint": "the benchmark endpoint (lab/bench/endpoint)",
    }
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect()
        migrate(session, settings.cassandra)
        results |= measure(
            settings, session, rates, seconds, senders, workdir, say, run_id, progress
        )
    except CASSANDRA_ERRORS as error:
        raise CassandraOutage(
            f"Cassandra failed during the benchmark: {type(error).__name__}"
        ) from error
    finally:
        if not keep:
            _clean(settings, cluster, say)
        cluster.shutdown()
    drained = sink.run(stack, sink_events, out.with_suffix(".sink.json"), workdir, say, keep=keep)
    results["sink_drain"] = {k: v for k, v in drained.items() if k != "samples"}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results
