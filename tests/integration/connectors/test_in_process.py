"""A sender round and a sink step driven in-process, through the lifecycle every worker
shares: opened from settings, single rounds or a bounded run, closed. Real Kafka, Redis,
Cassandra and the provider sandbox; no child process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from cassandra.cluster import Session

from connectors.delivery.app import open_sender
from connectors.sink.app import open_sink
from herald.errors import ConfigurationError
from herald.history import timeline
from herald.lifecycle import Bounds, Stop, run_rounds
from herald.migrate import migrate
from herald.models import Channel, State
from herald.settings import HeraldSettings
from lab.offsets import group_lag
from lab.sandboxes import SandboxControl
from tests.integration.delivery import message, running_delivery

Sandbox = tuple[HeraldSettings, SandboxControl]


async def rounds_until(worker: object, wanted: int, timeout_s: float = 60) -> int:
    """Single rounds until ``wanted`` records were taken."""
    taken, deadline = 0, time.monotonic() + timeout_s
    while taken < wanted:
        assert time.monotonic() < deadline, f"took {taken} of {wanted}"
        taken += await worker.round()  # type: ignore[attr-defined]
    return taken


def test_a_sender_round_delivers_emits_and_commits(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        sent = delivery.publish([message(Channel.SMS, "+15555550301") for _ in range(3)])

        async def deliver() -> bool:
            async with open_sender(delivery.settings, Channel.SMS) as worker:
                await rounds_until(worker, len(sent))
                return worker.ready

        assert asyncio.run(deliver())
        outcomes = delivery.outcomes(sent)
        assert {outcomes[m.notification_id].state for m in sent} == {State.SENT}
        received = {r.notification_id for p in ("sns", "twilio") for r in control.received(p)}
        assert {m.notification_id for m in sent} <= received
        group = f"{delivery.names.prefix}sender-sms"
        assert group_lag(delivery.settings, group, [delivery.names.channel("sms")]) == 0


def test_a_sender_missing_a_setting_never_connects(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, _ = sandbox
    broken = settings.updated(delivery={"twilio": {"auth_token": None}})

    async def open_it() -> None:
        async with open_sender(broken, Channel.SMS):
            pytest.fail("opened without Twilio's token")

    with pytest.raises(ConfigurationError, match="HERALD_DELIVERY__TWILIO__AUTH_TOKEN"):
        asyncio.run(open_it())


def test_a_bounded_sink_run_writes_the_rows_and_stops(
    sandbox: Sandbox, tmp_path: Path, cql: Session, keyspace: str
) -> None:
    settings, _ = sandbox
    with running_delivery(settings.updated(cassandra={"keyspace": keyspace}), tmp_path) as d:
        migrate(cql, d.settings.cassandra)
        sent = d.publish([message(Channel.EMAIL, "inprocess@example.com")])

        async def deliver_then_sink() -> int:
            async with open_sender(d.settings, Channel.EMAIL) as sender:
                await rounds_until(sender, 1)
            stop = Stop()
            async with open_sink(d.settings, stop) as sink:
                taken = await rounds_until(sink, 1)  # the sender's `sent`
                return taken + await run_rounds(sink, stop, Bounds(until_idle=True))

        assert asyncio.run(deliver_then_sink()) == 1
        rows = timeline(cql, keyspace, sent[0].notification_id)
        assert [r.state for r in rows] == [State.SENT]
        group = f"{d.names.prefix}status-sink"
        assert group_lag(d.settings, group, [d.names.status]) == 0
