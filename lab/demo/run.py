"""`herald demo`'s I/O: the stack, topics, a streams worker, the seeded users and the load,
the statuses read back, and (for a fresh prefix) the cleanup."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec
from herald.models import Channel, DeliveryStatus
from herald.progress import Advance, Progress, quiet
from herald.publisher import Publisher, PublishError, producer_config
from herald.settings import HeraldSettings
from herald.templating import TemplateStore
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from infra.stack.launcher import Say, Stack
from lab.demo.cleanup import delete_run
from lab.demo.config import DemoConfig, demo_home
from lab.demo.delivery import Delivery, delivering, inject_faults, timelines
from lab.demo.load import Key, Load, demo_load, describe_gaps, expected_channels, gaps
from lab.demo.summary import (
    Summary,
    TimelineRow,
    awaiting_delivery,
    delivery_report,
    summarize,
    user_story,
)
from lab.demo.users import SAMPLE, DemoUser, demo_users, population
from lab.offsets import TopicSizes, wait_caught_up
from lab.statuses import StatusReader
from lab.workers import WorkerProcess
from streams.app import app_id

MALFORMED = b"this is not an Avro record"


@dataclass(frozen=True)
class _Run:
    """What one run published, and the statuses it read back."""

    users: list[DemoUser]
    load: Load
    started_at: datetime
    statuses: list[DeliveryStatus]
    missing: dict[Key, frozenset[Channel]]
    undelivered: int  # routed messages without a delivery outcome at the time-out
    timelines: dict[str, list[TimelineRow]]

    @property
    def labels(self) -> dict[str, str]:
        return {r.request_id: label for label, r in self.load}


def run_demo(
    settings: HeraldSettings, config: DemoConfig, say: Say = print, progress: Progress = quiet
) -> Summary:
    """The whole demo. The stack is left running; the worker is stopped at the end."""
    Stack(settings, say=say, progress=progress).up()
    settings = settings.with_prefix(config.prefix)
    names = TopicNames(config.prefix)
    specs = pipeline_topics(names, settings.pipeline.partitions)
    ensure_topics(AdminClient(settings.kafka.client_config()), specs)
    say(f"{len(specs)} pipeline topics ready under the prefix {config.prefix}")
    watched = [*(names.channel(c) for c in Channel), names.dead_letter]
    sizes = TopicSizes(settings)
    try:
        before = sizes.of(watched)

        def dead_letters() -> int:
            return sizes.of([names.dead_letter])[names.dead_letter] - before[names.dead_letter]

        with AvroCodec.from_settings(settings.registry) as codec:
            run = _with_worker(settings, config, codec, dead_letters, say, progress)
        growth = {topic: n - before[topic] for topic, n in sizes.of(watched).items()}
    finally:
        sizes.close()
        if config.cleanup:
            delete_run(settings, say)
    return _summary(run, names, growth)


def _summary(run: _Run, names: TopicNames, growth: Mapping[str, int]) -> Summary:
    labels = run.labels
    return summarize(
        run.statuses,
        started_at=run.started_at,
        channel_messages={str(c): growth[names.channel(c)] for c in Channel},
        dead_letters=growth[names.dead_letter],
        missing=[
            *describe_gaps(run.missing, labels),
            *(
                [f"{run.undelivered} routed message(s) without a delivery outcome"]
                * bool(run.undelivered)
            ),
        ],
        samples=[
            user_story(run.users[i], run.statuses, labels) for i in SAMPLE if i < len(run.users)
        ],
        delivery=delivery_report(run.statuses, run.timelines),
    )


def _with_worker(
    settings: HeraldSettings,
    config: DemoConfig,
    codec: AvroCodec,
    dead_letters: Callable[[], int],
    say: Say,
    progress: Progress,
) -> _Run:
    home = demo_home(settings)
    log = home / f"{settings.kafka.topic_prefix}worker.log"  # one per run: runs may overlap
    worker = WorkerProcess("streams", settings, log)
    say(f"starting a streams worker (log: {worker.log_file})")
    with worker:
        say(f"worker ready (pid {worker.pid})")
        with delivering(settings, home, say) as delivery:
            run = _play(delivery, config, codec, dead_letters, say, progress)
        say("stopping the streams worker")
    return run


def _play(
    delivery: Delivery,
    config: DemoConfig,
    codec: AvroCodec,
    dead_letters: Callable[[], int],
    say: Say,
    progress: Progress,
) -> _Run:
    settings = delivery.settings
    now = datetime.now(UTC)
    users = demo_users(config.users, now, config.seed)
    load = demo_load(users, now, run_id=uuid.uuid4().hex[:8])
    say("provider faults: " + inject_faults(delivery.control, users))
    with Publisher(settings, codec=codec) as publisher:
        _seed(settings, publisher, users, now, say)
        started_at = datetime.now(UTC)
        publisher.publish_batch(request for _, request in load)
    _publish_malformed(settings)
    sent = Counter[str]()
    for label, request in load:
        sent[label] += len(request.recipients)
    say("published: " + ", ".join(f"{label} ({n})" for label, n in sent.items()))
    say("published: one malformed record (not Avro) on the requests topic")
    expected = expected_channels(load, TemplateStore(settings.pipeline.templates_dir).channels)
    say(
        f"reading statuses until all {len(expected):,} notifications have an outcome "
        "and every routed message was delivered or failed"
    )
    with progress("notifications with an outcome", total=len(expected)) as advance:
        statuses, missing = _collect(
            settings, codec, expected, dead_letters, config.timeout_s, advance
        )
    sample = [users[i].user_id for i in SAMPLE if i < len(users)]
    return _Run(
        users,
        load,
        started_at,
        statuses,
        missing,
        len(awaiting_delivery(statuses)),
        timelines(settings, sample),
    )


def _seed(
    settings: HeraldSettings,
    publisher: Publisher,
    users: Sequence[DemoUser],
    now: datetime,
    say: Say,
) -> None:
    """Publish the users' preferences and contacts; wait until the worker has applied them."""
    publisher.publish_preferences(u.prefs for u in users)
    publisher.publish_contacts(u.contacts for u in users)
    names = TopicNames(settings.kafka.topic_prefix)
    wait_caught_up(settings, app_id(settings), [names.user_preferences, names.user_contacts])
    say(f"seeded {len(users)} users, applied by the worker: {population(users, now)}")


def _publish_malformed(settings: HeraldSettings) -> None:
    """Bytes that are not a request, written past the SDK: the worker must dead-letter them."""
    producer = Producer(producer_config(settings))
    topic = TopicNames(settings.kafka.topic_prefix).requests
    producer.produce(topic, key=b"demo-malformed", value=MALFORMED)
    if producer.flush(30) > 0:
        raise PublishError("the broker did not confirm the malformed record")


def _collect(
    settings: HeraldSettings,
    codec: AvroCodec,
    expected: Mapping[Key, frozenset[Channel]],
    dead_letters: Callable[[], int],
    timeout_s: float,
    advance: Advance,
) -> tuple[list[DeliveryStatus], dict[Key, frozenset[Channel]]]:
    """This run's statuses, once complete and the malformed record is dead-lettered (or at
    the time-out), and what is still missing."""
    ids = {request_id for request_id, _ in expected}
    reader = StatusReader(settings, codec)
    deadline = time.monotonic() + timeout_s
    left = len(expected)
    try:
        while True:
            reader.poll()
            mine = [s for s in reader.seen if s.request_id in ids]
            missing = gaps(expected, mine)
            advance(left - len(missing))
            left = len(missing)
            done = not missing and not awaiting_delivery(mine) and dead_letters() > 0
            if done or time.monotonic() > deadline:
                return mine, missing
    finally:
        reader.close()
