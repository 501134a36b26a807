"""`herald bench endpoint`: every provider's shape in one process on uvloop, until SIGTERM or
SIGINT.

It listens where the sandbox profile points the senders (``lab.sandboxes.config``: the same
ports, credential files and secrets), so a benchmark swaps the behaviour sandbox for it and
changes nothing else. Each server is an asyncio protocol answering at once; all of them share
one `Counts`, read on the control port.
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
from collections.abc import Callable
from pathlib import Path

import uvloop

from herald.errors import SandboxError
from herald.lifecycle import readiness, settle_memory
from herald.settings import DeliverySettings, HostPort
from lab.bench.endpoint.apns import ApnsAnswers, ApnsProtocol
from lab.bench.endpoint.aws import AwsAnswers
from lab.bench.endpoint.control import ControlAnswers
from lab.bench.endpoint.fcm import FcmAnswers
from lab.bench.endpoint.http1 import Handler, HttpProtocol
from lab.bench.endpoint.smtp import SmtpProtocol, SmtpSession
from lab.bench.endpoint.state import Counts, Ids
from lab.bench.endpoint.twilio import TwilioAnswers
from lab.sandboxes.config import check_free, listen_addresses
from lab.sandboxes.credentials import Credentials, ensure_credentials, server_tls

READY_LINE = "endpoint ready"  # what `herald bench endpoint` prints once every port listens

Factory = Callable[[], asyncio.Protocol]


def run_endpoint(
    delivery: DeliverySettings, say: Callable[[str], None], ready_file: Path | None = None
) -> None:
    """Writes the credentials (or keeps those there), listens on every port, says READY_LINE
    and serves until SIGTERM or SIGINT; then says what each provider took."""
    check_free(delivery, "endpoint")
    credentials = ensure_credentials(delivery)
    counts = Counts()
    with readiness(ready_file) as announce:
        uvloop.run(_serve(delivery, credentials, counts, say, announce))
    say(f"endpoint stopped; accepted {json.dumps(counts.snapshot()['accepted'])}")


def factories(
    delivery: DeliverySettings, credentials: Credentials, counts: Counts
) -> dict[str, Factory]:
    """Each server's protocol factory, by the name of SERVERS it listens for."""
    ids = Ids()

    def http(handler: Handler) -> Factory:
        return lambda: HttpProtocol(handler)

    apns = ApnsAnswers(delivery.apns, counts, ids)
    smtp_tls = server_tls(credentials)
    fcm = FcmAnswers(delivery.fcm, credentials.fcm_token_uri, counts, ids)
    return {
        "fcm": http(fcm),
        "apns": lambda: ApnsProtocol(apns),
        "aws": http(AwsAnswers(delivery.aws, counts, ids)),
        "twilio": http(TwilioAnswers(delivery.twilio, counts, ids)),
        "smtp": lambda: SmtpProtocol(SmtpSession(delivery.smtp, counts, ids), smtp_tls),
        "control": http(ControlAnswers(counts)),
    }


async def _serve(
    delivery: DeliverySettings,
    credentials: Credentials,
    counts: Counts,
    say: Callable[[str], None],
    announce: Callable[[], None],
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    addresses = listen_addresses(delivery)
    apns_tls = server_tls(credentials, alpn=("h2",))
    servers: list[asyncio.Server] = []
    try:
        for name, factory in factories(delivery, credentials, counts).items():
            tls = apns_tls if name == "apns" else None
            servers.append(await _listen(name, addresses[name], factory, tls))
        settle_memory()
        say(f"{READY_LINE}: counts on {delivery.sandbox_control}/counts")
        announce()
        await stop.wait()
    finally:
        for server in servers:
            server.close()


async def _listen(
    name: str, address: HostPort, factory: Factory, tls: ssl.SSLContext | None
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    try:
        return await loop.create_server(
            factory, address.host, address.port, ssl=tls, reuse_address=True
        )
    except OSError as exc:
        where = f"{address.host}:{address.port}"
        raise SandboxError(f"the {name} endpoint cannot listen on {where}: {exc.strerror}") from exc
