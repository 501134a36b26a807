"""`herald bench campaign`: one request to N recipients, until every `sent` row is in Cassandra.

On a fresh prefix and keyspace, each of N users gets one android push device; then one
streams worker, one push sender, the sink and the benchmark provider endpoint
(lab/bench/endpoint: FCM's shape at about 50 microseconds of CPU a push) run as processes of
their own, and one request names all N users. Every second it records how far each stage got
(recipients fanned out into shards, push messages decided, messages the sender committed,
status events the sink committed) and each process's CPU seconds and memory, the stack's
servers included. It ends when the sink has written every status (``queued`` and ``sent`` for
each recipient); then the status table is read whole, so the figure is a count of `sent`
rows, not a sample, and the endpoint says how many pushes it took.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cassandra.cluster import Session
from cassandra.query import SimpleStatement
from confluent_kafka.admin import AdminClient

from herald.cassandra import cassandra_cluster
from herald.migrate import migrate
from herald.models import (
    Channel,
    Device,
    Platform,
    State,
    UserContacts,
    notification_id,
)
from herald.progress import Progress, quiet
from herald.publisher import Publisher
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.launcher import Stack
from infra.stack.process import cpu_seconds, rss_bytes
from lab.bench import delivery, pipeline
from lab.bench.endpoint.process import EndpointProcess, Tally
from lab.bench.stats import slope
from lab.demo.cleanup import delete_run
from lab.offsets import GroupOffsets, TopicSizes, wait_caught_up
from lab.workers import WorkerProcess
from streams.app import app_id
from streams.shards import partition_for

Say = Callable[[str], None]
STAGES = ("fanned_out", "decided", "sent", "status_events")


def users(count: int) -> list[str]:
    return [f"c-{i}" for i in range(count)]


def shard_count(recipients: Sequence[str], partitions: int, size: int) -> int:
    """How many records the fan-out writes for ``recipients`` (streams/shards.py)."""
    per_partition = [0] * partitions
    for user_id in recipients:
        per_partition[partition_for(user_id.encode(), partitions)] += 1
    return sum(math.ceil(n / size) for n in per_partition)


@dataclass
class Sample:
    at_s: float
    stages: dict[str, int]  # recipients (or status events) each stage has done
    cpu_s: dict[str, float]  # per process, so far
    rss_mb: dict[str, float]


@dataclass
class Processes:
    """Herald's workers and the provider endpoint, plus the stack's servers (by name)."""

    workers: dict[str, WorkerProcess]
    endpoint: EndpointProcess
    servers: dict[str, int] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        ours = {name: p.pid for name, p in self.workers.items() if p.pid}
        return {**ours, **self.servers}

    def cpu_s(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids().items()}

    def rss_mb(self) -> dict[str, float]:
        return {name: (rss_bytes(pid) or 0) / 2**20 for name, pid in self.pids().items()}


class Stages:
    """Reads how far each stage got, as the broker's offsets say."""

    def __init__(self, settings: HeraldSettings, recipients: int, shards: int) -> None:
        self.names = TopicNames(settings.kafka.topic_prefix)
        self.recipients = recipients
        self.shards = shards
        self.sizes = TopicSizes(settings)
        prefix = self.names.prefix
        push = self.names.channel(Channel.PUSH)
        self.sender = GroupOffsets(settings, f"{prefix}sender-push", [push])
        self.sink = GroupOffsets(settings, f"{prefix}status-sink", [self.names.status])

    def read(self) -> dict[str, int]:
        push = self.names.channel(Channel.PUSH)
        sizes = self.sizes.of([self.names.per_user, push])
        shards = sizes[self.names.per_user]
        return {
            "fanned_out": round(self.recipients * min(shards / self.shards, 1.0)),
            "decided": sizes[push],
            "sent": self.sender.read().committed,
            "status_events": self.sink.read().committed,
        }

    def close(self) -> None:
        self.sizes.close()
        self.sender.close()
        self.sink.close()


def campaign_settings(stack: HeraldSettings, workdir: Path, run_id: str) -> HeraldSettings:
    """The run's prefix, keyspace and provider endpoint, every rate limit lifted."""
    base = delivery.bench_settings(stack, workdir, run_id)
    settings = base.with_prefix(f"bench-campaign-{run_id}.").model_copy(
        update={
            "cassandra": base.cassandra.model_copy(update={"keyspace": f"bench_campaign_{run_id}"})
        }
    )
    return pipeline.bench_settings(settings)


def publish_contacts(settings: HeraldSettings, recipients: Sequence[str], say: Say) -> None:
    started = time.monotonic()
    with Publisher(settings, timeout_s=300) as publisher:
        for start in range(0, len(recipients), 50_000):
            publisher.publish_contacts(
                UserContacts(u, devices=(Device(f"tok-{u}", Platform.ANDROID),))
                for u in recipients[start : start + 50_000]
            )
    say(f"{len(recipients)} users' contacts published in {time.monotonic() - started:.0f}s")


@contextmanager
def running(settings: HeraldSettings, workdir: Path) -> Iterator[Processes]:
    log = workdir / settings.kafka.topic_prefix
    endpoint = EndpointProcess(settings, Path(f"{log}endpoint.log"))
    workers: dict[str, WorkerProcess] = {
        "provider-endpoint": endpoint,
        "streams": WorkerProcess("streams", settings, Path(f"{log}streams.log"), 300),
        "sender-push": WorkerProcess(
            "sender", settings, Path(f"{log}sender-push.log"), args=("--channel", "push")
        ),
        "sink": WorkerProcess("sink", settings, Path(f"{log}sink.log")),
    }
    servers = {s.name: s.pid for s in Stack(settings).status() if s.pid is not None}
    with ExitStack() as stack:
        for process in workers.values():
            stack.enter_context(process)
        yield Processes(workers, endpoint, servers)


def watch(
    stages: Stages,
    processes: Processes,
    expected_events: int,
    limit_s: float,
    progress: Progress,
) -> list[Sample]:
    """Samples every second from the request's publication until the sink has every
    status event (or ``limit_s`` passed)."""
    samples: list[Sample] = []
    started = time.monotonic()
    with progress("campaign: status events written", total=expected_events) as advance:
        done = 0
        while time.monotonic() - started < limit_s:
            reached = stages.read()
            samples.append(
                Sample(
                    round(time.monotonic() - started, 2),
                    reached,
                    processes.cpu_s(),
                    processes.rss_mb(),
                )
            )
            advance(reached["status_events"] - done)
            done = reached["status_events"]
            if done >= expected_events:
                break
            time.sleep(1.0)
    return samples


def sent_rows(session: Session, keyspace: str, expected: set[str]) -> dict[str, int]:
    """The whole status table read back: how many of ``expected`` have a `sent` row."""
    query = SimpleStatement(
        f"SELECT notification_id, state FROM {keyspace}.notification_status",  # noqa: S608
        fetch_size=5_000,
    )
    sent: set[str] = set()
    rows = 0
    for row in session.execute(query, timeout=600):
        rows += 1
        if row.state == State.SENT.value and row.notification_id in expected:
            sent.add(row.notification_id)
    return {"rows_read": rows, "recipients_sent": len(sent), "missing": len(expected - sent)}


def rates(samples: Sequence[Sample]) -> dict[str, dict[str, float | None]]:
    """Per stage: its rate over the middle of its own run (items a second, start-up and tail
    left out), and when it finished."""
    result: dict[str, dict[str, float | None]] = {}
    for stage in STAGES:
        series = [(s.at_s, float(s.stages[stage])) for s in samples]
        final = series[-1][1] if series else 0.0
        moving = [(t, v) for t, v in series if 0.1 * final <= v <= 0.9 * final]
        done_at = next((t for t, v in series if v >= final and final > 0), None)
        result[stage] = {
            "sustained_per_s": round(slope(moving), 1) if len(moving) >= 2 else None,
            "finished_at_s": done_at,
        }
    return result


def per_process(samples: Sequence[Sample], items: Mapping[str, int]) -> dict[str, Any]:
    """CPU seconds, CPU per item where a process has one, and peak memory, per process."""
    if not samples:
        return {}
    first, last = samples[0], samples[-1]
    result: dict[str, Any] = {}
    for name in last.cpu_s:
        cpu = last.cpu_s[name] - first.cpu_s.get(name, 0.0)
        count = items.get(name)
        result[name] = {
            "cpu_s": round(cpu, 1),
            "cpu_us_per_item": round(1e6 * cpu / count, 1) if count else None,
            "peak_rss_mb": round(max(s.rss_mb.get(name, 0.0) for s in samples), 1),
        }
    return result


def run(
    stack: HeraldSettings,
    recipients: int,
    out: Path,
    workdir: Path,
    say: Say,
    *,
    limit_s: float = 3600,
    keep: bool = False,
    progress: Progress = quiet,
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:6]
    settings = campaign_settings(stack, workdir, run_id)
    names = TopicNames(settings.kafka.topic_prefix)
    keyspace = settings.cassandra.keyspace
    who = users(recipients)
    ensure_topics(
        AdminClient(settings.kafka.client_config()),
        pipeline_topics(names, settings.pipeline.partitions),
    )
    cluster = cassandra_cluster(settings.cassandra)
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": delivery.machine(),
        "recipients": recipients,
        "provider_endpoint": "the benchmark endpoint (lab/bench/endpoint), push in FCM's shape",
    }
    try:
        session = cluster.connect()
        migrate(session, settings.cassandra)
        publish_contacts(settings, who, say)
        with running(settings, workdir) as processes:
            wait_caught_up(settings, app_id(settings), [names.user_contacts], timeout_s=600)
            say(f"prefix {names.prefix}, keyspace {keyspace}: workers ready, contacts loaded")
            request = pipeline.digest(f"campaign-{run_id}", who)
            shards = shard_count(who, settings.pipeline.partitions, settings.pipeline.shard_size)
            stages = Stages(settings, recipients, shards)
            try:
                started = time.monotonic()
                with Publisher(settings, timeout_s=120) as publisher:
                    publisher.publish(request)
                samples = watch(stages, processes, 2 * recipients, limit_s, progress)
                total_s = time.monotonic() - started
                received: Tally = processes.endpoint.counts()
            finally:
                stages.close()
        expected = {notification_id(request.request_id, u) for u in who}
        counted = sent_rows(session, keyspace, expected)
    finally:
        if not keep:
            try:
                cluster.connect().execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
            finally:
                delete_run(settings, say)
        cluster.shutdown()
    final = samples[-1].stages if samples else dict.fromkeys(STAGES, 0)
    results |= {
        "total_s": round(total_s, 1),
        "complete": counted["missing"] == 0,
        "count": counted,
        "endpoint_counts": received,  # what the endpoint took and refused, per provider
        "stages": rates(samples),
        "processes": per_process(
            samples,
            {
                "streams": final["decided"],
                "sender-push": final["sent"],
                "provider-endpoint": final["sent"],
                "sink": final["status_events"],
            },
        ),
        "samples": [asdict(s) for s in samples],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results
