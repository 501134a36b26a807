"""Provider receipts end to end: a sender delivers through a sandbox, the sandbox reports what
became of the message as its provider would (Twilio's signed status callback, SES's events
through a confirmed SNS subscription, an MTA's DSN bounce), herald api verifies and matches
it, and the status event reaches the status topic and Cassandra. Apps report push opens with
the token the push payload carried. Bad signatures are refused and counted; receipts for
messages Herald never sent are dead-lettered with their reason."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cassandra.cluster import Session

from api.keys import Scope
from connectors.push.events import EVENT_TOKEN
from herald.history import timeline
from herald.models import Channel, DeliveryStatus, Platform, State
from herald.receipts import twilio
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from lab.sandboxes.client import SandboxControl
from lab.sandboxes.config import free_port
from lab.sandboxes.models import SES_EVENTS_TOPIC, ReceiptPlan
from lab.sandboxes.reporter import CERTIFICATE_PATH
from lab.workers import WorkerProcess
from tests.integration.api.conftest import Api
from tests.integration.api.test_publish import bearer
from tests.integration.connectors.test_metrics import get, metrics_url, scrape
from tests.integration.delivery import Delivery, dead_letters, message, running_delivery

Sandbox = tuple[HeraldSettings, SandboxControl]
SECRET = "a key for the receipts tests, 32 bytes or more"
DEAD_PHONE, DEAD_EMAIL = "+15555550142", "gone@example.com"


@dataclass
class Loop:
    delivery: Delivery
    api: Api
    control: SandboxControl
    sink: WorkerProcess

    def wait_states(
        self, wanted: dict[str, State], timeout_s: float = 60
    ) -> dict[str, list[DeliveryStatus]]:
        """Every status of each notification, once each has reached its wanted state."""
        reader = self.delivery.statuses()

        def done(seen: list[DeliveryStatus]) -> bool:
            reached = {(s.notification_id, s.state) for s in seen}
            return all((n, state) in reached for n, state in wanted.items())

        reader.wait_until(done, timeout_s)
        return {n: [s for s in reader.seen if s.notification_id == n] for n in wanted}

    def sunk(self) -> None:
        names = self.delivery.names
        group = f"{names.prefix}status-sink"
        wait_caught_up(self.delivery.settings, group, [names.status], 60)


@contextmanager
def receipts_loop(
    sandbox: Sandbox,
    migrated: str,
    start_api: Callable[..., Api],
    workdir: Path,
    channels: tuple[Channel, ...],
    **sections: dict[str, object],
) -> Iterator[Loop]:
    """Senders of ``channels``, the sink and an API whose URL every message's links name."""
    sandboxed, control = sandbox
    control.reset()
    port = free_port()
    settings = sandboxed.updated(
        cassandra={"keyspace": migrated},
        links={"secret": SECRET, "base_url": f"http://127.0.0.1:{port}"},
        api={"receipt_match_wait_s": 2.0},
        **sections,
    )
    with running_delivery(settings, workdir) as delivery:
        api = start_api(delivery.settings, port=port)
        for channel in channels:
            delivery.sender(channel)
        sink = WorkerProcess(
            "sink", delivery.settings, workdir / "sink.log", args=("--metrics-port", "0")
        ).start()
        delivery.workers.append(sink)
        try:
            yield Loop(delivery, api, control, sink)
        finally:
            control.reset()


def reasons(statuses: list[DeliveryStatus]) -> str:
    return " ".join(f"{s.reason} {s.detail}" for s in statuses)


def test_twilio_callbacks_dsn_bounces_and_push_opens_become_statuses_and_rows(
    sandbox: Sandbox, migrated: str, start_api: Callable[..., Api], cql: Session, tmp_path: Path
) -> None:
    channels = (Channel.SMS, Channel.EMAIL, Channel.PUSH)
    sms_email = {"sms_providers": ("twilio",), "email_providers": ("smtp",)}
    with receipts_loop(
        sandbox, migrated, start_api, tmp_path, channels, delivery=sms_email
    ) as loop:
        publisher = bearer(loop.api.token(Scope.PUBLISH))
        hook = f"{loop.api.url}/v1/receipts/smtp"
        loop.control.plan_receipts("twilio", ReceiptPlan(fail=frozenset({DEAD_PHONE})))
        key = publisher["Authorization"].removeprefix("Bearer ")
        loop.control.plan_receipts(
            "smtp", ReceiptPlan(url=hook, api_key=key, fail=frozenset({DEAD_EMAIL}))
        )
        sms_ok, sms_dead = message(Channel.SMS, "+15555550100"), message(Channel.SMS, DEAD_PHONE)
        mail_ok, mail_dead = (
            message(Channel.EMAIL, "fine@example.com"),
            message(Channel.EMAIL, DEAD_EMAIL),
        )
        push = message(Channel.PUSH, "tok-receipts", Platform.ANDROID)
        loop.delivery.publish([sms_ok, sms_dead, mail_ok, mail_dead, push])
        seen = loop.wait_states(
            {
                sms_ok.notification_id: State.DELIVERED,
                sms_dead.notification_id: State.FAILED,
                mail_dead.notification_id: State.BOUNCED,
                mail_ok.notification_id: State.SENT,
                push.notification_id: State.SENT,
            }
        )
        # the app opens the push message, twice: one opened status
        [received] = [
            r for r in loop.control.received("fcm") if r.notification_id == push.notification_id
        ]
        token = received.data[EVENT_TOKEN]
        events = f"{loop.api.url}/v1/events"
        first = httpx.post(events, json={"token": token, "event": "opened"})
        again = httpx.post(events, json={"token": token, "event": "opened"})
        assert (first.status_code, first.json()["matched"]) == (200, 1)
        assert (again.status_code, again.json()["repeated"]) == (200, 1)
        opened = loop.wait_states({push.notification_id: State.OPENED})[push.notification_id]
        loop.sunk()

        twilio_reports = loop.control.reports("twilio")
        smtp_reports = loop.control.reports("smtp")
        reader = bearer(loop.api.token(Scope.READ))
        summary = httpx.get(f"{loop.api.url}/v1/requests/{sms_ok.request_id}", headers=reader)
        bounce_summary = httpx.get(
            f"{loop.api.url}/v1/requests/{mail_dead.request_id}", headers=reader
        ).json()
        _, rates = scrape(metrics_url(loop.sink))
    assert {r.status for r in twilio_reports} == {200} and len(twilio_reports) == 4  # sent + final
    assert [(r.kind, r.status) for r in smtp_reports] == [("dsn", 200)]

    [delivered] = [s for s in seen[sms_ok.notification_id] if s.state is State.DELIVERED]
    [sent] = [s for s in seen[sms_ok.notification_id] if s.state is State.SENT]
    assert (delivered.provider, delivered.provider_message_id) == (
        "twilio",
        sent.provider_message_id,
    )
    assert (delivered.user_id, delivered.request_id, delivered.channel) == (
        sms_ok.user_id,
        sms_ok.request_id,
        Channel.SMS,
    )
    [failed] = [s for s in seen[sms_dead.notification_id] if s.state is State.FAILED]
    assert (failed.reason, failed.detail) == ("30003", "undelivered")
    [bounced] = [s for s in seen[mail_dead.notification_id] if s.state is State.BOUNCED]
    assert (bounced.provider, bounced.reason) == ("smtp", "5.1.1")
    assert DEAD_EMAIL not in reasons(seen[mail_dead.notification_id])
    assert not [s for s in seen[mail_ok.notification_id] if s.state is State.BOUNCED]
    assert [s.state for s in opened].count(State.OPENED) == 1
    [open_status] = [s for s in opened if s.state is State.OPENED]
    assert (open_status.provider, open_status.channel) == ("fcm", Channel.PUSH)

    for sent_message, state in (
        (sms_ok, State.DELIVERED),
        (sms_dead, State.FAILED),
        (mail_dead, State.BOUNCED),
        (push, State.OPENED),
    ):
        rows = timeline(cql, migrated, sent_message.notification_id)
        assert [r.state for r in rows][-1] is state, rows

    # the per-request summary and the sink's delivery-rate gauges
    assert summary.json()["delivery"] == {
        "sent": 1, "delivered": 1, "opened": 0, "clicked": 0, "bounced": 0,
        "delivery_rate": 1.0, "open_rate": 0.0, "click_rate": 0.0,
    }  # fmt: skip
    assert bounce_summary["delivery"]["bounced"] == 1
    assert bounce_summary["delivery"]["delivery_rate"] == 0.0
    assert (
        get(rates, "herald_delivery_rate", channel="sms", provider="twilio", stage="delivered")
        == 0.5
    )
    assert (
        get(rates, "herald_delivery_rate", channel="email", provider="smtp", stage="bounced") == 0.5
    )
    assert get(rates, "herald_delivery_rate", channel="push", provider="all", stage="opened") == 1.0


def test_ses_events_arrive_through_a_confirmed_sns_subscription(
    sandbox: Sandbox, migrated: str, start_api: Callable[..., Api], cql: Session, tmp_path: Path
) -> None:
    with receipts_loop(
        sandbox,
        migrated,
        start_api,
        tmp_path,
        (Channel.EMAIL,),
        delivery={"email_providers": ("ses",)},
    ) as loop:
        endpoint = f"{loop.api.url}/v1/receipts/ses"
        loop.control.plan_receipts("ses", ReceiptPlan(url=endpoint, fail=frozenset({DEAD_EMAIL})))
        [confirmation] = loop.control.wait_reports("ses", lambda reports: len(reports) >= 1)
        assert (confirmation.kind, confirmation.status) == ("SubscriptionConfirmation", 200)
        fine, dead = message(Channel.EMAIL, "fine@example.com"), message(Channel.EMAIL, DEAD_EMAIL)
        loop.delivery.publish([fine, dead])
        seen = loop.wait_states(
            {fine.notification_id: State.DELIVERED, dead.notification_id: State.BOUNCED}
        )
        loop.sunk()
        reports = loop.control.reports("ses")
    assert sorted(r.kind for r in reports) == ["Bounce", "Delivery", "SubscriptionConfirmation"]
    assert {r.status for r in reports} == {200}
    [bounced] = [s for s in seen[dead.notification_id] if s.state is State.BOUNCED]
    assert (bounced.provider, bounced.reason) == ("ses", "Permanent:General")
    assert DEAD_EMAIL not in reasons(seen[dead.notification_id])
    assert [r.state for r in timeline(cql, migrated, fine.notification_id)][-1] is State.DELIVERED


def test_forged_receipts_are_refused_and_counted_and_unknown_ids_dead_lettered(
    sandbox: Sandbox, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with receipts_loop(sandbox, migrated, start_api, tmp_path, ()) as loop:
        api = loop.api
        url = f"{api.url}/v1/receipts/twilio"
        token = loop.delivery.settings.delivery.twilio.auth_token
        assert token is not None
        form = [("MessageSid", "SMnever"), ("MessageStatus", "delivered")]
        signed_url = f"{loop.delivery.settings.links.base_url}/v1/receipts/twilio"
        good = twilio.signature(token.get_secret_value(), signed_url, form)
        body = "MessageSid=SMnever&MessageStatus=delivered"
        headers = {"content-type": "application/x-www-form-urlencoded"}
        forged = [
            {},
            {twilio.SIGNATURE_HEADER: good[:-2] + "AA"},
            {twilio.SIGNATURE_HEADER: twilio.signature("another token", signed_url, form)},
        ]
        for extra in forged:
            answer = httpx.post(url, content=body, headers=headers | extra)
            assert answer.status_code == 401
        altered = httpx.post(
            url,
            content=body.replace("delivered", "failed"),
            headers=headers | {twilio.SIGNATURE_HEADER: good},
        )
        assert altered.status_code == 401
        unknown = httpx.post(url, content=body, headers=headers | {twilio.SIGNATURE_HEADER: good})
        assert unknown.status_code == 200 and unknown.json()["unknown"] == 1

        # SNS: signed by a key that is not the certificate's, or of a topic not taken
        aws = loop.delivery.settings.delivery.aws
        message = {
            "Type": "Notification", "MessageId": "m", "TopicArn": SES_EVENTS_TOPIC,
            "Message": json.dumps({"eventType": "Delivery", "mail": {"messageId": "x"}}),
            "Timestamp": "2026-12-04T12:00:00.000Z", "SignatureVersion": "2",
            "SigningCertURL": f"{aws.endpoint_url}{CERTIFICATE_PATH}", "Signature": "AAAA",
        }  # fmt: skip
        assert (
            httpx.post(f"{api.url}/v1/receipts/ses", content=json.dumps(message)).status_code == 401
        )
        elsewhere = message | {"SigningCertURL": "https://evil.example/cert.pem"}
        assert (
            httpx.post(f"{api.url}/v1/receipts/ses", content=json.dumps(elsewhere)).status_code
            == 401
        )
        other_topic = message | {"TopicArn": "arn:aws:sns:us-east-1:1:other"}
        assert (
            httpx.post(f"{api.url}/v1/receipts/ses", content=json.dumps(other_topic)).status_code
            == 401
        )
        assert httpx.post(f"{api.url}/v1/receipts/ses", content=b"not json").status_code == 400

        # the bounce hook needs a key; an app event a token of ours
        hook = f"{api.url}/v1/receipts/smtp"
        assert httpx.post(hook, content=b"x").status_code == 401
        assert (
            httpx.post(hook, content=b"x", headers=bearer(api.token(Scope.READ))).status_code == 403
        )
        not_a_dsn = httpx.post(
            hook, content=b"Subject: hi\r\n\r\nhello", headers=bearer(api.token(Scope.PUBLISH))
        )
        assert not_a_dsn.status_code == 400 and "multipart/report" in not_a_dsn.json()["detail"]
        assert httpx.post(f"{api.url}/v1/events", json={"token": "a.b.c"}).status_code == 401

        metrics = httpx.get(f"{api.url}/metrics").text
        letters = dead_letters(loop.delivery)
    assert 'herald_api_receipts_total{outcome="bad_signature",provider="twilio"} 4.0' in metrics
    assert 'herald_api_receipts_total{outcome="bad_signature",provider="ses"} 3.0' in metrics
    assert 'herald_api_receipts_total{outcome="malformed",provider="ses"} 1.0' in metrics
    assert 'herald_api_receipts_total{outcome="bad_signature",provider="app"} 1.0' in metrics
    assert 'herald_api_receipts_total{outcome="malformed",provider="smtp"} 1.0' in metrics
    assert 'herald_api_receipts_total{outcome="unknown",provider="twilio"} 1.0' in metrics
    [letter] = [d for d in letters if d.stage == "api.receipts"]
    assert letter.reason == "no twilio message has the id SMnever"
    assert (letter.key, letter.value, letter.topic) == (
        b"SMnever",
        body.encode(),
        "receipts/twilio",
    )
