"""Provider receipts, parsed and verified as each provider signs them (no network)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from herald.models import Channel, State
from herald.receipts import (
    InvalidReceipt,
    MalformedReceipt,
    MessageRef,
    dsn,
    sns,
    twilio,
    without_addresses,
)
from lab.sandboxes.reporter import dsn as make_dsn
from lab.sandboxes.reporter import signing_pair

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

# Twilio's own published vector (its SDKs' RequestValidator tests)
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
TWILIO_FORM = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def test_twilio_signatures_match_twilios_published_vectors() -> None:
    assert twilio.signature("12345", TWILIO_URL, TWILIO_FORM) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                ("Digits", "1234"), ("Digits", "1234")]  # fmt: skip
    assert twilio.signature("12345", TWILIO_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    twilio.verify("12345", TWILIO_URL, list(reversed(TWILIO_FORM)), "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


@pytest.mark.parametrize(
    ("token", "url", "form", "sent"),
    [
        ("12345", TWILIO_URL + "&x=1", TWILIO_FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        ("12346", TWILIO_URL, TWILIO_FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
        (
            "12345",
            TWILIO_URL,
            [*TWILIO_FORM[:2], ("Digits", "9999")],
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
        ),
        ("12345", TWILIO_URL, TWILIO_FORM, None),
        ("12345", TWILIO_URL, TWILIO_FORM, ""),
        ("12345", TWILIO_URL, TWILIO_FORM, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
        ("12345", TWILIO_URL, TWILIO_FORM, "invalid 王"),
    ],
)
def test_twilio_signatures_of_anything_else_are_refused(
    token: str, url: str, form: list[tuple[str, str]], sent: str | None
) -> None:
    with pytest.raises(InvalidReceipt):
        twilio.verify(token, url, form, sent)


def test_twilio_final_statuses_become_events_and_the_rest_none() -> None:
    delivered = twilio.events({"MessageSid": "SM1", "MessageStatus": "delivered"}, NOW)
    assert [(e.provider_message_id, e.state, e.reason) for e in delivered] == [
        ("SM1", State.DELIVERED, None)
    ]
    failed = twilio.events(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"}, NOW
    )
    assert [(e.state, e.reason, e.detail) for e in failed] == [
        (State.FAILED, "30003", "undelivered")
    ]
    for status in ("queued", "sending", "sent", "accepted"):
        assert twilio.events({"MessageSid": "SM1", "MessageStatus": status}, NOW) == []
    with pytest.raises(MalformedReceipt):
        twilio.events({"MessageStatus": "delivered"}, NOW)


KEY, CERTIFICATE = signing_pair()
TOPIC = "arn:aws:sns:us-east-1:1:ses"


def signed(fields: dict[str, str], version: str = "2") -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    message = {"TopicArn": TOPIC, "MessageId": "m-1", "Timestamp": "2026-12-04T12:00:00.000Z",
               "SignatureVersion": version, "SigningCertURL": "https://sns.us-east-1.amazonaws.com/c.pem",
               **fields}  # fmt: skip
    text = sns.string_to_sign(sns.SnsMessage(message["Type"], TOPIC, "", message))
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # SNS's version 1
    message["Signature"] = base64.b64encode(KEY.sign(text, padding.PKCS1v15(), algorithm)).decode()
    return json.dumps(message).encode()


def ses_notification(event: dict[str, object], version: str = "2") -> bytes:
    return signed({"Type": "Notification", "Message": json.dumps(event)}, version)


@pytest.mark.parametrize("version", ["1", "2"])
def test_an_sns_message_signed_by_its_certificate_is_taken(version: str) -> None:
    body = ses_notification({"eventType": "Delivery", "mail": {"messageId": "ses-1"}}, version)
    message = sns.parse(body)
    sns.verify(message, CERTIFICATE)
    [event] = sns.ses_events(message)
    assert (event.provider, event.provider_message_id, event.state) == (
        "ses",
        "ses-1",
        State.DELIVERED,
    )


def test_an_altered_or_foreign_sns_message_is_refused() -> None:
    body = ses_notification({"eventType": "Delivery", "mail": {"messageId": "ses-1"}})
    altered = json.loads(body)
    altered["Message"] = altered["Message"].replace("ses-1", "ses-2")
    with pytest.raises(InvalidReceipt):
        sns.verify(sns.parse(json.dumps(altered).encode()), CERTIFICATE)
    _, other_certificate = signing_pair()
    with pytest.raises(InvalidReceipt):
        sns.verify(sns.parse(body), other_certificate)
    unknown_version = json.loads(body) | {"SignatureVersion": "3"}
    with pytest.raises(InvalidReceipt):
        sns.verify(sns.parse(json.dumps(unknown_version).encode()), CERTIFICATE)
    for bad in (b"[]", b"{", json.dumps({"Type": "Notification"}).encode(), b'{"Type": "Other"}'):
        with pytest.raises(MalformedReceipt):
            sns.parse(bad)


def test_only_urls_of_the_pattern_are_fetched() -> None:
    aws = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    assert sns.allowed_url(
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem", aws
    )
    refused = (
        "http://sns.eu-west-1.amazonaws.com/c.pem",
        "https://sns.eu-west-1.amazonaws.com.evil.io/c.pem",
        "https://evil.io/sns.us-east-1.amazonaws.com/",
        "https://s3.amazonaws.com/c.pem",
    )
    for url in refused:
        assert not sns.allowed_url(url, aws), url


def test_ses_events_become_herald_events_without_addresses() -> None:
    recipient = {
        "emailAddress": "bob@example.com",
        "diagnosticCode": "smtp; 550 5.1.1 <bob@example.com> unknown",
    }
    bounce = {"eventType": "Bounce", "mail": {"messageId": "ses-1"}, "bounce": {
        "bounceType": "Permanent", "bounceSubType": "General", "timestamp": "2026-12-04T12:01:00Z",
        "bouncedRecipients": [recipient]}}  # fmt: skip
    [event] = sns.ses_events(sns.parse(ses_notification(bounce)))
    assert (event.state, event.reason) == (State.BOUNCED, "Permanent:General")
    assert event.occurred_at == datetime(2026, 12, 4, 12, 1, tzinfo=UTC)
    assert "bob" not in (event.detail or "") and "<address>" in (event.detail or "")
    link = {"link": "https://shop.example/a", "timestamp": "2026-12-04T12:02:00Z"}
    click = {"eventType": "Click", "mail": {"messageId": "ses-1"}, "click": link}
    [clicked] = sns.ses_events(sns.parse(ses_notification(click)))
    assert (clicked.state, clicked.link) == (State.CLICKED, "https://shop.example/a")
    identity = {"notificationType": "Delivery", "mail": {"messageId": "ses-1"}}
    assert sns.ses_events(sns.parse(ses_notification(identity)))[0].state is State.DELIVERED
    for untracked in ("Send", "DeliveryDelay", "Complaint"):
        assert (
            sns.ses_events(
                sns.parse(ses_notification({"eventType": untracked, "mail": {"messageId": "x"}}))
            )
            == []
        )
    with pytest.raises(MalformedReceipt):
        sns.ses_events(sns.parse(ses_notification({"eventType": "Delivery", "mail": {}})))


def test_a_dsn_bounce_names_the_returned_message_and_no_address() -> None:
    raw = make_dsn("<n-1.email@herald.example>", "bob@example.com", "mx.example", NOW)
    [event] = dsn.events(raw, datetime(2030, 1, 1, tzinfo=UTC))
    assert (event.provider, event.provider_message_id) == ("smtp", "<n-1.email@herald.example>")
    assert (event.state, event.reason, event.occurred_at) == (State.BOUNCED, "5.1.1", NOW)
    assert event.detail is not None and "bob" not in event.detail


def test_what_is_not_a_dsn_is_malformed() -> None:
    plain = b"From: a@b\r\nSubject: hi\r\n\r\nhello"
    other_report = make_dsn("<m>", "a@b.c", "mx", NOW).replace(
        b"delivery-status;", b"disposition-notification;"
    )
    no_id = make_dsn("<m>", "a@b.c", "mx", NOW).replace(b"Message-ID: <m>\r\n", b"")
    for raw in (plain, other_report, no_id, b""):
        with pytest.raises(MalformedReceipt):
            dsn.events(raw, NOW)


def test_a_delayed_dsn_reports_nothing_yet() -> None:
    raw = make_dsn("<m>", "a@b.c", "mx", NOW).replace(b"Action: failed", b"Action: delayed")
    assert dsn.events(raw, NOW) == []


def test_message_refs_round_trip_through_their_redis_fields() -> None:
    for ref in (
        MessageRef("n", "r", "u", Channel.SMS, "acme"),
        MessageRef("n", "r", "u", Channel.EMAIL),
    ):
        flat = ref.fields()
        found = {flat[i].encode(): flat[i + 1].encode() for i in range(0, len(flat), 2)}
        assert MessageRef.parse(found) == ref
    assert MessageRef.parse({}) is None
    assert MessageRef.parse({b"notification_id": b"n", b"channel": b"fax"}) is None


def test_addresses_are_taken_out_of_diagnostics() -> None:
    text = "550 5.1.1 <bob.smith+x@mail.example.com>: unknown; cc alice@example.org"
    assert without_addresses(text) == "550 5.1.1 <address>: unknown; cc <address>"
    assert without_addresses("") is None and without_addresses(None) is None


def test_a_receipts_event_is_never_placed_before_its_send() -> None:
    ref = MessageRef("n", "r", "u", Channel.EMAIL, sent_at=NOW)
    later = NOW + timedelta(seconds=3)
    assert ref.after_sending(later) == later
    assert ref.after_sending(NOW - timedelta(seconds=1)) == NOW + timedelta(milliseconds=1)
    assert ref.after_sending(NOW) == NOW + timedelta(milliseconds=1)
    unknown = MessageRef("n", "r", "u", Channel.EMAIL)
    assert unknown.after_sending(NOW - timedelta(days=1)) == NOW - timedelta(days=1)
