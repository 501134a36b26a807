"""The demo's delivery half: a private provider sandbox, a sender worker per channel and the
status sink, a few provider faults to show retries, failover and a dead address, and users'
timelines read back from Cassandra."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectors.registry import push_provider_for
from herald.cassandra import cassandra_cluster
from herald.history import recent_for_user
from herald.migrate import apply_migrations
from herald.models import Channel
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from infra.stack.launcher import Say
from lab.demo.summary import TimelineRow
from lab.demo.users import DemoUser
from lab.offsets import wait_caught_up
from lab.sandboxes import SandboxControl
from lab.sandboxes.config import on_free_ports
from lab.sandboxes.process import SandboxProcess
from lab.workers import WorkerProcess

# SNS answers 503 this many times: the first SMS retry, SNS's breaker opens and Twilio takes
# over until SNS's probe succeeds.
SNS_FAILURES = 6


@dataclass(frozen=True)
class Delivery:
    settings: HeraldSettings  # with the sandbox's endpoints
    control: SandboxControl


@contextmanager
def delivering(settings: HeraldSettings, home: Path, say: Say) -> Iterator[Delivery]:
    """A private sandbox on free ports, then the sink and one sender worker per channel."""
    delivery = on_free_ports(settings.delivery, home / "sandbox")
    settings = settings.model_copy(update={"delivery": delivery})
    prefix = settings.kafka.topic_prefix
    with ExitStack() as stack:
        applied = apply_migrations(settings.cassandra)
        say(
            f"Cassandra keyspace {settings.cassandra.keyspace}: "
            + (", ".join(applied) or "up to date")
        )
        sandbox = SandboxProcess(settings, home / f"{prefix}sandbox.log")
        stack.enter_context(sandbox)
        say(f"provider sandbox ready: FCM, APNs, SNS, SES, Twilio shape, SMTP ({sandbox.log_file})")
        workers = [WorkerProcess("sink", settings, home / f"{prefix}sink.log")] + [
            WorkerProcess(
                "sender", settings, home / f"{prefix}sender-{c}.log", args=("--channel", c)
            )
            for c in Channel
        ]
        for worker in workers:
            stack.enter_context(worker)
        say("status sink and sender workers ready (push, sms, email)")
        control = stack.enter_context(SandboxControl(delivery))
        yield Delivery(settings, control)
        say("stopping the senders, the sink and the sandbox")


def inject_faults(control: SandboxControl, users: Sequence[DemoUser]) -> str:
    """A dead device token (the first persona's second device), and SNS failing for a while."""
    said = []
    if users and len(users[0].contacts.devices) > 1:
        device = users[0].contacts.devices[1]
        control.fault(
            "apns" if push_provider_for(device.platform) == "apns" else "fcm", refuse=[device.token]
        )
        said.append(f"{users[0].user_id}'s second device token is dead")
    control.fault("sns", status=503, count=SNS_FAILURES)
    said.append(f"SNS answers 503 to the next {SNS_FAILURES} calls")
    return "; ".join(said)


def timelines(settings: HeraldSettings, user_ids: Sequence[str]) -> dict[str, list[TimelineRow]]:
    """Once the sink has written every status, each user's history from Cassandra (newest
    first), as data teams and support would read it."""
    names = TopicNames(settings.kafka.topic_prefix)
    wait_caught_up(settings, f"{names.prefix}status-sink", [names.status])
    cluster = cassandra_cluster(settings.cassandra)
    try:
        session = cluster.connect()
        return {
            user_id: [
                TimelineRow(
                    f"{row.occurred_at:%H:%M:%S}.{row.occurred_at.microsecond // 1000:03d}",
                    str(row.channel or "-"),
                    row.state,
                    row.reason,
                    row.provider,
                )
                for row in recent_for_user(session, settings.cassandra.keyspace, user_id, days=1)
            ]
            for user_id in user_ids
        }
    finally:
        cluster.shutdown()
