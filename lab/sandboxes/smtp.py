"""An SMTP submission server (aiosmtpd): STARTTLS with the sandbox certificate, AUTH PLAIN and
LOGIN with the configured user, and every accepted message recorded once per recipient.

Faults, taken once per message at ``MAIL FROM``: the latency is spent there; an injected
status answers each ``RCPT TO`` (421 also closes the connection); a refused recipient gets
``550 5.1.1`` (a hard bounce); ``hang`` records the message and never answers its ``DATA``.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import uuid
from typing import Any
from weakref import WeakKeyDictionary

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from herald.settings import SmtpSettings
from lab.sandboxes.mail import email_fields
from lab.sandboxes.models import Outcome
from lab.sandboxes.reporter import Reporter
from lab.sandboxes.state import NO_FAULT, Action, SandboxState

HANG_POLL_S = 0.1
HARD_BOUNCE = "550 5.1.1 Recipient address rejected: user unknown"
REPLIES = {
    421: "421 4.3.2 Service not available, closing transmission channel",
    450: "450 4.2.1 Mailbox busy, try again later",
    451: "451 4.3.0 Temporary failure, try again later",
    452: "452 4.3.1 Insufficient system storage",
    550: HARD_BOUNCE,
    554: "554 5.7.1 Message rejected",
}


def reply_for(status: int) -> str:
    return REPLIES.get(status, f"{status} {status // 100}.0.0 Injected by the sandbox")


class RecordingHandler:
    """aiosmtpd's handler hooks: faults, then a record per recipient."""

    def __init__(self, state: SandboxState, reporter: Reporter) -> None:
        self.state = state
        self.reporter = reporter
        self._actions: WeakKeyDictionary[Envelope, Action] = WeakKeyDictionary()

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        action = self.state.take("smtp")
        if action.latency_s:
            await asyncio.sleep(action.latency_s)
        self._actions[envelope] = action
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        action = self._actions.get(envelope, NO_FAULT)
        if action.status is not None:
            self.state.record("smtp", "failed", address)
            if action.status == 421 and server.transport is not None:
                asyncio.get_running_loop().call_soon(server.transport.close)
            return reply_for(action.status)
        if action.refuses(address):
            self.state.record("smtp", "refused", address)
            return HARD_BOUNCE
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        action = self._actions.pop(envelope, NO_FAULT)
        raw = envelope.original_content or b""
        fields = email_fields(raw)
        fields["message_id"] = fields["message_id"] or f"<{uuid.uuid4()}@herald-sandbox>"
        outcome: Outcome = "hung" if action.hang else "delivered"
        for address in envelope.rcpt_tos:
            self.state.record("smtp", outcome, address, **fields)
            self.reporter.smtp(str(fields["message_id"]), address)
        if action.hang:
            while server.transport is not None and not server.transport.is_closing():
                await asyncio.sleep(HANG_POLL_S)
        return "250 2.0.0 OK: queued"


class Authenticator:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if mechanism not in ("PLAIN", "LOGIN") or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        password = self.settings.password.get_secret_value() if self.settings.password else ""
        ok = secrets.compare_digest(data.login, (self.settings.username or "").encode())
        ok = secrets.compare_digest(data.password, password.encode()) and ok
        return AuthResult(success=ok, handled=False)


async def start_smtp(
    settings: SmtpSettings, tls: ssl.SSLContext, state: SandboxState, reporter: Reporter
) -> asyncio.Server:
    handler = RecordingHandler(state, reporter)
    needs_auth = settings.username is not None

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="herald-sandbox",
            tls_context=tls,
            require_starttls=settings.starttls,
            auth_required=needs_auth,
            auth_require_tls=settings.starttls,
            authenticator=Authenticator(settings) if needs_auth else None,
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(protocol, host=settings.host, port=settings.port)
