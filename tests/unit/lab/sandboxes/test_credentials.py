"""The sandbox's credential files: made once, kept, and usable by real clients' libraries."""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from pathlib import Path

import jwt
import pytest

from herald.settings import SETTINGS_FILE, DeliverySettings, HeraldSettings, serialized
from lab.sandboxes.config import SERVERS, on_ports
from lab.sandboxes.credentials import FCM_SCOPE, ensure_credentials
from lab.workers import write_private


def delivery_in(directory: Path) -> DeliverySettings:
    ports = {name: 20000 + i for i, name in enumerate(SERVERS)}
    return on_ports(DeliverySettings(), directory, ports)


def test_written_once_and_kept(tmp_path: Path) -> None:
    delivery = delivery_in(tmp_path)
    first = ensure_credentials(delivery)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(files) == {"fcm.json", "apns.p8", "tls.pem", "tls-key.pem"}
    assert oct((tmp_path / "apns.p8").stat().st_mode & 0o777) == "0o600"
    second = ensure_credentials(delivery)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == files
    assert first.fcm_public_key.public_numbers() == second.fcm_public_key.public_numbers()


def test_service_account_follows_the_endpoint_and_keeps_its_key(tmp_path: Path) -> None:
    delivery = delivery_in(tmp_path)
    ensure_credentials(delivery)
    before = json.loads((tmp_path / "fcm.json").read_text())
    assert before["type"] == "service_account"
    assert before["token_uri"] == "http://127.0.0.1:20000/token"
    moved = delivery.model_copy(
        update={"fcm": delivery.fcm.model_copy(update={"endpoint": "http://127.0.0.1:1"})}
    )
    ensure_credentials(moved)
    after = json.loads((tmp_path / "fcm.json").read_text())
    assert after["token_uri"] == "http://127.0.0.1:1/token"
    assert after["private_key"] == before["private_key"]


def test_keys_sign_what_the_sandbox_verifies(tmp_path: Path) -> None:
    delivery = delivery_in(tmp_path)
    credentials = ensure_credentials(delivery)
    account = json.loads(delivery.fcm.service_account_file.read_text())
    now = int(time.time())
    claims = {"iss": account["client_email"], "aud": account["token_uri"], "scope": FCM_SCOPE,
              "iat": now, "exp": now + 60}  # fmt: skip
    assertion = jwt.encode(claims, account["private_key"], algorithm="RS256")
    jwt.decode(assertion, credentials.fcm_public_key, algorithms=["RS256"],
               audience=account["token_uri"])  # fmt: skip
    token = jwt.encode({"iss": "T", "iat": now}, delivery.apns.key_file.read_text(), "ES256")
    assert jwt.decode(token, credentials.apns_public_key, algorithms=["ES256"])["iss"] == "T"


def test_certificate_is_trusted_for_127_0_0_1(tmp_path: Path) -> None:
    credentials = ensure_credentials(delivery_in(tmp_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(credentials.tls_cert, credentials.tls_key)
    client = ssl.create_default_context(cafile=str(credentials.tls_cert))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    tls_server = server.wrap_bio(back_in, back_out, server_side=True)
    for _ in range(10):  # a handshake in memory: no sockets, no network
        for side in (tls_client, tls_server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
    tls_client.do_handshake()
    assert tls_client.getpeercert()["subjectAltName"] == (("IP Address", "127.0.0.1"),
                                                          ("DNS", "localhost"))  # fmt: skip


def test_the_profile_round_trips_through_a_settings_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = delivery_in(tmp_path)
    path = write_private(tmp_path / "settings.json", serialized(HeraldSettings(delivery=delivery)))
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # it holds the secrets
    monkeypatch.setenv(SETTINGS_FILE, str(path))
    monkeypatch.setenv("HERALD_DELIVERY__TWILIO__ACCOUNT_SID", "ignored: the file wins")
    assert HeraldSettings().delivery == delivery
    assert delivery.sandbox_control == "http://127.0.0.1:20005"
    assert delivery.apns.ca_file == delivery.smtp.ca_file == tmp_path / "tls.pem"


def test_each_profile_makes_up_its_own_secrets(tmp_path: Path) -> None:
    first, second = delivery_in(tmp_path), delivery_in(tmp_path)
    assert first.twilio.auth_token is not None and second.twilio.auth_token is not None
    assert first.twilio.auth_token.get_secret_value() != second.twilio.auth_token.get_secret_value()
    assert "sandbox" not in first.twilio.auth_token.get_secret_value()
