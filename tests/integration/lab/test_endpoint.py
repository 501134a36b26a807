"""The benchmark endpoint as a process of its own, through Herald's real senders: every
provider gives a receipt and counts it; a request without the right credentials is refused in
the provider's own shape (and counted as refused); SIGTERM stops it cleanly."""

from __future__ import annotations

import signal
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import PermanentDeliveryError
from herald.settings import HeraldSettings
from lab.bench.endpoint.process import EndpointProcess
from lab.sandboxes import on_free_ports
from lab.sandboxes.models import Provider
from tests.integration.connectors.test_senders import channel_message, send, sender_for

Endpoint = tuple[HeraldSettings, EndpointProcess]
PROVIDERS: tuple[Provider, ...] = ("fcm", "apns", "sns", "twilio", "smtp", "ses")


def on_an_endpoint(settings: HeraldSettings, home: Path) -> tuple[HeraldSettings, EndpointProcess]:
    delivery = on_free_ports(settings.delivery, home / "credentials")
    ours = settings.model_copy(update={"delivery": delivery})
    return ours, EndpointProcess(ours, home / "endpoint.log")


@pytest.fixture(scope="module")
def endpoint(
    settings: HeraldSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Endpoint]:
    ours, process = on_an_endpoint(settings, tmp_path_factory.mktemp("endpoint"))
    with process:
        yield ours, process


def with_delivery(settings: HeraldSettings, section: str, **changes: object) -> HeraldSettings:
    """The same settings with one provider's section changed."""
    delivery = settings.delivery
    part = getattr(delivery, section).model_copy(update=changes)
    return settings.model_copy(update={"delivery": delivery.model_copy(update={section: part})})


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_each_real_sender_gets_a_receipt_that_the_endpoint_counted(
    endpoint: Endpoint, provider: Provider
) -> None:
    settings, process = endpoint
    before = process.counts()["accepted"][provider]
    async with sender_for(settings, provider) as sender:
        receipt = await send(sender, channel_message(provider))
    assert receipt.provider == provider
    assert receipt.provider_message_id
    assert process.counts()["accepted"][provider] == before + 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("provider", "section", "changes", "code"),
    [("twilio", "twilio", {"auth_token": SecretStr("guess")}, "20003"),
     ("sns", "aws", {"access_key_id": SecretStr("AKIDSOMEONEELSE")}, "InvalidClientTokenId"),
     ("smtp", "smtp", {"password": SecretStr("guess")}, "535")],
)  # fmt: skip
async def test_wrong_credentials_are_refused_as_the_provider_would(
    endpoint: Endpoint, provider: Provider, section: str, changes: dict[str, object], code: str
) -> None:
    settings, process = endpoint
    before = process.counts()["refused"][provider]
    async with sender_for(with_delivery(settings, section, **changes), provider) as sender:
        with pytest.raises(PermanentDeliveryError) as refused:
            await send(sender, channel_message(provider))
    assert refused.value.code == code
    # aiosmtplib tries each mechanism offered (PLAIN, then LOGIN): two refusals for one login
    assert process.counts()["refused"][provider] > before


def test_a_request_without_authorization_is_refused(endpoint: Endpoint) -> None:
    settings, process = endpoint
    delivery = settings.delivery
    before = process.counts()["refused"]
    fcm = httpx.post(
        f"{delivery.fcm.endpoint}/v1/projects/{delivery.fcm.project_id}/messages:send",
        json={"message": {"token": "t"}},
    )
    assert fcm.status_code == 401
    assert fcm.json()["error"]["status"] == "UNAUTHENTICATED"
    assert delivery.apns.ca_file is not None
    trust = ssl.create_default_context(cafile=str(delivery.apns.ca_file))
    with httpx.Client(http2=True, verify=trust) as client:
        apns = client.post(
            f"{delivery.apns.endpoint}/3/device/{'ab' * 32}",
            content=b'{"aps":{}}',
            headers={"apns-topic": delivery.apns.bundle_id or ""},
        )
    assert apns.http_version == "HTTP/2"
    assert (apns.status_code, apns.json()) == (403, {"reason": "MissingProviderToken"})
    after = process.counts()["refused"]
    assert (after["fcm"] - before["fcm"], after["apns"] - before["apns"]) == (1, 1)


def test_sigterm_stops_it_cleanly(settings: HeraldSettings, tmp_path: Path) -> None:
    _, process = on_an_endpoint(settings, tmp_path)
    process.start()
    assert process.counts()["accepted"]["fcm"] == 0
    process.stop(signal.SIGTERM)
    assert process.process is not None and process.process.returncode == 0
    assert "endpoint stopped" in process.log_file.read_text()
    assert not process.ready_file.exists()
