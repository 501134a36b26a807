"""An SMTP submission server at benchmark cost: EHLO, STARTTLS, AUTH PLAIN and LOGIN, MAIL,
RCPT, DATA, RSET, NOOP and QUIT, on an asyncio protocol.

`SmtpSession` is the conversation (pure: bytes in, replies out); `SmtpProtocol` is its
connection, which upgrades itself to TLS on STARTTLS. The message is not parsed: once its
``.`` line arrives it is counted (once per recipient) and acknowledged. With ``starttls``
set, nothing past EHLO is served before TLS; with a username set, no mail before AUTH (535
for wrong credentials).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import ssl
from enum import Enum
from typing import cast

from herald.settings import SmtpSettings
from lab.bench.endpoint.state import Counts, Ids

HOSTNAME = "herald-bench-endpoint"
MAX_LINE = 4096
END_OF_DATA = b"\r\n.\r\n"
OK = b"250 2.0.0 OK\r\n"
NEED_TLS = b"530 5.7.0 Must issue a STARTTLS command first\r\n"
NEED_AUTH = b"530 5.7.0 Authentication required\r\n"
BAD_CREDENTIALS = b"535 5.7.8 Authentication credentials invalid\r\n"
BAD_SEQUENCE = b"503 5.5.1 Bad sequence of commands\r\n"
UNKNOWN = b"500 5.5.2 Command not recognized\r\n"
LOGIN_USER = b"334 VXNlcm5hbWU6\r\n"  # "Username:"
LOGIN_PASSWORD = b"334 UGFzc3dvcmQ6\r\n"  # "Password:"
TRANSACTION = frozenset({b"AUTH", b"MAIL", b"RCPT", b"DATA", b"RSET"})


class Next(Enum):
    """What the connection does after writing a feed's replies."""

    READ = "read"
    STARTTLS = "starttls"
    CLOSE = "close"


def b64(text: bytes) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        return None


class SmtpSession:
    """One connection's conversation, from the greeting to QUIT."""

    def __init__(self, settings: SmtpSettings, counts: Counts, ids: Ids) -> None:
        self._starttls = settings.starttls
        self._username = settings.username.encode() if settings.username else None
        self._password = settings.password.get_secret_value().encode() if settings.password else b""
        self._counts = counts
        self._ids = ids
        self._buffer = bytearray()
        self.secure = False
        self._authenticated = self._username is None
        self._auth: list[bytes] | None = None  # AUTH LOGIN under way: what it has so far
        self._in_data = False
        self._mail = False
        self._recipients = 0

    @staticmethod
    def greeting() -> bytes:
        return f"220 {HOSTNAME} ESMTP\r\n".encode()

    def secured(self) -> None:
        """TLS is up: the client starts over with EHLO (RFC 3207)."""
        self.secure = True
        self._buffer.clear()
        self._reset()

    def feed(self, data: bytes) -> tuple[bytes, Next]:
        """Replies to every whole command (or message) in ``data`` and what comes next."""
        self._buffer += data
        replies = bytearray()
        while True:
            if self._in_data:
                end = self._data_end()
                if end < 0:
                    return bytes(replies), Next.READ
                del self._buffer[:end]
                replies += self._delivered()
                continue
            cut = self._buffer.find(b"\r\n")
            if cut < 0:
                if len(self._buffer) > MAX_LINE:
                    return bytes(replies) + b"500 5.5.6 Line too long\r\n", Next.CLOSE
                return bytes(replies), Next.READ
            line = bytes(self._buffer[:cut])
            del self._buffer[: cut + 2]
            reply, after = self._command(line)
            replies += reply
            if after is not Next.READ:
                return bytes(replies), after

    def _data_end(self) -> int:
        """Where the message's ``.`` line ends in the buffer (past it), or -1."""
        if self._buffer.startswith(b".\r\n"):
            return 3
        found = self._buffer.find(END_OF_DATA)
        return -1 if found < 0 else found + len(END_OF_DATA)

    def _delivered(self) -> bytes:
        self._in_data = False
        for _ in range(self._recipients):
            self._counts.took("smtp")
        self._reset()
        return f"250 2.0.0 OK: queued as {self._ids.hex32()}\r\n".encode()

    def _reset(self) -> None:
        self._mail, self._recipients = False, 0

    def _command(self, line: bytes) -> tuple[bytes, Next]:
        if self._auth is not None:
            return self._login_step(line), Next.READ
        verb, _, rest = line.partition(b" ")
        verb = verb.upper()
        if verb in (b"EHLO", b"HELO"):
            self._reset()
            return (
                self._ehlo() if verb == b"EHLO" else b"250 " + HOSTNAME.encode() + b"\r\n",
                Next.READ,
            )
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n", Next.CLOSE
        if verb == b"NOOP":
            return OK, Next.READ
        if verb == b"STARTTLS":
            if not self._starttls or self.secure:
                return BAD_SEQUENCE, Next.READ
            return b"220 2.0.0 Ready to start TLS\r\n", Next.STARTTLS
        if verb not in TRANSACTION:
            return UNKNOWN, Next.READ
        if self._starttls and not self.secure:
            return NEED_TLS, Next.READ
        return self._transaction(verb, rest), Next.READ

    def _ehlo(self) -> bytes:
        lines = [HOSTNAME, "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "SIZE 33554432"]
        if self._starttls and not self.secure:
            lines.append("STARTTLS")
        elif self._username is not None:
            lines.append("AUTH PLAIN LOGIN")
        last = len(lines) - 1
        return "".join(
            f"250{' ' if i == last else '-'}{x}\r\n" for i, x in enumerate(lines)
        ).encode()

    def _transaction(self, verb: bytes, rest: bytes) -> bytes:
        if verb == b"AUTH":
            return self._authenticate(rest)
        if verb == b"RSET":
            self._reset()
            return OK
        if not self._authenticated:
            return NEED_AUTH
        if verb == b"MAIL":
            if self._mail or not rest.upper().startswith(b"FROM:"):
                return BAD_SEQUENCE
            self._mail = True
            return b"250 2.1.0 OK\r\n"
        if verb == b"RCPT":
            if not self._mail or not rest.upper().startswith(b"TO:"):
                return BAD_SEQUENCE
            self._recipients += 1
            return b"250 2.1.5 OK\r\n"
        if not self._recipients:  # DATA, the one verb left
            return BAD_SEQUENCE
        self._in_data = True
        return b"354 End data with <CR><LF>.<CR><LF>\r\n"

    def _authenticate(self, rest: bytes) -> bytes:
        if self._username is None or self._authenticated:
            return BAD_SEQUENCE
        mechanism, _, initial = rest.partition(b" ")
        mechanism = mechanism.upper()
        if mechanism == b"PLAIN":
            if not initial:
                self._auth = [b"PLAIN"]
                return b"334 \r\n"
            return self._plain(initial)
        if mechanism == b"LOGIN":
            self._auth = [b"LOGIN"]
            return self._login_step(initial) if initial else LOGIN_USER
        return b"504 5.5.4 Unrecognized authentication type\r\n"

    def _login_step(self, line: bytes) -> bytes:
        assert self._auth is not None
        if line == b"*":
            self._auth = None
            return b"501 5.7.0 Authentication aborted\r\n"
        if self._auth == [b"PLAIN"]:
            self._auth = None
            return self._plain(line)
        self._auth.append(b64(line) or b"")
        if len(self._auth) == 2:
            return LOGIN_PASSWORD
        _, user, password = self._auth
        self._auth = None
        return self._verdict(user, password)

    def _plain(self, encoded: bytes) -> bytes:
        parts = (b64(encoded) or b"").split(b"\0")
        if len(parts) != 3:
            return self._verdict(b"", b"")
        return self._verdict(parts[1], parts[2])

    def _verdict(self, user: bytes, password: bytes) -> bytes:
        ok = secrets.compare_digest(user, self._username or b"")
        ok = secrets.compare_digest(password, self._password) and ok
        if not ok:
            self._counts.refuse("smtp")
            return BAD_CREDENTIALS
        self._authenticated = True
        return b"235 2.7.0 Authentication successful\r\n"


class SmtpProtocol(asyncio.Protocol):
    """One connection of `SmtpSession`, upgraded to TLS on STARTTLS."""

    def __init__(self, session: SmtpSession, tls: ssl.SSLContext) -> None:
        self._session = session
        self._tls = tls
        self._transport: asyncio.Transport | None = None
        self._upgrade: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._transport.write(self._session.greeting())

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        replies, after = self._session.feed(data)
        if replies:
            transport.write(replies)
        if after is Next.CLOSE:
            transport.close()
        elif after is Next.STARTTLS:
            transport.pause_reading()  # nothing more until the handshake
            self._upgrade = asyncio.get_running_loop().create_task(self._start_tls(transport))

    async def _start_tls(self, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        try:
            secured = await loop.start_tls(transport, self, self._tls, server_side=True)
        except (OSError, ssl.SSLError, ConnectionError):
            transport.close()
            return
        if secured is None:
            transport.close()
            return
        self._transport = secured
        self._session.secured()
