"""The endpoint's APNs: Apple's refusals, and whole HTTP/2 exchanges with an h2 client in
memory (no socket, no TLS)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived

from herald.settings import DeliverySettings
from lab.bench.endpoint.apns import ApnsAnswers, ApnsProtocol, problem
from lab.bench.endpoint.state import Counts, Ids
from lab.sandboxes.config import SERVERS, on_ports

TOPIC = b"dev.herald.demo"
JWT = b"bearer aaa.bbb.ccc"


def request(changes: dict[str, bytes | None]) -> dict[bytes, bytes]:
    """A good request's headers, with ``changes`` (None: the header left out)."""
    headers = {
        b":method": b"POST",
        b":path": b"/3/device/" + b"ab" * 32,
        b"authorization": JWT,
        b"apns-topic": TOPIC,
    }
    for name, value in changes.items():
        key = name.replace("_", "-").encode()
        if value is None:
            headers.pop(key)
        else:
            headers[key] = value
    return headers


@pytest.mark.parametrize(
    ("changes", "body", "refusal"),
    [({}, b'{"aps":{}}', None),
     ({"authorization": None}, b"{}", (403, "MissingProviderToken")),
     ({"authorization": b"bearer nope"}, b"{}", (403, "InvalidProviderToken")),
     ({"apns_topic": None}, b"{}", (400, "MissingTopic")),
     ({"apns_topic": b"other.app"}, b"{}", (400, "BadTopic")),
     ({}, b"", (400, "PayloadEmpty")),
     ({}, b"x" * 4097, (413, "PayloadTooLarge")),
     ({":path": b"/3/device/"}, b"{}", (404, "BadPath")),
     ({":method": b"GET"}, b"{}", (405, "MethodNotAllowed"))],
)  # fmt: skip
def test_apples_refusals(
    changes: dict[str, bytes | None], body: bytes, refusal: tuple[int, str] | None
) -> None:
    assert problem(request(changes), body, TOPIC) == refusal


class Wire:
    """The server's transport: what it writes goes to the client."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.out += data

    def close(self) -> None:
        self.closed = True


def exchange(
    sends: list[tuple[list[tuple[bytes, bytes]], bytes]],
) -> tuple[dict[int, dict[bytes, bytes]], dict[int, bytes], Counts]:
    """Each (headers, body) sent on a stream of its own; the answers' headers and bodies."""
    delivery = on_ports(
        DeliverySettings(), Path("unused"), {n: 1 + i for i, n in enumerate(SERVERS)}
    )
    counts = Counts()
    server, wire = ApnsProtocol(ApnsAnswers(delivery.apns, counts, Ids())), Wire()
    client = H2Connection(config=H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    server.connection_made(wire)  # type: ignore[arg-type]
    for headers, body in sends:
        stream = client.get_next_available_stream_id()
        client.send_headers(stream, headers)
        client.send_data(stream, body, end_stream=True)
    server.data_received(client.data_to_send())
    answers: dict[int, dict[bytes, bytes]] = {}
    bodies: dict[int, bytes] = {}
    for event in client.receive_data(bytes(wire.out)):
        if isinstance(event, ResponseReceived):
            answers[event.stream_id] = dict(event.headers)
        elif isinstance(event, DataReceived):
            bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
    return answers, bodies, counts


def h2_headers(apns_id: str | None, authorization: bytes | None = JWT) -> list[tuple[bytes, bytes]]:
    headers = [
        (b":method", b"POST"),
        (b":scheme", b"https"),
        (b":authority", b"127.0.0.1"),
        (b":path", b"/3/device/" + b"cd" * 32),
        (b"apns-topic", TOPIC),
    ]
    if authorization is not None:
        headers.append((b"authorization", authorization))
    if apns_id is not None:
        headers.append((b"apns-id", apns_id.encode()))
    return headers


def test_streams_answered_with_their_apns_id_or_refused_with_a_reason() -> None:
    given = str(uuid.uuid4())
    answers, bodies, counts = exchange(
        [
            (h2_headers(given), b'{"aps":{"alert":"hi"}}'),
            (h2_headers(None), b'{"aps":{}}'),
            (h2_headers(None, authorization=None), b'{"aps":{}}'),
            (h2_headers("not-a-uuid"), b'{"aps":{}}'),
        ]
    )
    assert answers[1][b":status"] == b"200" and answers[1][b"apns-id"] == given.encode()
    assert answers[3][b":status"] == b"200" and len(answers[3][b"apns-id"]) == 36
    assert 1 not in bodies and 3 not in bodies
    assert answers[5][b":status"] == b"403"
    assert json.loads(bodies[5]) == {"reason": "MissingProviderToken"}
    assert json.loads(bodies[7]) == {"reason": "BadMessageId"}
    assert (counts.accepted["apns"], counts.refused["apns"]) == (2, 2)
