"""Email over SMTP (aiosmtplib): STARTTLS, AUTH when a username is set, one transaction per
message on connections kept open between messages.

Where a failure happened decides what it means: before ``DATA`` nothing was accepted, so a
dropped connection or a timeout is transient; once ``DATA`` was sent, silence is an unknown
outcome. A 5xx on ``RCPT TO`` is a hard bounce (the address is dead).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar

import aiosmtplib

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from connectors.email.mime import EmailPolicy, build_email
from herald.models import Channel, ChannelMessage

NAME = "smtp"


class Phase(StrEnum):
    CONNECT = "connect"  # connect, EHLO, STARTTLS, AUTH
    ENVELOPE = "envelope"  # MAIL FROM, RCPT TO
    DATA = "data"  # DATA and the message: from here, silence is an unknown outcome


def classify(phase: Phase, exc: Exception) -> DeliveryError:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, dead = str(exc.code), isinstance(exc, aiosmtplib.SMTPRecipientRefused)
        if 400 <= exc.code < 500:
            return TransientDeliveryError(NAME, code, f"{phase} refused for now")
        if exc.code >= 500:
            detail = "recipient refused" if dead else f"{phase} refused"
            return PermanentDeliveryError(NAME, code, detail, dead)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentDeliveryError(NAME, "not_supported", "server lacks STARTTLS or AUTH")
    kind = type(exc).__name__
    if phase is Phase.DATA:
        return UnknownOutcomeError(NAME, "no_response", kind)
    return TransientDeliveryError(NAME, "connect_error" if phase is Phase.CONNECT else kind, kind)


class SmtpSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.EMAIL
    accepts_idempotency_key: ClassVar[bool] = False

    def __init__(
        self,
        connect: Callable[[], aiosmtplib.SMTP],
        policy: EmailPolicy,
        idle_connections: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``connect`` makes an unconnected client (host, port, TLS, credentials, timeout)."""
        self._connect = connect
        self._policy = policy
        self._idle: list[aiosmtplib.SMTP] = []
        self._max_idle = idle_connections
        self._clock = clock

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        now = datetime.fromtimestamp(self._clock(), UTC)
        mail = build_email(NAME, message, self._policy, now)
        smtp = await self._envelope(message.address)
        try:
            await smtp.data(mail.as_bytes())
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise classify(Phase.DATA, exc) from exc
        self._release(smtp)
        return Receipt(NAME, mail["Message-ID"])

    async def _envelope(self, address: str) -> aiosmtplib.SMTP:
        """A connection with MAIL FROM and RCPT TO accepted. A kept connection the server has
        closed meanwhile is replaced once."""
        smtp, kept = await self._acquire()
        if not await self._mail_rcpt(smtp, address, replaceable=kept):
            smtp = await self._open()
            await self._mail_rcpt(smtp, address, replaceable=False)
        return smtp

    async def _mail_rcpt(self, smtp: aiosmtplib.SMTP, address: str, replaceable: bool) -> bool:
        """True when accepted; False when a replaceable connection turned out closed."""
        try:
            await smtp.mail(self._policy.from_address)
            await smtp.rcpt(address)
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            if replaceable and isinstance(exc, aiosmtplib.SMTPServerDisconnected):
                return False
            raise classify(Phase.ENVELOPE, exc) from exc
        return True

    async def _acquire(self) -> tuple[aiosmtplib.SMTP, bool]:
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp, True
        return await self._open(), False

    async def _open(self) -> aiosmtplib.SMTP:
        smtp = self._connect()
        try:
            await smtp.connect()  # EHLO, STARTTLS and AUTH as configured
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise classify(Phase.CONNECT, exc) from exc
        return smtp

    def _release(self, smtp: aiosmtplib.SMTP) -> None:
        if len(self._idle) < self._max_idle:
            self._idle.append(smtp)
        else:
            smtp.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for smtp in idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
