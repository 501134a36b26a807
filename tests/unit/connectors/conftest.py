"""Keys and messages for the sender unit tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from herald.models import Channel, ChannelMessage, Priority

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def message(**changes: object) -> ChannelMessage:
    fields: dict[str, object] = {
        "notification_id": "n-1",
        "request_id": "r-1",
        "user_id": "user-1",
        "channel": Channel.EMAIL,
        "address": "ann@example.com",
        "body": "Your order shipped",
        "category": "transactional",
        "priority": Priority.NORMAL,
        "title": "Order 42",
    }
    fields.update(changes)
    return ChannelMessage(**fields)  # type: ignore[arg-type]


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def service_account(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "fcm.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": "k1",
                "private_key": _pem(rsa_key),
                "client_email": "herald@p.iam.gserviceaccount.com",
                "token_uri": "http://oauth.test/token",
            }
        )
    )
    return path


@pytest.fixture
def apns_key(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    path = tmp_path / "apns.p8"
    path.write_text(_pem(ec_key))
    return path
