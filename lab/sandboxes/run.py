"""`herald sandbox run`: every provider sandbox in one process, until SIGTERM or SIGINT.

The HTTP sandboxes (hypercorn) and SMTP (aiosmtpd) share one asyncio loop and one
`SandboxState`; moto runs in its own thread behind the AWS front.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette

from herald.errors import ConfigurationError, SandboxError
from herald.lifecycle import report_ready
from herald.settings import DeliverySettings
from lab.sandboxes.apns import apns_app
from lab.sandboxes.aws import MotoBackend, aws_app
from lab.sandboxes.config import READY_LINE, address_of, check_free
from lab.sandboxes.control import control_app
from lab.sandboxes.credentials import Credentials, ensure_credentials, server_tls
from lab.sandboxes.fcm import fcm_app
from lab.sandboxes.http import server_config
from lab.sandboxes.reporter import Reporter
from lab.sandboxes.smtp import start_smtp
from lab.sandboxes.state import SandboxState
from lab.sandboxes.twilio import twilio_app

PROBE_INTERVAL_S = 0.2
REPORT_TIMEOUT_S = 10.0


def run_sandbox(
    delivery: DeliverySettings,
    say: Callable[[str], None],
    ready_file: Path | None = None,
    ready_timeout_s: float = 30.0,
) -> None:
    """Writes the credentials, starts every sandbox, says READY_LINE once each answers, and
    serves until SIGTERM or SIGINT."""
    if delivery.aws.endpoint_url is None:
        raise ConfigurationError("the AWS sandbox needs delivery.aws.endpoint_url")
    # aiosmtpd logs a deprecation of its own on every AUTH.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log
    check_free(delivery)
    credentials = ensure_credentials(delivery)
    senders = sorted({a for a in (delivery.aws.ses_from, delivery.smtp.from_address) if a})
    with MotoBackend(delivery.aws, senders) as moto:
        asyncio.run(_serve(delivery, credentials, moto.url, say, ready_file, ready_timeout_s))


def _servers(
    delivery: DeliverySettings,
    credentials: Credentials,
    moto: httpx.AsyncClient,
    state: SandboxState,
    reporter: Reporter,
) -> dict[str, tuple[Starlette, Config]]:
    tls = (credentials.tls_cert, credentials.tls_key)
    return {
        "fcm": (
            fcm_app(delivery.fcm, credentials, state),
            server_config(address_of(delivery.fcm.endpoint, "fcm")),
        ),
        "apns": (
            apns_app(delivery.apns, credentials, state),
            server_config(address_of(delivery.apns.endpoint, "apns"), tls=tls, h2_only=True),
        ),
        "aws": (
            aws_app(moto, state, reporter),
            server_config(address_of(delivery.aws.endpoint_url, "aws")),
        ),
        "twilio": (
            twilio_app(delivery.twilio, state, reporter),
            server_config(address_of(delivery.twilio.endpoint, "twilio")),
        ),
        "control": (
            control_app(state, reporter),
            server_config(address_of(delivery.sandbox_control, "control")),
        ),
    }


async def _serve(
    delivery: DeliverySettings,
    credentials: Credentials,
    moto_url: str,
    say: Callable[[str], None],
    ready_file: Path | None,
    ready_timeout_s: float,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    state = SandboxState()
    tls = server_tls(credentials)
    async with (
        httpx.AsyncClient(base_url=moto_url, timeout=30) as moto,
        httpx.AsyncClient(timeout=REPORT_TIMEOUT_S) as reports,
    ):
        reporter = Reporter(delivery, state, reports)
        try:
            smtp = await start_smtp(delivery.smtp, tls, state, reporter)
        except OSError as exc:
            raise SandboxError(f"the smtp sandbox could not start: {exc}") from exc
        tasks = {
            name: asyncio.create_task(_serving(name, app, config, stop.wait))
            for name, (app, config) in _servers(
                delivery, credentials, moto, state, reporter
            ).items()
        }
        try:
            await _until_ready(delivery, credentials, tasks, ready_timeout_s)
            say(f"{READY_LINE}: control API on {delivery.sandbox_control}")
            report_ready(ready_file)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([stopping, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
            _raise_failed(tasks)
        finally:
            stop.set()
            smtp.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(smtp.wait_closed(), 2)
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await reporter.aclose()


async def _serving(
    name: str, app: Starlette, config: Config, until: Callable[[], Coroutine[Any, Any, Any]]
) -> None:
    try:
        await serve(app, config, shutdown_trigger=until)  # type: ignore[arg-type]
    except OSError as exc:
        raise SandboxError(f"the {name} sandbox could not start: {exc}") from exc


def _raise_failed(tasks: dict[str, asyncio.Task[None]]) -> None:
    for task in tasks.values():
        if task.done() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _until_ready(
    delivery: DeliverySettings,
    credentials: Credentials,
    tasks: dict[str, asyncio.Task[None]],
    timeout_s: float,
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    probes = _probes(delivery, credentials)
    pending = set(probes)
    while pending:
        _raise_failed(tasks)
        for name in list(pending):
            if await probes[name]():
                pending.discard(name)
        if loop.time() > deadline:
            raise SandboxError(f"sandboxes not answering after {timeout_s:.0f}s: {sorted(pending)}")
        if pending:
            await asyncio.sleep(PROBE_INTERVAL_S)


Probe = Callable[[], Coroutine[Any, Any, bool]]


def _probes(delivery: DeliverySettings, credentials: Credentials) -> dict[str, Probe]:
    trust = ssl.create_default_context(cafile=str(credentials.tls_cert))

    def http(url: str, **options: Any) -> Probe:
        async def probe() -> bool:
            try:
                async with httpx.AsyncClient(timeout=2, **options) as client:
                    await client.get(url)
            except httpx.HTTPError:
                return False
            return True

        return probe

    async def smtp() -> bool:
        try:
            reader, writer = await asyncio.open_connection(delivery.smtp.host, delivery.smtp.port)
        except OSError:
            return False
        greeting = await reader.readline()
        writer.close()
        return greeting.startswith(b"220")

    return {
        "fcm": http(f"{delivery.fcm.endpoint}/"),
        "apns": http(f"{delivery.apns.endpoint}/", http2=True, verify=trust),
        "aws": http(f"{delivery.aws.endpoint_url}/"),
        "twilio": http(f"{delivery.twilio.endpoint}/"),
        "control": http(f"{delivery.sandbox_control}/health"),
        "smtp": smtp,
    }
