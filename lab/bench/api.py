"""`herald bench api`: `POST /v1/notifications` with 10-recipient bodies at rising rates.

For each uvicorn worker count, one `herald api` serves a fresh prefix's topics (and a fresh
keyspace for its key). Each rate is offered open-loop for a while: requests leave on a fixed
schedule whatever the answers, and a request's latency runs from when it was due, so a slow
server cannot hide its queue (no coordinated omission). Every answer's status is counted;
only 202s count as achieved. The API's CPU (every uvicorn process) and the load generator's
are reported apart: on 2 cores they share the machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from cassandra.cluster import Session
from confluent_kafka.admin import AdminClient

from api.keys import KeyStore, Scope
from herald.cassandra import cassandra_cluster
from herald.migrate import migrate
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.process import cpu_seconds, rss_bytes
from lab.bench.stats import percentile
from lab.sandboxes.config import free_port
from lab.workers import ApiProcess

Say = Callable[[str], None]
RECIPIENTS = 10
P99_TARGET_MS = 50.0
IN_FLIGHT_MAX = 512  # requests the generator keeps open at once; past it, a step is overloaded


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


@dataclass
class Step:
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
    api_peak_rss_mb: int
    meets_target: bool = field(default=False)


async def offer(
    url: str, token: str, rate: int, seconds: float, start_n: int
) -> tuple[list[float], Counter[str], Counter[str], int]:
    """Offer ``rate`` requests a second for ``seconds``: latencies (ms, from when each was
    due), statuses, transport errors, and how many were sent."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [json.dumps(body(start_n + i)).encode() for i in range(int(rate * seconds))]
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT_MAX)
    slots = asyncio.Semaphore(IN_FLIGHT_MAX)
    async with aiohttp.ClientSession(
        base_url=url,
        connector=connector,
        headers={**headers, "Content-Type": "application/json"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as session:

        async def one(data: bytes, due: float) -> None:
            try:
                async with session.post("/v1/notifications", data=data) as answer:
                    await answer.read()
                    statuses[str(answer.status)] += 1
                    if answer.status == 202:
                        latencies.append((time.perf_counter() - due) * 1000)
            except (aiohttp.ClientError, TimeoutError) as error:
                errors[type(error).__name__] += 1
            finally:
                slots.release()

        tasks = []
        began = time.perf_counter()
        for i, data in enumerate(bodies):
            due = began + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()  # past IN_FLIGHT_MAX open requests the schedule slips
            tasks.append(asyncio.create_task(one(data, due)))
        await asyncio.gather(*tasks)
    return latencies, statuses, errors, len(bodies)


def step(
    api: ApiProcess, token: str, workers: int, rate: int, seconds: float, start_n: int
) -> Step:
    pids = descendants(api.pid or 0)
    api_before, gen_before = tree_cpu_s(pids), tree_cpu_s([os.getpid()])
    began = time.perf_counter()
    latencies, statuses, errors, sent = asyncio.run(offer(api.url, token, rate, seconds, start_n))
    elapsed = time.perf_counter() - began
    api_cpu = tree_cpu_s(pids) - api_before
    accepted = statuses.get("202", 0)
    p99 = percentile(latencies, 0.99)
    return Step(
        workers=workers,
        offered_per_s=rate,
        seconds=round(elapsed, 2),
        sent=sent,
        accepted=accepted,
        achieved_per_s=round(accepted / elapsed, 1),
        statuses=dict(statuses),
        errors=dict(errors),
        p50_ms=_ms(percentile(latencies, 0.50)),
        p90_ms=_ms(percentile(latencies, 0.90)),
        p99_ms=_ms(p99),
        max_ms=_ms(max(latencies, default=None)),
        api_cpu_s=round(api_cpu, 2),
        api_cpu_per_request_ms=round(1000 * api_cpu / accepted, 3) if accepted else None,
        generator_cpu_s=round(tree_cpu_s([os.getpid()]) - gen_before, 2),
        api_peak_rss_mb=round(sum(rss_bytes(p) or 0 for p in pids) / 2**20),
        meets_target=accepted == sent
        and p99 is not None
        and p99 < P99_TARGET_MS
        and accepted / elapsed >= 0.95 * rate,
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _sweep_rates(
    api: ApiProcess,
    token: str,
    workers: int,
    rates: Sequence[int],
    seconds: float,
    steps: list[Step],
    say: Say,
) -> None:
    time.sleep(2.0 if workers > 1 else 0.5)  # every uvicorn worker up
    step(api, token, workers, min(rates), 2.0, 0)  # warm-up: connections, caches
    n = 10_000_000
    for rate in rates:
        result = step(api, token, workers, rate, seconds, n)
        n += result.sent
        steps.append(result)
        say(
            f"workers {workers}, offered {rate}/s: {result.achieved_per_s}/s accepted, "
            f"p50 {result.p50_ms} ms, p99 {result.p99_ms} ms, "
            f"API CPU {result.api_cpu_per_request_ms} ms/request"
            + ("" if not result.errors else f", errors {result.errors}")
        )
        if result.p99_ms is None or result.achieved_per_s < 0.5 * rate:
            break  # far past what it can take: higher rates say nothing more


def sweep(
    stack: HeraldSettings,
    session: Session,
    keyspace: str,
    workers: int,
    rates: Sequence[int],
    seconds: float,
    workdir: Path,
    say: Say,
) -> list[Step]:
    prefix = f"bench-api-{uuid.uuid4().hex[:6]}."
    names = TopicNames(prefix)
    admin = AdminClient(stack.kafka.client_config())
    ensure_topics(admin, pipeline_topics(names, stack.pipeline.partitions))
    settings = stack.with_prefix(prefix).updated(
        cassandra={"keyspace": keyspace}, api={"workers": workers}
    )
    token = KeyStore(session, keyspace).create("bench", [Scope.PUBLISH])[1]
    steps: list[Step] = []
    try:
        api = ApiProcess(settings, workdir / f"api-{prefix}log", free_port()).start()
        try:
            _sweep_rates(api, token, workers, rates, seconds, steps, say)
        finally:
            api.stop()
    finally:
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if ours:
            admin.delete_topics(ours, operation_timeout=30)
    return steps


def run(
    stack: HeraldSettings,
    worker_counts: Sequence[int],
    rates: Sequence[int],
    seconds: float,
    out: Path,
    workdir: Path,
    say: Say,
) -> dict[str, Any]:
    keyspace = f"bench_api_{uuid.uuid4().hex[:6]}"
    cluster = cassandra_cluster(stack.cassandra)
    session = cluster.connect()
    try:
        migrate(session, stack.cassandra.model_copy(update={"keyspace": keyspace}))
        steps = [
            s
            for workers in worker_counts
            for s in sweep(stack, session, keyspace, workers, rates, seconds, workdir, say)
        ]
    finally:
        session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        cluster.shutdown()
    best: dict[str, Any] = {}
    for workers in worker_counts:
        meeting = [s for s in steps if s.workers == workers and s.meets_target]
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
