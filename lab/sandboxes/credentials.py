"""The sandboxes' credentials, written once into ``delivery.sandbox_dir`` and kept afterwards.

- ``fcm.json``: a Google service-account file (RSA key) whose ``token_uri`` is the FCM sandbox;
- ``apns.p8``: an APNs auth key (P-256, PKCS#8 PEM);
- ``tls.pem`` / ``tls-key.pem``: a self-signed certificate for 127.0.0.1 and localhost, which
  the APNs and SMTP sandboxes serve and which senders trust through their ``ca_file``.
Existing files are reused, so senders already running stay valid across sandbox restarts.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from herald.errors import ConfigurationError
from herald.settings import DeliverySettings, required

FCM_FILE = "fcm.json"
APNS_FILE = "apns.p8"
TLS_CERT = "tls.pem"
TLS_KEY = "tls-key.pem"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


@dataclass(frozen=True, slots=True)
class Credentials:
    fcm_client_email: str
    fcm_token_uri: str
    fcm_public_key: rsa.RSAPublicKey
    apns_public_key: ec.EllipticCurvePublicKey
    tls_cert: Path
    tls_key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    os.chmod(path, 0o600)


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _service_account(delivery: DeliverySettings, key_pem: str, key_id: str) -> dict[str, str]:
    project = required(delivery.fcm.project_id, "HERALD_DELIVERY__FCM__PROJECT_ID")
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": key_id,
        "private_key": key_pem,
        "client_email": f"herald-sandbox@{project}.iam.gserviceaccount.com",
        "client_id": "100000000000000000000",
        "token_uri": f"{delivery.fcm.endpoint.rstrip('/')}/token",
    }


def fcm_account(
    delivery: DeliverySettings, directory: Path
) -> tuple[dict[str, str], rsa.RSAPublicKey]:
    """The service account in ``fcm.json``, made or refreshed for the current endpoint."""
    path = directory / FCM_FILE
    if path.exists():
        old = json.loads(path.read_text())
        key_pem, key_id = old["private_key"], old["private_key_id"]
    else:
        key_pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)).decode()
        key_id = uuid.uuid4().hex
        old = None
    account = _service_account(delivery, key_pem, key_id)
    if account != old:
        _write_private(path, json.dumps(account, indent=2).encode())
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigurationError(f"{path} does not hold an RSA key")
    return account, key.public_key()


def apns_key(directory: Path) -> ec.EllipticCurvePublicKey:
    path = directory / APNS_FILE
    if not path.exists():
        _write_private(path, _pem(ec.generate_private_key(ec.SECP256R1())))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"{path} does not hold an EC key")
    return key.public_key()


def self_signed(directory: Path, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """``tls.pem`` and ``tls-key.pem``: one self-signed certificate for 127.0.0.1 and localhost
    that is its own CA, so a client can trust it through ``ca_file``."""
    cert_path, key_path = directory / TLS_CERT, directory / TLS_KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Herald provider sandbox")])
    start = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=1)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def ensure_credentials(delivery: DeliverySettings) -> Credentials:
    directory = delivery.sandbox_dir
    directory.mkdir(parents=True, exist_ok=True)
    account, fcm_public = fcm_account(delivery, directory)
    cert, key = self_signed(directory)
    return Credentials(
        fcm_client_email=account["client_email"],
        fcm_token_uri=account["token_uri"],
        fcm_public_key=fcm_public,
        apns_public_key=apns_key(directory),
        tls_cert=cert,
        tls_key=key,
    )


def server_tls(credentials: Credentials, alpn: Sequence[str] = ()) -> ssl.SSLContext:
    """A server's TLS with the sandbox certificate; ``alpn``: the protocols it offers."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(credentials.tls_cert, credentials.tls_key)
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context
