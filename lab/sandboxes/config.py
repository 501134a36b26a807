"""The sandbox profile: every provider's settings pointed at a local sandbox.

Provider settings have no working defaults, so whatever talks to the sandboxes (the demo, the
tests, the benchmarks, `herald sandbox run` itself) takes its delivery settings from here:
endpoints on the sandbox's ports, credential files in its directory, sandbox accounts, and
secrets made up for the occasion. The processes they start get the same settings as one
serialized object (``lab.workers``), so both sides of every call agree.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from herald.errors import ConfigurationError, SandboxError
from herald.settings import DeliverySettings, HostPort
from lab.sandboxes.models import SES_EVENTS_TOPIC

READY_LINE = "sandbox ready"  # what `herald sandbox run` prints once every server answers
SERVERS = ("fcm", "apns", "aws", "twilio", "smtp", "control")
DEFAULT_PORTS: Mapping[str, int] = {
    "fcm": 8470,
    "apns": 8471,
    "aws": 8472,
    "twilio": 8473,
    "smtp": 8474,
    "control": 8475,
}
FROM_ADDRESS = "notifications@herald.example"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def _secret() -> SecretStr:
    return SecretStr(secrets.token_urlsafe(24))


def on_ports(
    delivery: DeliverySettings,
    directory: Path,
    ports: Mapping[str, int],
    host: str = "127.0.0.1",
) -> DeliverySettings:
    """``delivery`` with every provider pointed at a sandbox on ``host`` and ``ports`` (one per
    name in SERVERS), its credentials in ``directory``, and fresh secrets."""
    tls = directory / "tls.pem"
    update = {
        "fcm": {"endpoint": f"http://{host}:{ports['fcm']}", "project_id": "herald-sandbox",
                "service_account_file": directory / "fcm.json"},
        "apns": {"endpoint": f"https://{host}:{ports['apns']}", "team_id": "HERALDTEAM",
                 "key_id": "HERALDKEY1", "key_file": directory / "apns.p8",
                 "bundle_id": "dev.herald.demo", "ca_file": tls},
        "aws": {"endpoint_url": f"http://{host}:{ports['aws']}", "access_key_id": _secret(),
                "secret_access_key": _secret(), "default_credentials": False,
                "ses_from": FROM_ADDRESS, "ses_event_topics": frozenset({SES_EVENTS_TOPIC}),
                "sns_urls": "^" + re.escape(f"http://{host}:{ports['aws']}") + "/sns/"},
        "twilio": {"endpoint": f"http://{host}:{ports['twilio']}", "account_sid": "ACsandbox",
                   "auth_token": _secret(), "from_number": "+15550001111"},
        "smtp": {"host": host, "port": ports["smtp"], "starttls": True, "username": "herald",
                 "password": _secret(), "ca_file": tls, "from_address": FROM_ADDRESS},
    }  # fmt: skip
    return delivery.model_copy(
        update={
            **{name: getattr(delivery, name).model_copy(update=u) for name, u in update.items()},
            "sandbox_dir": directory,
            "sandbox_control": f"http://{host}:{ports['control']}",
        }
    )


def on_free_ports(delivery: DeliverySettings, directory: Path) -> DeliverySettings:
    return on_ports(delivery, directory, {name: free_port() for name in SERVERS})


def address_of(url: str | None, name: str) -> HostPort:
    """The host and port a server listens on, from the endpoint its clients are given."""
    parts = urlsplit(url or "")
    if not parts.hostname or parts.port is None:
        raise ConfigurationError(f"the {name} sandbox needs an endpoint with a host and port")
    return HostPort(host=parts.hostname, port=parts.port)


def listen_addresses(delivery: DeliverySettings) -> dict[str, HostPort]:
    """Where each server of SERVERS listens, as ``delivery`` tells its clients."""
    return {
        "fcm": address_of(delivery.fcm.endpoint, "fcm"),
        "apns": address_of(delivery.apns.endpoint, "apns"),
        "aws": address_of(delivery.aws.endpoint_url, "aws"),
        "twilio": address_of(delivery.twilio.endpoint, "twilio"),
        "smtp": HostPort(host=delivery.smtp.host or "127.0.0.1", port=delivery.smtp.port),
        "control": address_of(delivery.sandbox_control, "control"),
    }


def check_free(delivery: DeliverySettings, what: str = "sandbox") -> None:
    """Fails early and plainly when a port is taken (before any server started)."""
    for name, address in listen_addresses(delivery).items():
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address.host, address.port))
            except OSError as exc:
                raise SandboxError(
                    f"the {name} {what} cannot listen on {address.host}:{address.port}: "
                    f"{exc.strerror}"
                ) from exc
