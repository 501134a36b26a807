from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

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
    AwsSettings,
    DeliverySettings,
    FcmSettings,
    HeraldSettings,
    ProviderLimits,
    SmtpSettings,
    TwilioSettings,
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
    """Every provider configured, as a deployment would (nothing here has a default)."""
    secret = SecretStr("s3cret")
    return HeraldSettings(
        delivery=DeliverySettings(
            fcm=FcmSettings(project_id="p", service_account_file=service_account),
            apns=ApnsSettings(team_id="T", key_id="K", key_file=apns_key, bundle_id="b"),
            aws=AwsSettings(
                access_key_id=secret, secret_access_key=secret, ses_from="n@herald.example"
            ),
            twilio=TwilioSettings(account_sid="AC1", auth_token=secret, from_number="+15550001"),
            smtp=SmtpSettings(host="mail.test", from_address="n@herald.example"),
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


@pytest.mark.parametrize(
    ("channel", "provider", "setting", "blank"),
    [
        (Channel.PUSH, "fcm", "HERALD_DELIVERY__FCM__PROJECT_ID", {"project_id": None}),
        (Channel.PUSH, "apns", "HERALD_DELIVERY__APNS__TEAM_ID", {"team_id": None}),
        (Channel.SMS, "twilio", "HERALD_DELIVERY__TWILIO__AUTH_TOKEN", {"auth_token": None}),
        (Channel.SMS, "sns", "HERALD_DELIVERY__AWS__ACCESS_KEY_ID", {"access_key_id": None}),
        (Channel.EMAIL, "smtp", "HERALD_DELIVERY__SMTP__HOST", {"host": None}),
        (Channel.EMAIL, "ses", "HERALD_DELIVERY__AWS__SES_FROM", {"ses_from": None}),
    ],
)
def test_a_provider_without_its_settings_refuses_to_start_naming_them(
    service_account: Path,
    apns_key: Path,
    channel: Channel,
    provider: str,
    setting: str,
    blank: dict[str, object],
) -> None:
    section = "aws" if provider in ("sns", "ses") else provider
    settings = _settings(service_account, apns_key).updated(delivery={section: blank})
    with pytest.raises(ConfigurationError) as refused:
        build_senders(settings, channel)
    said = str(refused.value)
    assert f"provider {provider} of {channel}: {setting} is not set" in said
    assert f'add "{provider}" to HERALD_DELIVERY__DISABLED' in said
    assert "\n" not in said


def test_nothing_has_a_working_default() -> None:
    delivery = DeliverySettings()
    assert delivery.fcm.project_id is None and delivery.fcm.service_account_file is None
    assert delivery.apns.key_file is None and delivery.aws.access_key_id is None
    assert delivery.twilio.auth_token is None and delivery.smtp.password is None
    assert delivery.smtp.host is None and delivery.aws.endpoint_url is None
    assert "127.0.0.1" not in delivery.fcm.endpoint + delivery.apns.endpoint
    assert "127.0.0.1" not in delivery.twilio.endpoint


@pytest.mark.asyncio
async def test_a_provider_switched_off_is_not_built_nor_failed_over_to(
    service_account: Path, apns_key: Path
) -> None:
    settings = _settings(service_account, apns_key).updated(
        delivery={"disabled": {"ses", "apns"}, "apns": {"team_id": None}}
    )
    assert channel_providers(settings.delivery, Channel.EMAIL) == ("smtp",)
    senders = build_senders(settings, Channel.PUSH)  # apns lacks a setting, but is off
    assert set(senders) == {"fcm"}
    await close_senders(senders)
    everything_off = settings.updated(delivery={"disabled": {"smtp", "ses"}})
    with pytest.raises(ConfigurationError, match="every provider of email is switched off"):
        build_senders(everything_off, Channel.EMAIL)
