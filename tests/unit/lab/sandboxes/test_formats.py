"""The providers' request and error formats, as the sandboxes read and write them."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from herald.settings import TwilioSettings
from lab.sandboxes import aws, fcm, smtp, twilio
from lab.sandboxes.formats import fcm_error_body
from lab.sandboxes.mail import email_fields


def message(notification: str | None = "n1") -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "f@example.com", "t@example.com", "Hi"
    if notification:
        mail["X-Herald-Notification-Id"] = notification
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content("plain text")
    mail.add_alternative("<p>html</p>", subtype="html")
    return mail


def test_email_fields_keep_the_headers_that_matter() -> None:
    fields = email_fields(message().as_bytes())
    assert fields["notification_id"] == "n1"
    assert fields["subject"] == "Hi"
    assert fields["body"] == "plain text\n"
    headers = fields["headers"]
    assert isinstance(headers, dict)
    assert headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert "content-type" not in headers
    assert email_fields(message(None).as_bytes())["notification_id"] is None


@pytest.mark.parametrize(
    ("status", "google", "code"),
    [(404, "NOT_FOUND", "UNREGISTERED"), (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
     (503, "UNAVAILABLE", "UNAVAILABLE"), (502, "INTERNAL", "INTERNAL"),
     (418, "INVALID_ARGUMENT", "INVALID_ARGUMENT")],
)  # fmt: skip
def test_fcm_error_body(status: int, google: str, code: str) -> None:
    error = fcm_error_body(status, "m")["error"]
    assert (error["code"], error["status"], error["details"][0]["errorCode"]) == (
        status,
        google,
        code,
    )
    assert error["details"][0]["@type"].endswith("google.firebase.fcm.v1.FcmError")


def test_twilio_form_problems() -> None:
    good = {"To": "+15551230000", "From": "+15550001111", "Body": "hi"}
    assert twilio.form_problem(good) is None
    assert twilio.form_problem({**good, "To": ""}) == 21604
    assert twilio.form_problem({**good, "From": ""}) == 21603
    assert twilio.form_problem({**good, "Body": ""}) == 21602
    assert twilio.form_problem({**good, "To": "0123"}) == 21211


def test_twilio_basic_auth() -> None:
    settings = TwilioSettings(account_sid="ACsandbox", auth_token=SecretStr("sandbox"))
    good = base64.b64encode(b"ACsandbox:sandbox").decode()
    assert twilio.authorized(f"Basic {good}", settings)
    bad = base64.b64encode(b"ACsandbox:other").decode()
    assert not twilio.authorized(f"Basic {bad}", settings)
    assert not twilio.authorized("Basic !!!", settings)
    assert not twilio.authorized(None, settings)


def test_sns_publish_fields() -> None:
    form = {
        "Action": "Publish",
        "PhoneNumber": "+15551230000",
        "Message": "code 1",
        "MessageAttributes.entry.1.Name": "herald.notification_id",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "n9",
        "MessageAttributes.entry.2.Name": "AWS.SNS.SMS.SMSType",
        "MessageAttributes.entry.2.Value.StringValue": "Transactional",
    }
    address, fields = aws.sns_fields(form)
    assert address == "+15551230000"
    assert (fields["notification_id"], fields["body"]) == ("n9", "code 1")
    assert fields["data"] == {
        "herald.notification_id": "n9",
        "AWS.SNS.SMS.SMSType": "Transactional",
    }


def test_ses_raw_email_fields() -> None:
    raw = base64.b64encode(message().as_bytes()).decode()
    address, fields = aws.ses_fields({"Action": "SendRawEmail", "RawMessage.Data": raw})
    assert (address, fields["notification_id"]) == ("t@example.com", "n1")
    form = {
        "Action": "SendRawEmail",
        "RawMessage.Data": raw,
        "Destinations.member.1": "x@example.com",
        "Destinations.member.2": "y@example.com",
    }
    assert aws.ses_fields(form)[0] == "x@example.com,y@example.com"


def test_aws_injected_errors() -> None:
    throttled = aws.injected("sns", 429)
    assert throttled.status_code == 400
    assert b"<Code>Throttling</Code>" in throttled.body
    assert b"<Type>Sender</Type>" in throttled.body
    assert b"<Code>ServiceUnavailable</Code>" in aws.injected("ses", 503).body
    failure = aws.injected("ses", 502)
    assert (failure.status_code, b"<Code>InternalFailure</Code>" in failure.body) == (502, True)


def test_smtp_replies() -> None:
    assert smtp.reply_for(550).startswith("550 5.1.1")
    assert smtp.reply_for(421).startswith("421 4.3.2")
    assert smtp.reply_for(599) == "599 5.0.0 Injected by the sandbox"


def test_fcm_message_parsing() -> None:
    ok = {"message": {"token": "t", "data": {"a": "1"}, "notification": {"title": "x"}}}
    assert fcm.parse_message(json.dumps(ok).encode()) is not None
    assert fcm.parse_message(b"not json") is None
    assert fcm.parse_message(json.dumps({"message": {"data": {}}}).encode()) is None
    bad_data = {"message": {"token": "t", "data": {"a": 1}}}
    assert fcm.parse_message(json.dumps(bad_data).encode()) is None


def test_ses_send_email_fields() -> None:
    form = {
        "Action": "SendEmail",
        "Destination.ToAddresses.member.1": "a@example.com",
        "Destination.CcAddresses.member.1": "b@example.com",
        "Message.Subject.Data": "S",
        "Message.Body.Html.Data": "<p>h</p>",
        "Tags.member.1.Name": "notification_id",
        "Tags.member.1.Value": "n5",
    }
    address, fields = aws.ses_fields(form)
    assert address == "a@example.com,b@example.com"
    assert (fields["subject"], fields["body"], fields["notification_id"]) == ("S", "<p>h</p>", "n5")
