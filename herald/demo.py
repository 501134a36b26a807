"""`herald demo`: Herald's main job on the local stack, in one command.

Brings the stack up, creates the pipeline's topics under a prefix of their own (by default a
fresh ``demo-<time>.``, so runs never mix), runs a streams worker, seeds demo users with varied
preferences and contacts, publishes a demo load, reads the status topic until every
(request, user, channel) has an outcome, and summarises what happened.

The users, the load and the summary are pure functions of their inputs (``demo_users``,
``demo_load``, ``summarize``, ``format_summary``); ``run_demo`` does the I/O around them.
No phone number, email address or device token is ever printed.
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec, RegistryError
from herald.contracts import subject, topic_contracts
from herald.errors import ConfigurationError, HeraldError
from herald.lag import wait_caught_up
from herald.models import (
    Channel,
    DeliveryStatus,
    Device,
    NotificationRequest,
    Platform,
    Priority,
    QuietHours,
    State,
    UserContacts,
    UserPreferences,
)
from herald.publisher import Publisher, PublishError, producer_config
from herald.settings import HeraldSettings
from herald.stack.launcher import Stack
from herald.statuses import StatusReader
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from herald.workers import WorkerProcess
from streams.app import app_id
from streams.quiet_hours import quiet_until
from streams.templates import TemplateStore

Say = Callable[[str], None]
Key = tuple[str, str]  # (request_id, user_id): one notification
SEED = 7
REPO_ROOT = Path(__file__).resolve().parent.parent
ZONES = ("Europe/London", "Europe/Paris", "America/New_York", "America/Sao_Paulo", "Asia/Tokyo")
DAY = 24 * 60
MALFORMED = b"this is not an Avro record"
WHOLE = "all channels"  # statuses about a whole notification (expired, unknown template)

# -- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Traits:
    """What a demo user is like; ``quiet`` is "none", "night" (22:00-07:00) or "now"."""

    locale: str = "en"
    zone: str = "Europe/London"
    devices: int = 1
    phone: bool = True
    email: bool = True
    no_sms: bool = False
    no_marketing: bool = False
    quiet: str = "none"
    push_limit: int | None = None


# The first users are fixed, so that even a small demo shows every outcome.
PERSONAS = (
    Traits(devices=2),  # reachable everywhere: gets the SMS burst and the broken template
    Traits(locale="fr", zone="Europe/Paris", no_sms=True),
    Traits(zone="America/New_York", no_marketing=True),
    Traits(locale="fr", zone="Asia/Tokyo", quiet="now"),
    Traits(devices=0, phone=False, email=False),
    Traits(zone="America/Sao_Paulo", push_limit=1),
)
SAMPLE = (0, 1, 3)  # the personas whose stories the summary tells


@dataclass(frozen=True)
class DemoUser:
    prefs: UserPreferences
    contacts: UserContacts

    @property
    def user_id(self) -> str:
        return self.prefs.user_id


def random_traits(rng: random.Random) -> Traits:
    return Traits(
        locale=rng.choice(("en", "en", "fr")),
        zone=rng.choice(ZONES),
        devices=rng.choice((0, 1, 1, 1, 2)),
        phone=rng.random() > 0.2,
        email=rng.random() > 0.1,
        no_sms=rng.random() < 0.15,
        no_marketing=rng.random() < 0.2,
        quiet=rng.choices(("none", "night", "now"), weights=(70, 20, 10))[0],
        push_limit=1 if rng.random() < 0.05 else None,
    )


def quiet_window(traits: Traits, now: datetime) -> QuietHours | None:
    """None, the night in the user's zone, or two hours around ``now`` on their clock."""
    if traits.quiet == "none":
        return None
    if traits.quiet == "night":
        return QuietHours(22 * 60, 7 * 60, traits.zone)
    local = now.astimezone(ZoneInfo(traits.zone))
    minute = local.hour * 60 + local.minute
    return QuietHours((minute - 60) % DAY, (minute + 60) % DAY, traits.zone)


def make_user(number: int, traits: Traits, now: datetime) -> DemoUser:
    user_id = f"demo-user-{number:04d}"
    prefs = UserPreferences(
        user_id,
        opted_out_channels=frozenset({Channel.SMS} if traits.no_sms else ()),
        opted_out_categories=frozenset({"marketing"} if traits.no_marketing else ()),
        quiet_hours=quiet_window(traits, now),
        limit_overrides={} if traits.push_limit is None else {Channel.PUSH: traits.push_limit},
        locale=traits.locale,
    )
    platforms = list(Platform)
    contacts = UserContacts(
        user_id,
        devices=tuple(
            Device(f"demo-token-{number}-{n}", platforms[(number + n) % len(platforms)])
            for n in range(traits.devices)
        ),
        phone=f"+1555{number:07d}" if traits.phone else None,  # 555: fictional numbers
        email=f"{user_id}@example.com" if traits.email else None,
    )
    return DemoUser(prefs, contacts)


def demo_users(count: int, now: datetime, seed: int = SEED) -> list[DemoUser]:
    """``count`` users: the personas first, then seeded random ones (same seed, same users)."""
    rng = random.Random(seed)
    drawn = [random_traits(rng) for _ in range(count)]
    traits = [*PERSONAS[:count], *drawn[len(PERSONAS) :]]
    return [make_user(number, t, now) for number, t in enumerate(traits)]


def describe_user(user: DemoUser) -> str:
    """A user's profile in words, without their addresses."""
    prefs, contacts = user.prefs, user.contacts
    parts = [f"locale {prefs.locale}"]
    if (quiet := prefs.quiet_hours) is not None:
        span = f"{quiet.start_minute // 60:02d}:{quiet.start_minute % 60:02d}-"
        span += f"{quiet.end_minute // 60:02d}:{quiet.end_minute % 60:02d}"
        parts.append(f"quiet hours {span} {quiet.timezone}")
    opted_out = sorted(prefs.opted_out_channels) + sorted(prefs.opted_out_categories)
    if opted_out:
        parts.append("opted out of " + " and ".join(opted_out))
    parts += [f"{channel} limit {n}" for channel, n in prefs.limit_overrides.items()]
    parts.append(f"{len(contacts.devices)} device(s)")
    parts.append("phone" if contacts.phone else "no phone")
    parts.append("email" if contacts.email else "no email")
    return ", ".join(parts)


# -- the load ------------------------------------------------------------------------------

Load = list[tuple[str, NotificationRequest]]  # (label, request), in publishing order


def _clear_for_push(user: DemoUser, now: datetime) -> bool:
    """Push would be queued for this user: a device, no opt-out, no quiet hours, no limit."""
    prefs = user.prefs
    return (
        bool(user.contacts.devices)
        and Channel.PUSH not in prefs.opted_out_channels
        and quiet_until(now, prefs.quiet_hours) is None
        and not prefs.limit_overrides
    )


ORDER = {"name": "Alex", "order_id": "A-1042"}
ALERT = {"name": "Alex", "device": "a new laptop"}
DIGEST = {"name": "Alex", "count": "3"}


@dataclass(frozen=True)
class _Spec:
    label: str
    recipients: list[str]
    template: str = "order_shipped"
    category: str = "transactional"
    priority: Priority = Priority.NORMAL
    data: Mapping[str, str] = field(default_factory=lambda: ORDER)
    channels: tuple[Channel, ...] | None = None
    expires_at: datetime | None = None


def _specs(users: Sequence[DemoUser], now: datetime) -> list[_Spec]:
    ids = [u.user_id for u in users]
    quiet = [u.user_id for u in users if quiet_until(now, u.prefs.quiet_hours) is not None]
    clear = [u.user_id for u in users if _clear_for_push(u, now)]
    return [
        _Spec("order shipped", ids[: max(len(ids) // 3, len(PERSONAS))]),
        _Spec("weekly digest", ids, "weekly_digest", "marketing", Priority.LOW, DIGEST),
        _Spec("security alert", ids[::6], "security_alert", "security", Priority.HIGH, ALERT),
        _Spec("critical alert", quiet[:10], "security_alert", "security", Priority.CRITICAL, ALERT),
        *[_Spec("sms burst", ids[:1], channels=(Channel.SMS,)) for _ in range(5)],
        _Spec("broken template", clear[:3], "broken"),
        _Spec("expired", ids[:5], expires_at=now - timedelta(minutes=5)),
    ]


def demo_load(users: Sequence[DemoUser], now: datetime, run_id: str) -> Load:
    """The demo's requests; those that would have no recipients are left out."""
    return [
        (
            spec.label,
            NotificationRequest(
                request_id=f"demo-{run_id}-{number:02d}",
                source="herald-demo",
                category=spec.category,
                priority=spec.priority,
                template_id=spec.template,
                recipients=spec.recipients,
                created_at=now,
                data=dict(spec.data),
                channels=spec.channels,
                expires_at=spec.expires_at,
            ),
        )
        for number, spec in enumerate(_specs(users, now), 1)
        if spec.recipients
    ]


def expected_channels(
    load: Load, channels_of: Callable[[str], tuple[Channel, ...]]
) -> dict[Key, frozenset[Channel]]:
    """Per notification, the channels that must each get a status."""
    return {
        (r.request_id, user_id): frozenset(
            r.channels if r.channels is not None else channels_of(r.template_id)
        )
        for _, r in load
        for user_id in r.recipients
    }


def gaps(
    expected: Mapping[Key, frozenset[Channel]], statuses: Sequence[DeliveryStatus]
) -> dict[Key, frozenset[Channel]]:
    """The channels still without a status; a status with no channel covers them all."""
    seen: dict[Key, set[Channel | None]] = defaultdict(set)
    for status in statuses:
        seen[(status.request_id, status.user_id)].add(status.channel)
    missing = {}
    for key, wanted in expected.items():
        got = seen.get(key, set())
        if None not in got and (left := wanted - got):
            missing[key] = frozenset(left)
    return missing


def describe_gaps(
    missing: Mapping[Key, frozenset[Channel]], labels: Mapping[str, str]
) -> list[str]:
    return [
        f"{labels.get(request_id, request_id)} to {user_id}: {', '.join(sorted(channels))}"
        for (request_id, user_id), channels in sorted(missing.items())
    ]


# -- the summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UserStory:
    user_id: str
    profile: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    requests: int
    notifications: int  # (request, recipient) pairs
    status_events: int
    by_state: Mapping[str, int]  # final state of each (notification, channel)
    by_channel: Mapping[str, Mapping[str, int]]  # channel (or WHOLE) -> state -> count
    suppressed: Mapping[str, int]  # reason -> count
    channel_messages: Mapping[str, int]  # channel -> messages on its topic
    dead_letters: int
    missing: tuple[str, ...]
    elapsed_s: float
    samples: tuple[UserStory, ...] = ()

    @property
    def throughput(self) -> float:
        """Notifications decided per second."""
        return self.notifications / self.elapsed_s if self.elapsed_s > 0 else 0.0


def final_statuses(statuses: Sequence[DeliveryStatus]) -> list[DeliveryStatus]:
    """The latest status of each (notification, channel), in order of first appearance."""
    latest: dict[tuple[str, Channel | None], DeliveryStatus] = {}
    for status in statuses:
        latest[(status.notification_id, status.channel)] = status
    return list(latest.values())


def summarize(
    statuses: Sequence[DeliveryStatus],
    *,
    started_at: datetime | None = None,
    channel_messages: Mapping[str, int] | None = None,
    dead_letters: int = 0,
    missing: Sequence[str] = (),
    samples: Sequence[UserStory] = (),
) -> Summary:
    """Counts over this run's statuses; elapsed runs from ``started_at`` to the last one."""
    final = final_statuses(statuses)
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for status in final:
        by_channel[status.channel or WHOLE][status.state] += 1
    last = max((s.occurred_at for s in statuses), default=None)
    elapsed = (last - started_at).total_seconds() if last and started_at else 0.0
    return Summary(
        requests=len({s.request_id for s in statuses}),
        notifications=len({s.notification_id for s in statuses}),
        status_events=len(statuses),
        by_state=dict(Counter(str(s.state) for s in final)),
        by_channel={channel: dict(counts) for channel, counts in by_channel.items()},
        suppressed=dict(Counter(s.reason or "?" for s in final if s.state is State.SUPPRESSED)),
        channel_messages=dict(channel_messages or {}),
        dead_letters=dead_letters,
        missing=tuple(missing),
        elapsed_s=max(elapsed, 0.0),
        samples=tuple(samples),
    )


def _outcome(status: DeliveryStatus) -> str:
    text = f"{status.channel or WHOLE} {status.state}"
    return f"{text} ({status.reason})" if status.reason and status.reason != status.state else text


def user_story(
    user: DemoUser, statuses: Sequence[DeliveryStatus], labels: Mapping[str, str]
) -> UserStory:
    """What happened to ``user``, request label by request label (in publishing order)."""
    per_label: dict[str, Counter[str]] = {label: Counter() for label in labels.values()}
    for status in final_statuses(statuses):
        if status.user_id == user.user_id and status.request_id in labels:
            per_label[labels[status.request_id]][_outcome(status)] += 1
    events = tuple(
        f"{label}: " + ", ".join(f"{o} x{n}" if n > 1 else o for o, n in outcomes.items())
        for label, outcomes in per_label.items()
        if outcomes
    )
    return UserStory(user.user_id, describe_user(user), events)


COLUMNS = (State.QUEUED, State.SUPPRESSED, State.DEFERRED, State.EXPIRED, *State)


def _table(summary: Summary) -> list[str]:
    states = [s for s in dict.fromkeys(COLUMNS) if s in summary.by_state]
    rows = [c for c in [*Channel, WHOLE] if c in summary.by_channel]
    head = f"{'':<13}" + "".join(f"{s:>12}" for s in states) + f"{'total':>9}"
    lines = [head]
    for row in [*rows, "total"]:
        counts = summary.by_state if row == "total" else summary.by_channel[row]
        cells = "".join(f"{counts.get(s, 0):>12,}" for s in states)
        lines.append(f"{row:<13}{cells}{sum(counts.values()):>9,}")
    return lines


def format_summary(summary: Summary) -> str:
    lines = [
        "",
        f"{summary.requests} requests fanned out to {summary.notifications:,} notifications; "
        "final state of each (notification, channel):",
        *_table(summary),
        "",
        "suppressed, by reason:",
        *(f"  {r:<20}{n:>7,}" for r, n in sorted(summary.suppressed.items(), key=_by_count)),
        "",
        "messages on channel topics (push: one per device): "
        + ", ".join(f"{c} {n:,}" for c, n in summary.channel_messages.items()),
        f"dead letters: {summary.dead_letters} (records that could not be decoded or validated)",
        f"{summary.status_events:,} status events; the last came {summary.elapsed_s:.1f}s after "
        f"the first publish ({summary.throughput:,.0f} notifications decided a second)",
    ]
    for story in summary.samples:
        lines += ["", f"{story.user_id} ({story.profile}):", *(f"  {e}" for e in story.events)]
    if summary.missing:
        lines += ["", f"MISSING: {len(summary.missing)} notification(s) got no status on time:"]
        lines += [f"  {line}" for line in summary.missing[:10]]
    return "\n".join(lines)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


# -- running it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoConfig:
    prefix: str
    users: int = 300
    cleanup: bool = False  # delete the prefix's topics, subjects and deferred set at the end
    timeout_s: float = 120.0
    seed: int = SEED

    def __post_init__(self) -> None:
        if self.cleanup and not self.prefix.startswith("demo-"):
            raise ConfigurationError(f"only a demo-* prefix is cleaned up, not {self.prefix!r}")
        if self.users < 1:
            raise ConfigurationError(f"the demo needs at least one user, not {self.users}")

    @classmethod
    def from_options(
        cls, users: int, prefix: str | None, keep: bool, timeout_s: float, now: datetime
    ) -> DemoConfig:
        """A prefix of the user's own is never cleaned up; a fresh one is, unless kept."""
        if prefix:
            return cls(prefix, users, cleanup=False, timeout_s=timeout_s)
        fresh = f"demo-{now:%Y%m%d-%H%M%S}."
        return cls(fresh, users, cleanup=not keep, timeout_s=timeout_s)


def templates_dir(settings: HeraldSettings) -> Path:
    """The configured templates; a relative path is read from the repository's root."""
    configured = settings.pipeline.templates_dir
    return configured if configured.is_absolute() else REPO_ROOT / configured


def worker_env(settings: HeraldSettings, home: Path) -> dict[str, str]:
    return {
        "HERALD_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HERALD_PIPELINE__TEMPLATES_DIR": str(templates_dir(settings)),
        "HERALD_PIPELINE__WORKER_DIR": str(home / "worker"),
    }


class TopicSizes:
    """Records ever written to topics: the sum of their partitions' high watermarks."""

    def __init__(self, settings: HeraldSettings) -> None:
        group = f"herald-demo-{uuid.uuid4().hex}"  # never joins: only reads watermarks
        self._consumer = Consumer(settings.kafka.client_config(**{"group.id": group}))

    def of(self, topics: Sequence[str], timeout_s: float = 30.0) -> dict[str, int]:
        """Retried while new topics' partitions are still electing their leaders."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._read(topics)
            except KafkaException as error:
                if time.monotonic() > deadline:
                    raise HeraldError(
                        f"reading the sizes of {', '.join(topics)}: {error}"
                    ) from error
                time.sleep(0.5)

    def _read(self, topics: Sequence[str]) -> dict[str, int]:
        metadata = self._consumer.list_topics(timeout=10)
        return {
            topic: sum(
                self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.topics[topic].partitions
            )
            for topic in topics
        }

    def close(self) -> None:
        self._consumer.close()


def population(users: Sequence[DemoUser], now: datetime) -> str:
    """How varied the users are, in a few counts."""
    counts = {
        "opted out of sms": sum(Channel.SMS in u.prefs.opted_out_channels for u in users),
        "of marketing": sum("marketing" in u.prefs.opted_out_categories for u in users),
        "in quiet hours now": sum(quiet_until(now, u.prefs.quiet_hours) is not None for u in users),
        "without a device": sum(not u.contacts.devices for u in users),
        "without a phone": sum(u.contacts.phone is None for u in users),
        "with a lower limit": sum(bool(u.prefs.limit_overrides) for u in users),
        "reading French": sum(u.prefs.locale == "fr" for u in users),
    }
    return ", ".join(f"{n} {what}" for what, n in counts.items())


def with_prefix(settings: HeraldSettings, prefix: str) -> HeraldSettings:
    return settings.model_copy(
        update={"kafka": settings.kafka.model_copy(update={"topic_prefix": prefix})}
    )


def demo_home(settings: HeraldSettings) -> Path:
    return settings.stack.home / "demo"


@dataclass(frozen=True)
class _Run:
    """What one run published, and the statuses it read back."""

    users: list[DemoUser]
    load: Load
    started_at: datetime
    statuses: list[DeliveryStatus]
    missing: dict[Key, frozenset[Channel]]

    @property
    def labels(self) -> dict[str, str]:
        return {r.request_id: label for label, r in self.load}


def run_demo(settings: HeraldSettings, config: DemoConfig, say: Say = print) -> Summary:
    """The whole demo. The stack is left running; the worker is stopped at the end."""
    Stack(settings, say=say).up()
    settings = with_prefix(settings, config.prefix)
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
            run = _with_worker(settings, config, codec, dead_letters, say)
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
        missing=describe_gaps(run.missing, labels),
        samples=[
            user_story(run.users[i], run.statuses, labels) for i in SAMPLE if i < len(run.users)
        ],
    )


def _with_worker(
    settings: HeraldSettings,
    config: DemoConfig,
    codec: AvroCodec,
    dead_letters: Callable[[], int],
    say: Say,
) -> _Run:
    home = demo_home(settings)
    log = home / f"{settings.kafka.topic_prefix}worker.log"  # one per run: runs may overlap
    worker = WorkerProcess("streams", worker_env(settings, home), log)
    say(f"starting a streams worker (log: {worker.log_file})")
    with worker:
        say(f"worker ready (pid {worker.pid})")
        run = _play(settings, config, codec, dead_letters, say)
        say("stopping the worker")
    return run


def _play(
    settings: HeraldSettings,
    config: DemoConfig,
    codec: AvroCodec,
    dead_letters: Callable[[], int],
    say: Say,
) -> _Run:
    now = datetime.now(UTC)
    users = demo_users(config.users, now, config.seed)
    load = demo_load(users, now, run_id=uuid.uuid4().hex[:8])
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
    expected = expected_channels(load, TemplateStore(templates_dir(settings)).channels)
    say(f"reading statuses until all {len(expected):,} notifications have an outcome")
    statuses, missing = _collect(settings, codec, expected, dead_letters, config.timeout_s)
    return _Run(users, load, started_at, statuses, missing)


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
) -> tuple[list[DeliveryStatus], dict[Key, frozenset[Channel]]]:
    """This run's statuses, once complete and the malformed record is dead-lettered (or at
    the time-out), and what is still missing."""
    ids = {request_id for request_id, _ in expected}
    reader = StatusReader(settings, codec)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            reader.poll()
            mine = [s for s in reader.seen if s.request_id in ids]
            missing = gaps(expected, mine)
            if (not missing and dead_letters() > 0) or time.monotonic() > deadline:
                return mine, missing
    finally:
        reader.close()


def delete_run(settings: HeraldSettings, say: Say) -> None:
    """Remove what a run left under its prefix: topics (the worker's too), subjects, deferred
    notifications and the worker's directory. Problems are reported, not raised."""
    prefix = settings.kafka.topic_prefix
    try:
        admin = AdminClient(settings.kafka.client_config())
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result(timeout=30)
        _delete_subjects(settings)
        client = redis.Redis.from_url(settings.redis.url.get_secret_value())
        client.delete(f"{prefix}deferred", f"{prefix}deferred:processing")
        client.close()
    except (HeraldError, KafkaException, redis.RedisError) as error:
        say(f"warning: could not clean up everything under {prefix}: {error}")
        return
    shutil.rmtree(demo_home(settings) / "worker" / app_id(settings), ignore_errors=True)
    say(f"deleted this run's {len(ours)} topics, subjects and deferred set under {prefix}")


def _delete_subjects(settings: HeraldSettings) -> None:
    """The prefix's subjects; those never registered (no worker ran) are skipped."""
    with AvroCodec.from_settings(settings.registry) as codec:
        for topic in topic_contracts(TopicNames(settings.kafka.topic_prefix)):
            with suppress(RegistryError):
                codec.delete_subject(subject(topic))
