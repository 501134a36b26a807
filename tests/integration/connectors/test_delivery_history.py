"""The whole delivery half, per channel: channel messages -> sender workers -> provider
sandboxes -> herald.status -> the status sink -> rows in Cassandra."""

from __future__ import annotations

from pathlib import Path

from cassandra.cluster import Session

from herald.history import recent_for_user, timeline
from herald.migrate import migrate
from herald.models import Channel, Platform, State
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from lab.sandboxes.client import SandboxControl
from lab.workers import WorkerProcess
from tests.integration.delivery import message, running_delivery

Sandbox = tuple[HeraldSettings, SandboxControl]


def test_each_channel_ends_as_rows_in_cassandra(
    sandbox: Sandbox, cql: Session, keyspace: str, tmp_path: Path
) -> None:
    sandboxed, control = sandbox
    sandboxed = sandboxed.model_copy(
        update={"cassandra": sandboxed.cassandra.model_copy(update={"keyspace": keyspace})}
    )
    migrate(cql, sandboxed.cassandra)
    with running_delivery(sandboxed, tmp_path) as delivery:
        for channel in Channel:
            delivery.sender(channel)
        sink = WorkerProcess("sink", delivery.settings, tmp_path / "sink.log").start()
        delivery.workers.append(sink)
        messages = delivery.publish(
            [
                message(Channel.PUSH, "tok-history", Platform.ANDROID),
                message(Channel.PUSH, f"{7:064x}", Platform.IOS),
                message(Channel.SMS, "+15555550199"),
                message(Channel.EMAIL, "history@example.com"),
            ]
        )
        outcomes = delivery.outcomes(messages)
        names = delivery.names
        wait_caught_up(delivery.settings, f"{names.prefix}status-sink", [names.status], 60)

        received = {
            r.notification_id: r
            for provider in ("fcm", "apns", "sns", "smtp")
            for r in control.received(provider)  # type: ignore[arg-type]
        }
        for sent in messages:
            status = outcomes[sent.notification_id]
            assert status.state is State.SENT
            assert sent.notification_id in received  # the provider really got it
            [row] = timeline(cql, keyspace, sent.notification_id)
            assert (row.state, row.channel, row.user_id) == (State.SENT, sent.channel, sent.user_id)
            assert (row.provider, row.provider_message_id) == (
                status.provider,
                status.provider_message_id,
            )
            [user_row] = recent_for_user(cql, keyspace, sent.user_id, days=1)
            assert user_row.notification_id == sent.notification_id
        assert {
            r.provider for m in messages for r in timeline(cql, keyspace, m.notification_id)
        } == {
            "fcm",
            "apns",
            "sns",
            "smtp",
        }
