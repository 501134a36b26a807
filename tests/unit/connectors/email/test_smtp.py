from __future__ import annotations

import aiosmtplib
import pytest

from connectors.base import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from connectors.email.smtp import Phase, classify


def test_5xx_on_the_recipient_is_a_hard_bounce() -> None:
    error = classify(Phase.ENVELOPE, aiosmtplib.SMTPRecipientRefused(550, "no such user", "x"))
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == ("550", True)


@pytest.mark.parametrize(
    ("phase", "exc"),
    [
        (Phase.ENVELOPE, aiosmtplib.SMTPSenderRefused(553, "sender refused", "x")),
        (Phase.DATA, aiosmtplib.SMTPDataError(554, "content rejected")),
        (Phase.CONNECT, aiosmtplib.SMTPAuthenticationError(535, "bad credentials")),
        (Phase.CONNECT, aiosmtplib.SMTPNotSupported("no STARTTLS")),
    ],
)
def test_other_5xx_are_permanent_and_keep_the_address(phase: Phase, exc: Exception) -> None:
    error = classify(phase, exc)
    assert isinstance(error, PermanentDeliveryError)
    assert not error.address_invalid


@pytest.mark.parametrize(
    ("phase", "exc"),
    [
        (Phase.ENVELOPE, aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "x")),
        (Phase.DATA, aiosmtplib.SMTPDataError(451, "try later")),
        (Phase.CONNECT, aiosmtplib.SMTPConnectError("refused")),
        (Phase.CONNECT, aiosmtplib.SMTPConnectTimeoutError("slow")),
        (Phase.CONNECT, aiosmtplib.SMTPResponseException(421, "closing")),
        (Phase.CONNECT, ConnectionRefusedError()),
        (Phase.ENVELOPE, aiosmtplib.SMTPServerDisconnected("gone")),
        (Phase.ENVELOPE, aiosmtplib.SMTPReadTimeoutError("silent")),
    ],
)
def test_4xx_and_failures_before_data_are_transient(phase: Phase, exc: Exception) -> None:
    assert isinstance(classify(phase, exc), TransientDeliveryError)


@pytest.mark.parametrize(
    "exc",
    [
        aiosmtplib.SMTPReadTimeoutError("silent"),
        aiosmtplib.SMTPServerDisconnected("gone"),
        OSError(),
    ],
)
def test_silence_after_data_is_an_unknown_outcome(exc: Exception) -> None:
    assert isinstance(classify(Phase.DATA, exc), UnknownOutcomeError)
