"""The endpoint's SMTP conversation, line by line (no socket): STARTTLS first, AUTH PLAIN and
LOGIN, one count per recipient of each message, and the refusals an SMTP client expects."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr

from herald.settings import SmtpSettings
from lab.bench.endpoint.smtp import Next, SmtpSession
from lab.bench.endpoint.state import Counts, Ids

SETTINGS = SmtpSettings(host="127.0.0.1", username="herald", password=SecretStr("s3cret"))
PLAIN = base64.b64encode(b"\0herald\0s3cret")


def session(settings: SmtpSettings = SETTINGS) -> tuple[SmtpSession, Counts]:
    counts = Counts()
    return SmtpSession(settings, counts, Ids()), counts


def codes(replies: bytes) -> list[str]:
    """The code of each reply's last line."""
    return [line[:3] for line in replies.decode().split("\r\n") if line[3:4] == " "]


def secured(smtp: SmtpSession) -> None:
    replies, after = smtp.feed(b"EHLO client\r\nSTARTTLS\r\n")
    assert b"STARTTLS\r\n" in replies and b"AUTH" not in replies
    assert codes(replies) == ["250", "220"] and after is Next.STARTTLS
    smtp.secured()


def test_a_message_after_starttls_and_auth_plain_is_counted() -> None:
    smtp, counts = session()
    assert smtp.greeting().startswith(b"220 ")
    secured(smtp)
    replies, _ = smtp.feed(b"EHLO client\r\n")
    assert b"AUTH PLAIN LOGIN\r\n" in replies and b"STARTTLS" not in replies
    replies, after = smtp.feed(
        b"AUTH PLAIN " + PLAIN + b"\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\n"
        b"DATA\r\n"
    )
    assert codes(replies) == ["235", "250", "250", "250", "354"] and after is Next.READ
    replies, _ = smtp.feed(b"Subject: hi\r\n\r\n..dotted\r\n")
    assert replies == b"" and counts.accepted["smtp"] == 0
    replies, _ = smtp.feed(b".\r\nQUIT\r\n")
    assert codes(replies) == ["250", "221"]
    assert counts.accepted["smtp"] == 2  # one per recipient


def test_auth_login_in_steps_and_with_an_initial_response() -> None:
    user, password = base64.b64encode(b"herald"), base64.b64encode(b"s3cret")
    for opening in (b"AUTH LOGIN\r\n" + user + b"\r\n", b"AUTH LOGIN " + user + b"\r\n"):
        smtp, _ = session()
        secured(smtp)
        replies, _ = smtp.feed(b"EHLO c\r\n" + opening + password + b"\r\n")
        assert codes(replies)[-1] == "235"


def test_wrong_credentials_are_535_and_counted_refused() -> None:
    smtp, counts = session()
    secured(smtp)
    wrong = base64.b64encode(b"\0herald\0guess")
    replies, _ = smtp.feed(b"EHLO c\r\nAUTH PLAIN " + wrong + b"\r\nMAIL FROM:<a@x>\r\n")
    assert codes(replies) == ["250", "535", "530"]
    assert counts.refused["smtp"] == 1


@pytest.mark.parametrize(
    ("commands", "last"),
    [(b"EHLO c\r\nMAIL FROM:<a@x>\r\n", "530"),  # before STARTTLS
     (b"EHLO c\r\nAUTH PLAIN " + PLAIN + b"\r\n", "530"),  # AUTH before STARTTLS too
     (b"NONSENSE\r\n", "500")],
)  # fmt: skip
def test_nothing_before_tls(commands: bytes, last: str) -> None:
    smtp, _ = session()
    replies, _ = smtp.feed(commands)
    assert codes(replies)[-1] == last


def test_out_of_order_commands_are_503() -> None:
    smtp, counts = session(SmtpSettings(host="127.0.0.1", starttls=False))
    replies, _ = smtp.feed(
        b"HELO c\r\nRCPT TO:<b@y>\r\nDATA\r\nMAIL FROM:<a@x>\r\nMAIL FROM:<a@x>\r\n"
    )
    assert codes(replies) == ["250", "503", "503", "250", "503"]
    replies, _ = smtp.feed(b"RSET\r\nNOOP\r\nSTARTTLS\r\n")
    assert codes(replies) == ["250", "250", "503"]
    assert counts.accepted["smtp"] == 0


def test_an_overlong_line_closes() -> None:
    smtp, _ = session()
    replies, after = smtp.feed(b"X" * 5000)
    assert codes(replies) == ["500"] and after is Next.CLOSE
