"""APNs' provider API shape at benchmark cost: HTTP/2 over TLS (ALPN h2), with the ``h2``
library on an asyncio protocol.

``POST /3/device/{token}`` with ``authorization: bearer <JWT>``, ``apns-topic`` = the bundle
id and a JSON payload of at most 4 KB: ``200`` with the request's ``apns-id`` (or a new one).
Otherwise ``{"reason": ...}`` as Apple words it: 403 ``MissingProviderToken`` /
``InvalidProviderToken`` (the token must look like a JWT; its signature is not checked, the
behaviour sandbox does that), 400 ``MissingTopic`` / ``BadTopic`` / ``PayloadEmpty`` /
``BadMessageId``, 413 ``PayloadTooLarge``, 404 ``BadPath``, 405 ``MethodNotAllowed``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import (
    ConnectionTerminated,
    DataReceived,
    RequestReceived,
    StreamEnded,
    StreamReset,
)
from h2.exceptions import ProtocolError, StreamClosedError
from h2.settings import SettingCodes

from herald.settings import ApnsSettings, required
from lab.bench.endpoint.state import Counts, Ids

MAX_PAYLOAD = 4096
DEVICE_PREFIX = b"/3/device/"
MAX_STREAMS = 1000
# The connection's receive window, widened again once half of it is used: one WINDOW_UPDATE
# every 8 MB instead of one a request. A stream's own window (64 KB) outgrows no payload (4 KB),
# so streams get none.
CONNECTION_WINDOW = 2**24
# Trust the client's headers as they come: validating them is h2's dearest part.
CONFIG = H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_inbound_headers=False,
    normalize_inbound_headers=False,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
)

Headers = Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    apns_id: str
    reason: str | None = None  # None: accepted

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b":status", str(self.status).encode()), (b"apns-id", self.apns_id.encode())]
        if self.reason is not None:
            headers.append((b"content-type", b"application/json"))
        return headers

    def body(self) -> bytes:
        return b"" if self.reason is None else json.dumps({"reason": self.reason}).encode()


def problem(headers: Headers, body: bytes, topic: bytes) -> tuple[int, str] | None:
    """APNs' status and reason for a request it would refuse, or None."""
    if headers.get(b":method") != b"POST":
        return 405, "MethodNotAllowed"
    path = headers.get(b":path", b"")
    if not path.startswith(DEVICE_PREFIX) or len(path) == len(DEVICE_PREFIX):
        return 404, "BadPath"
    scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
    if scheme.lower() != b"bearer" or not token:
        return 403, "MissingProviderToken"
    if token.count(b".") != 2:
        return 403, "InvalidProviderToken"
    if b"apns-topic" not in headers:
        return 400, "MissingTopic"
    if headers[b"apns-topic"] != topic:
        return 400, "BadTopic"
    if not body:
        return 400, "PayloadEmpty"
    return (413, "PayloadTooLarge") if len(body) > MAX_PAYLOAD else None


class ApnsAnswers:
    def __init__(self, settings: ApnsSettings, counts: Counts, ids: Ids) -> None:
        self._topic = required(settings.bundle_id, "HERALD_DELIVERY__APNS__BUNDLE_ID").encode()
        self._counts = counts
        self._ids = ids

    def __call__(self, headers: Headers, body: bytes) -> Answer:
        given = headers.get(b"apns-id")
        if given is not None and len(given) != 36:
            self._counts.refuse("apns")
            return Answer(400, self._ids.uuid_like(), "BadMessageId")
        apns_id = given.decode() if given is not None else self._ids.uuid_like()
        refused = problem(headers, body, self._topic)
        if refused is not None:
            self._counts.refuse("apns")
            return Answer(refused[0], apns_id, refused[1])
        self._counts.took("apns")
        return Answer(200, apns_id)


class ApnsProtocol(asyncio.Protocol):
    """One HTTP/2 connection: each stream answered once the client has ended it."""

    def __init__(self, answers: ApnsAnswers) -> None:
        self._answers = answers
        self._h2 = H2Connection(config=CONFIG)
        self._streams: dict[int, tuple[dict[bytes, bytes], bytearray]] = {}
        self._transport: asyncio.Transport | None = None
        self._unacknowledged = 0  # bytes received since the connection's window last widened

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._h2.initiate_connection()
        self._h2.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS})
        self._h2.increment_flow_control_window(CONNECTION_WINDOW)
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except ProtocolError:
            self._close()
            return
        for event in events:
            if isinstance(event, RequestReceived):
                self._streams[event.stream_id] = (dict(event.headers), bytearray())
            elif isinstance(event, DataReceived):
                self._received(event)
            elif isinstance(event, StreamEnded):
                self._respond(event.stream_id)
            elif isinstance(event, StreamReset):
                self._streams.pop(event.stream_id, None)
            elif isinstance(event, ConnectionTerminated):
                self._close()
                return
        self._flush()

    def _received(self, event: DataReceived) -> None:
        stream = self._streams.get(event.stream_id)
        if stream is not None:
            stream[1].extend(event.data)
        self._unacknowledged += event.flow_controlled_length
        if self._unacknowledged >= CONNECTION_WINDOW // 2:
            self._h2.increment_flow_control_window(self._unacknowledged)
            self._unacknowledged = 0

    def _respond(self, stream_id: int) -> None:
        headers, body = self._streams.pop(stream_id, ({}, bytearray()))
        answer = self._answers(headers, bytes(body))
        content = answer.body()
        try:
            self._h2.send_headers(stream_id, answer.headers(), end_stream=not content)
            if content:
                self._h2.send_data(stream_id, content, end_stream=True)
        except StreamClosedError:  # the client gave up on it meanwhile
            pass

    def _flush(self) -> None:
        out = self._h2.data_to_send()
        if out and self._transport is not None:
            self._transport.write(out)

    def _close(self) -> None:
        self._flush()
        if self._transport is not None:
            self._transport.close()
