"""`herald bench pipeline`: offered rates through publish -> fan-out -> decision -> channel topic.

For each offered rate (per-user notifications a second) it publishes for a fixed time, samples
the worker group's lag on requests + per-user every second, and taps the push topic for the
publish-to-channel latency. The highest rate whose lag stays flat is the sustained rate. The
same is done for a bare confluent-kafka relay over the same hops. Last, one request with a
million recipients measures the fan-out's peak worker memory.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, TopicCodec
from herald.models import Channel, Device, NotificationRequest, Platform, Priority, UserContacts
from herald.progress import Progress, quiet
from herald.publisher import Publisher
from herald.settings import HeraldSettings
from herald.topics import TopicNames, TopicSpec, ensure_topics, pipeline_topics
from infra.stack.process import rss_bytes
from lab.bench.pace import offer
from lab.bench.relay import relay_per_user_topic
from lab.bench.stats import lag_is_flat, percentile
from lab.offsets import TopicSizes, wait_caught_up
from lab.workers import WorkerProcess

Say = Callable[[str], None]


@dataclass
class Step:
    offered_per_s: int
    published: int
    achieved_per_s: float
    lag_flat: bool
    final_lag: int  # published but not yet on the channel topic
    p50_ms: float | None
    p99_ms: float | None
    worker_rss_mb: float | None
    lag_samples: list[tuple[float, float]] = field(repr=False)


@dataclass
class Target:
    """What is measured: the Herald worker or the bare relay, each on its own prefix."""

    name: str
    settings: HeraldSettings
    processes: list[WorkerProcess]

    def rss(self) -> int:
        """Resident memory of all its processes together."""
        return sum(rss_bytes(p.pid) or 0 for p in self.processes if p.pid)


class LatencyTap:
    """Reads the push topic in a thread; latency = channel record time - request publish time."""

    def __init__(self, settings: HeraldSettings, codec: AvroCodec, sample_every: int = 10) -> None:
        topic = TopicNames(settings.kafka.topic_prefix).channel("push")
        self.codec = TopicCodec(codec, topic, CHANNEL_MESSAGE)
        self.published_ms: dict[str, float] = {}
        self.latencies: list[float] = []
        self.count = 0  # every record seen, sampled or not
        self.sample_every = sample_every
        self._stop = threading.Event()
        self._consumer = Consumer(
            settings.kafka.client_config(
                **{"group.id": f"bench-tap-{uuid.uuid4().hex}", "auto.offset.reset": "latest"}
            )
        )
        self._consumer.subscribe([topic])
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        while not self._consumer.assignment():
            self._consumer.poll(0.2)
        self._thread.start()

    def _run(self) -> None:
        seen = 0
        while not self._stop.is_set():
            for message in self._consumer.consume(500, 0.2):
                seen += 1
                self.count += 1
                if message.error() is not None or seen % self.sample_every:
                    continue
                record = self.codec.decode(message.value())
                sent = self.published_ms.get(record.request_id)
                if sent is not None:
                    self.latencies.append(message.timestamp()[1] - sent)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


def _requests(users: list[str], per_request: int, rng: random.Random) -> NotificationRequest:
    return NotificationRequest(
        request_id=f"bench-{uuid.uuid4().hex}",
        source="bench",
        category="transactional",
        priority=Priority.NORMAL,
        template_id="order_shipped",
        recipients=rng.sample(users, per_request),
        created_at=datetime.now(UTC),
        data={"name": "Ann", "order_id": "42"},
        channels=(Channel.PUSH,),
    )


def run_step(
    target: Target,
    publisher: Publisher,
    tap: LatencyTap,
    users: list[str],
    rate: int,
    seconds: float,
    per_request: int,
    progress: Progress = quiet,
) -> Step:
    rng = random.Random(rate)
    published, samples, rss = 0, [], []
    delivered_before = tap.count
    next_sample = 0.0
    for elapsed in offer(seconds, 0.1, progress, f"{target.name} offered {rate}/s"):
        due = int(rate * elapsed) - published
        batch = [_requests(users, per_request, rng) for _ in range(max(0, due) // per_request)]
        for request in batch:
            tap.published_ms[request.request_id] = request.created_at.timestamp() * 1000
        if batch:
            publisher.publish_batch(batch)
            published += len(batch) * per_request
        if elapsed >= next_sample:
            # backlog: published but not yet on the channel topic
            backlog = published - (tap.count - delivered_before)
            samples.append((elapsed, float(backlog)))
            rss.append(target.rss())
            next_sample += 1.0
    delivered = tap.count - delivered_before
    latencies = list(tap.latencies)
    tap.latencies.clear()
    return Step(
        offered_per_s=rate,
        published=published,
        achieved_per_s=delivered / seconds,
        lag_flat=lag_is_flat(samples, rate),
        final_lag=published - delivered,
        p50_ms=percentile(latencies, 0.5),
        p99_ms=percentile(latencies, 0.99),
        worker_rss_mb=max(rss) / 2**20 if rss else None,
        lag_samples=samples,
    )


def drain(tap: LatencyTap, published: int, timeout_s: float = 120) -> None:
    """Wait until everything published so far reached the channel topic."""
    deadline = time.monotonic() + timeout_s
    while tap.count < published and time.monotonic() < deadline:
        time.sleep(0.5)


def sweep(
    target: Target,
    codec: AvroCodec,
    users: list[str],
    rates: list[int],
    seconds: float,
    per_request: int,
    say: Say,
    progress: Progress = quiet,
) -> list[Step]:
    steps: list[Step] = []
    tap = LatencyTap(target.settings, codec)
    tap.start()
    total = 0
    with Publisher(target.settings, codec=codec) as publisher:
        for rate in rates:
            step = run_step(target, publisher, tap, users, rate, seconds, per_request, progress)
            steps.append(step)
            total += step.published
            say(
                f"{target.name:<7} offered {rate:>6}/s  achieved {step.achieved_per_s:>8.0f}/s  "
                f"lag {'flat  ' if step.lag_flat else 'rising'} p50 {step.p50_ms} ms  "
                f"p99 {step.p99_ms} ms  rss {step.worker_rss_mb and round(step.worker_rss_mb)} MB"
            )
            if not step.lag_flat:
                break
            drain(tap, total)
    tap.stop()
    return steps


def sustained(steps: list[Step]) -> int:
    return max((s.offered_per_s for s in steps if s.lag_flat), default=0)


def prepare(stack: HeraldSettings, prefix: str, users: list[str]) -> HeraldSettings:
    pipeline = stack.pipeline.model_copy(update={"max_recipients": 1_000_000})
    settings = stack.with_prefix(prefix).model_copy(update={"pipeline": pipeline})
    names = TopicNames(prefix)
    partitions = settings.pipeline.partitions
    ensure_topics(
        AdminClient(settings.kafka.client_config()),
        [*pipeline_topics(names, partitions), TopicSpec(relay_per_user_topic(names), partitions)],
    )
    contacts = [UserContacts(u, devices=(Device(f"tok-{u}", Platform.ANDROID),)) for u in users]
    with Publisher(settings) as publisher:
        publisher.publish_contacts(contacts)
    return settings


def bench_settings(settings: HeraldSettings) -> HeraldSettings:
    """Rate limits lifted (the benchmark measures the pipeline, not the limiter), and room for
    a million recipients."""
    limits = dict.fromkeys(Channel, 10**9)
    return settings.updated(pipeline={"rate_limits": limits, "max_recipients": 1_000_000})


def digest(request_id: str, recipients: list[str]) -> NotificationRequest:
    """A marketing push of the weekly digest to ``recipients``: the benchmarks' campaign."""
    return NotificationRequest(
        request_id=request_id,
        source="bench",
        category="marketing",
        priority=Priority.LOW,
        template_id="weekly_digest",
        recipients=recipients,
        created_at=datetime.now(UTC),
        data={"name": "you", "count": "3"},
        channels=(Channel.PUSH,),
    )


def million(
    target: Target, say: Say, recipients: int = 1_000_000, limit_s: float = 900
) -> dict[str, Any]:
    """One request with a million recipients (none of them known, so each gets one status,
    `no_address`): the time until every recipient is decided, and the worker's peak memory
    meanwhile."""
    status = TopicNames(target.settings.kafka.topic_prefix).status
    sizes = TopicSizes(target.settings)
    before = sizes.of([status])[status]
    request = digest(f"bench-million-{uuid.uuid4().hex}", [f"m-{i}" for i in range(recipients)])
    started = time.monotonic()
    with Publisher(target.settings, timeout_s=120) as publisher:
        publisher.publish(request)
    del request
    peak, decided = 0, 0
    while decided < recipients and time.monotonic() - started < limit_s:
        time.sleep(2)
        peak = max(peak, target.rss())
        decided = sizes.of([status])[status] - before
    elapsed = time.monotonic() - started
    say(
        f"million: {decided} of {recipients} decided in {elapsed:.0f}s, peak worker rss "
        f"{peak / 2**20:.0f} MB"
    )
    return {
        "recipients": recipients,
        "decided": decided,
        "seconds": round(elapsed, 1),
        "peak_worker_rss_mb": round(peak / 2**20),
    }


def run(
    stack: HeraldSettings,
    rates: list[int],
    seconds: float,
    per_request: int,
    out: Path,
    workdir: Path,
    say: Say,
    with_million: bool = True,
    workers: int = 1,
    progress: Progress = quiet,
) -> dict[str, Any]:
    users = [f"b-{i}" for i in range(20_000)]
    results: dict[str, Any] = {
        "rates": rates,
        "step_seconds": seconds,
        "recipients_per_request": per_request,
        "started_at": datetime.now(UTC).isoformat(),
        "herald_worker_processes": workers,
    }
    with AvroCodec.from_settings(stack.registry) as codec:
        for name, module in (("herald", "streams"), ("relay", "relay")):
            prefix = f"bench-{name}-{uuid.uuid4().hex[:6]}."
            settings = prepare(stack, prefix, users)
            settings = bench_settings(settings)
            processes: list[WorkerProcess] = (
                [
                    WorkerProcess(module, settings, workdir / f"{name}-{i}.log")
                    for i in range(workers)
                ]
                if module == "streams"
                else [RelayProcess(settings, workdir / f"{name}.log")]
            )
            with ExitStack() as running:
                for process in processes:
                    running.enter_context(process)
                target = Target(name, settings, processes)
                if name == "herald":  # the worker must hold the contacts before the load
                    contacts = [TopicNames(prefix).user_contacts]
                    wait_caught_up(settings, f"{prefix}streams", contacts)
                steps = sweep(target, codec, users, rates, seconds, per_request, say, progress)
                results[name] = {
                    "sustained_per_s": sustained(steps),
                    "steps": [asdict(s) for s in steps],
                }
                if name == "herald" and with_million:
                    results["million"] = million(target, say)
    herald_rate, relay_rate = (
        results["herald"]["sustained_per_s"],
        results["relay"]["sustained_per_s"],
    )
    results["herald_vs_relay"] = round(herald_rate / relay_rate, 3) if relay_rate else None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


class RelayProcess(WorkerProcess):
    """The bare relay, run like a worker."""

    def __init__(self, settings: HeraldSettings, log_file: Path) -> None:
        super().__init__("relay", settings, log_file)

    def argv(self) -> list[str]:
        import sys

        return [sys.executable, "-m", "lab.bench.relay"]
