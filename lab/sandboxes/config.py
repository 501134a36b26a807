"""Settings for a sandbox somewhere else than the defaults: other ports, another directory.

Tests, the demo and benchmarks run a private sandbox with ``on_free_ports`` and hand it (and
every sender they start) the same settings through ``sandbox_env``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from herald.settings import DeliverySettings

READY_LINE = "sandbox ready"  # what `herald sandbox run` prints once every server answers
SERVERS = ("fcm", "apns", "aws", "twilio", "smtp", "control")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def on_ports(
    delivery: DeliverySettings,
    directory: Path,
    ports: Mapping[str, int],
    host: str = "127.0.0.1",
) -> DeliverySettings:
    """``delivery`` with every provider pointed at a sandbox on ``host`` and ``ports`` (one per
    name in SERVERS), and its credentials in ``directory``."""
    tls = directory / "tls.pem"
    update = {
        "fcm": {"endpoint": f"http://{host}:{ports['fcm']}",
                "service_account_file": directory / "fcm.json"},
        "apns": {"endpoint": f"https://{host}:{ports['apns']}",
                 "key_file": directory / "apns.p8", "ca_file": tls},
        "aws": {"endpoint_url": f"http://{host}:{ports['aws']}"},
        "twilio": {"endpoint": f"http://{host}:{ports['twilio']}"},
        "smtp": {"host": host, "port": ports["smtp"], "ca_file": tls},
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


def sandbox_env(delivery: DeliverySettings) -> dict[str, str]:
    """The HERALD_DELIVERY__* variables that give a child process (the sandbox, a sender) these
    endpoints, credential files and sandbox accounts."""
    fcm, apns, aws, twilio, smtp = (
        delivery.fcm, delivery.apns, delivery.aws, delivery.twilio, delivery.smtp
    )  # fmt: skip
    values: dict[str, object] = {
        "FCM__ENDPOINT": fcm.endpoint,
        "FCM__PROJECT_ID": fcm.project_id,
        "FCM__SERVICE_ACCOUNT_FILE": fcm.service_account_file,
        "APNS__ENDPOINT": apns.endpoint,
        "APNS__TEAM_ID": apns.team_id,
        "APNS__KEY_ID": apns.key_id,
        "APNS__KEY_FILE": apns.key_file,
        "APNS__BUNDLE_ID": apns.bundle_id,
        "APNS__CA_FILE": apns.ca_file,
        "AWS__ENDPOINT_URL": aws.endpoint_url,
        "AWS__REGION": aws.region,
        "AWS__ACCESS_KEY_ID": aws.access_key_id.get_secret_value(),
        "AWS__SECRET_ACCESS_KEY": aws.secret_access_key.get_secret_value(),
        "AWS__SES_FROM": aws.ses_from,
        "TWILIO__ENDPOINT": twilio.endpoint,
        "TWILIO__ACCOUNT_SID": twilio.account_sid,
        "TWILIO__AUTH_TOKEN": twilio.auth_token.get_secret_value(),
        "TWILIO__FROM_NUMBER": twilio.from_number,
        "SMTP__HOST": smtp.host,
        "SMTP__PORT": smtp.port,
        "SMTP__STARTTLS": smtp.starttls,
        "SMTP__USERNAME": smtp.username,
        "SMTP__PASSWORD": smtp.password.get_secret_value() if smtp.password else None,
        "SMTP__CA_FILE": smtp.ca_file,
        "SMTP__FROM_ADDRESS": smtp.from_address,
        "SANDBOX_DIR": delivery.sandbox_dir,
        "SANDBOX_CONTROL": delivery.sandbox_control,
    }
    return {f"HERALD_DELIVERY__{k}": str(v) for k, v in values.items() if v is not None}
