"""`herald bench api`: `POST /v1/notifications` with 10-recipient bodies at rising rates.

For each uvicorn worker count, one `herald api` serves a fresh prefix's topics (and a fresh
keyspace for its key). Each rate is offered open-loop for a while: requests leave on a fixed
schedule whatever the answers, and a request's latency runs from when it was due, so a slow
server cannot hide its queue (no coordinated omission). Every answer's status is counted;
only 202s count as achieved. The API's CPU (every uvicorn process), the load generator's and
the broker's are reported apart: on 2 cores they share the machine.

After each worker count, the same rates are offered to the floor (`lab.bench.bare_asgi`: a bare
ASGI app on uvicorn with as many workers, answering a constant 202), so the JSON shows side by
side what the HTTP server and the generator alone cost, and what Herald's work adds.
"""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cassandra.cluster import Session
from confluent_kafka.admin import AdminClient

from api.keys import KeyStore, Scope
from herald.cassandra import cassandra_cluster
from herald.migrate import migrate
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.process import cpu_seconds, read_pid, rss_bytes
from infra.stack.servers import run_dir
from lab.bench.bare_asgi import BareServer
from lab.bench.stats import percentile
from lab.bench.vegeta import Attack, attack, binary, targets
from lab.sandboxes.config import free_port
from lab.workers import ApiProcess

Say = Callable[[str], None]
RECIPIENTS = 10
P99_TARGET_MS = 50.0


def body(n: int) -> dict[str, Any]:
    return {
        "source": "bench",
        "category": "transactional",
        "template_id": "order_shipped",
        "recipients": [f"bench-u{n * RECIPIENTS + i}" for i in range(RECIPIENTS)],
        "data": {"name": "Ann", "order_id": str(n)},
        "channels": ["push"],
    }


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it (uvicorn's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def tree_cpu_s(pids: Sequence[int]) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


class Served(Protocol):
    """A server under load: `herald api`, or the bare ASGI floor."""

    @property
    def pid(self) -> int | None: ...

    url: str


@dataclass
class Step:
    server: str  # "herald", or "bare" for the floor
    workers: int
    offered_per_s: int
    seconds: float
    sent: int
    accepted: int  # 202s
    achieved_per_s: float
    statuses: dict[str, int]
    errors: dict[str, int]  # transport failures by type
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    api_cpu_s: float
    api_cpu_per_request_ms: float | None
    generator_cpu_s: float
    kafka_cpu_s: float  # the broker's, in the same span
    api_peak_rss_mb: int
    meets_target: bool = field(default=False)


@dataclass
class Offered:
    latencies_ms: list[float]  # of the 202s
    statuses: Counter[str]
    errors: Counter[str]  # requests that got no answer, by why
    sent: int
    seconds: float  # from the first request's start to the last answer
    generator_cpu_s: float


def offer(
    vegeta: Path, url: str, token: str, rate: int, seconds: float, start_n: int, workdir: Path
) -> Offered:
    """Offer ``rate`` requests a second for ``seconds``, each latency counted from when the
    request was due."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    count = int(rate * seconds)
    bodies = (json.dumps(body(start_n + i)).encode() for i in range(count))
    target_file = workdir / "vegeta-targets.json"
    target_file.write_text("\n".join(targets(f"{url}/v1/notifications", headers, bodies)) + "\n")
    try:
        result = attack(vegeta, target_file, rate, seconds, workdir)
    finally:
        target_file.unlink()
    return summary(result, rate)


def summary(result: Attack, rate: int) -> Offered:
    """Statuses, errors and the 202s' latencies, each from when its request was due: its place
    in the schedule (``seq / rate``) after the schedule's start, taken as the earliest that no
    request left before (vegeta starts its clock a little before the first request)."""
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    first = min((hit.started_ns - hit.seq * 1e9 / rate for hit in result.hits), default=0.0)
    latencies: list[float] = []
    for hit in result.hits:
        if hit.code == 0:
            errors[hit.error.rpartition(": ")[2] or "no answer"] += 1
            continue
        statuses[str(hit.code)] += 1
        if hit.code == 202:
            due_ns = first + hit.seq * 1e9 / rate
            latencies.append((hit.started_ns + hit.latency_ns - due_ns) / 1e6)
    last = max((hit.started_ns + hit.latency_ns for hit in result.hits), default=first)
    return Offered(
        latencies, statuses, errors, len(result.hits), (last - first) / 1e9, result.cpu_s
    )


@dataclass(frozen=True)
class Load:
    """What every step of a sweep shares."""

    vegeta: Path
    token: str
    broker_pid: int
    seconds: float
    workdir: Path
    say: Say


def step(
    load: Load,
    server: str,
    served: Served,
    workers: int,
    rate: int,
    start_n: int,
    seconds: float | None = None,
) -> Step:
    pids = descendants(served.pid or 0)
    broker = [load.broker_pid]
    api_before, broker_before = tree_cpu_s(pids), tree_cpu_s(broker)
    offered = offer(
        load.vegeta, served.url, load.token, rate, seconds or load.seconds, start_n, load.workdir
    )
    api_cpu = tree_cpu_s(pids) - api_before
    latencies, statuses, elapsed = offered.latencies_ms, offered.statuses, offered.seconds
    accepted = statuses.get("202", 0)
    p99 = percentile(latencies, 0.99)
    return Step(
        server=server,
        workers=workers,
        offered_per_s=rate,
        seconds=round(elapsed, 2),
        sent=offered.sent,
        accepted=accepted,
        achieved_per_s=round(accepted / elapsed, 1),
        statuses=dict(statuses),
        errors=dict(offered.errors),
        p50_ms=_ms(percentile(latencies, 0.50)),
        p90_ms=_ms(percentile(latencies, 0.90)),
        p99_ms=_ms(p99),
        max_ms=_ms(max(latencies, default=None)),
        api_cpu_s=round(api_cpu, 2),
        api_cpu_per_request_ms=round(1000 * api_cpu / accepted, 3) if accepted else None,
        generator_cpu_s=round(offered.generator_cpu_s, 2),
        kafka_cpu_s=round(tree_cpu_s(broker) - broker_before, 2),
        api_peak_rss_mb=round(sum(rss_bytes(p) or 0 for p in pids) / 2**20),
        meets_target=accepted == offered.sent
        and p99 is not None
        and p99 < P99_TARGET_MS
        and accepted / elapsed >= 0.95 * rate,
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _sweep_rates(
    load: Load, server: str, served: Served, workers: int, rates: Sequence[int]
) -> list[Step]:
    time.sleep(2.0 if workers > 1 else 0.5)  # every uvicorn worker up
    step(load, server, served, workers, min(rates), 0, seconds=2.0)  # warm-up: caches
    steps: list[Step] = []
    n = 10_000_000
    for rate in rates:
        result = step(load, server, served, workers, rate, n)
        n += result.sent
        steps.append(result)
        load.say(
            f"{server}, workers {workers}, offered {rate}/s: {result.achieved_per_s}/s "
            f"accepted, p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
            f"server CPU {result.api_cpu_per_request_ms} ms/request, "
            f"CPU s: server {result.api_cpu_s}, vegeta {result.generator_cpu_s}, "
            f"Kafka {result.kafka_cpu_s}"
            + ("" if not result.errors else f", errors {result.errors}")
        )
        if result.p99_ms is None or result.achieved_per_s < 0.5 * rate:
            break  # far past what it can take: higher rates say nothing more
    return steps


def sweep(
    load: Load,
    stack: HeraldSettings,
    session: Session,
    keyspace: str,
    workers: int,
    rates: Sequence[int],
) -> list[Step]:
    """`herald api` with ``workers`` at each rate, then the bare floor with as many."""
    prefix = f"bench-api-{uuid.uuid4().hex[:6]}."
    names = TopicNames(prefix)
    admin = AdminClient(stack.kafka.client_config())
    ensure_topics(admin, pipeline_topics(names, stack.pipeline.partitions))
    settings = stack.with_prefix(prefix).updated(
        cassandra={"keyspace": keyspace}, api={"workers": workers}
    )
    token = KeyStore(session, keyspace).create("bench", [Scope.PUBLISH])[1]
    load = replace(load, token=token)
    try:
        api = ApiProcess(settings, load.workdir / f"api-{prefix}log", free_port()).start()
        try:
            steps = _sweep_rates(load, "herald", api, workers, rates)
        finally:
            api.stop()
    finally:
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if ours:
            admin.delete_topics(ours, operation_timeout=30)
    bare = BareServer(free_port(), workers).start()
    try:
        return steps + _sweep_rates(load, "bare", bare, workers, rates)
    finally:
        bare.stop()


def run(
    stack: HeraldSettings,
    worker_counts: Sequence[int],
    rates: Sequence[int],
    seconds: float,
    out: Path,
    workdir: Path,
    say: Say,
) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    broker_pid = read_pid(run_dir(stack, "kafka") / "pid") or 0
    load = Load(binary(stack.stack.cache), "", broker_pid, seconds, workdir, say)
    keyspace = f"bench_api_{uuid.uuid4().hex[:6]}"
    cluster = cassandra_cluster(stack.cassandra)
    session = cluster.connect()
    try:
        migrate(session, stack.cassandra.model_copy(update={"keyspace": keyspace}))
        steps = [
            s
            for workers in worker_counts
            for s in sweep(load, stack, session, keyspace, workers, rates)
        ]
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
    best: dict[str, Any] = {}
    for workers in worker_counts:
        meeting = [
            s for s in steps if s.server == "herald" and s.workers == workers and s.meets_target
        ]
        top = max(meeting, key=lambda s: s.achieved_per_s, default=None)
        best[str(workers)] = None if top is None else asdict(top)
    results = {
        "benchmark": "api",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "recipients_per_request": RECIPIENTS,
        "target": {"requests_per_s": 3000, "p99_ms": P99_TARGET_MS},
        "best_meeting_p99_target_by_workers": best,
        "steps": [asdict(s) for s in steps],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results
