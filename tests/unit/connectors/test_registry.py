from __future__ import annotations

from pathlib import Path

import pytest

from connectors.registry import (
    build_sender,
    build_senders,
    channel_providers,
    close_senders,
    provider_limits,
    push_provider_for,
)
from herald.errors import ConfigurationError
from herald.models import Channel, Platform
from herald.settings import (
    ApnsSettings,
    DeliverySettings,
    FcmSettings,
    HeraldSettings,
    ProviderLimits,
    SmtpSettings,
)


@pytest.mark.parametrize(
    ("platform", "provider"),
    [(Platform.IOS, "apns"), (Platform.ANDROID, "fcm"), (Platform.WEB, "fcm"), ("ios", "apns")],
)
def test_push_provider_by_platform(platform: Platform, provider: str) -> None:
    assert push_provider_for(platform) == provider


def test_unknown_platform_and_provider() -> None:
    with pytest.raises(ConfigurationError):
        push_provider_for("blackberry")
    with pytest.raises(ConfigurationError):
        build_sender(HeraldSettings(), "pigeon")
    with pytest.raises(ConfigurationError):
        provider_limits(DeliverySettings(), "pigeon")


def test_channel_providers_and_limits() -> None:
    delivery = DeliverySettings(
        sms_providers=("twilio", "sns"), smtp=SmtpSettings(limits=ProviderLimits(timeout_s=9))
    )
    assert channel_providers(delivery, Channel.PUSH) == ("fcm", "apns")
    assert channel_providers(delivery, Channel.SMS) == ("twilio", "sns")
    assert channel_providers(delivery, Channel.EMAIL) == ("smtp", "ses")
    assert provider_limits(delivery, "smtp").timeout_s == 9


def _settings(service_account: Path, apns_key: Path, **delivery: object) -> HeraldSettings:
    return HeraldSettings(
        delivery=DeliverySettings(
            fcm=FcmSettings(service_account_file=service_account),
            apns=ApnsSettings(key_file=apns_key, ca_file=None),
            smtp=SmtpSettings(ca_file=None),
            **delivery,  # type: ignore[arg-type]
        )
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("channel", "names"),
    [
        (Channel.PUSH, {"fcm", "apns"}),
        (Channel.SMS, {"sns", "twilio"}),
        (Channel.EMAIL, {"smtp", "ses"}),
    ],
)
async def test_build_senders_by_channel(
    service_account: Path, apns_key: Path, channel: Channel, names: set[str]
) -> None:
    senders = build_senders(_settings(service_account, apns_key), channel)
    assert set(senders) == names
    for name, sender in senders.items():
        assert (sender.name, sender.channel) == (name, channel)
    await close_senders(senders)


def test_a_provider_on_the_wrong_channel_is_refused(service_account: Path, apns_key: Path) -> None:
    settings = _settings(service_account, apns_key, sms_providers=("sns", "smtp"))
    with pytest.raises(ConfigurationError, match="smtp"):
        build_senders(settings, Channel.SMS)


def test_missing_credentials_are_a_configuration_error(tmp_path: Path, apns_key: Path) -> None:
    settings = _settings(tmp_path / "missing.json", apns_key)
    with pytest.raises(ConfigurationError):
        build_sender(settings, "fcm")
    settings = _settings(tmp_path / "missing.json", tmp_path / "missing.p8")
    with pytest.raises(ConfigurationError):
        build_sender(settings, "apns")
