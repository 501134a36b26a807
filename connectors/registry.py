"""The explicit registry: provider name -> how to build its sender from settings.

``build_senders(settings, channel)`` creates the configured senders of a channel, each owning
the client it was built with (an httpx client, a boto3 client and its thread pool, SMTP
connections); ``close_senders`` (or each sender's ``aclose``) releases them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from pathlib import Path

import aiosmtplib
import boto3

from connectors.aws import client_config, client_kwargs
from connectors.base import Sender
from connectors.email.mime import EmailPolicy
from connectors.email.ses import SesSender
from connectors.email.smtp import SmtpSender
from connectors.http import Http1Client, http2_client
from connectors.push.apns import ApnsSender
from connectors.push.fcm import FcmSender
from connectors.sms.sns import SnsSender
from connectors.sms.twilio import TwilioSender
from herald.errors import ConfigurationError
from herald.links import LinkSigner
from herald.models import Channel, Platform
from herald.receipts import receipt_url
from herald.settings import (
    DeliverySettings,
    HeraldSettings,
    ProviderLimits,
    SmtpSettings,
    required,
)

PUSH_PROVIDERS: Mapping[Platform, str] = {
    Platform.IOS: "apns",
    Platform.ANDROID: "fcm",
    Platform.WEB: "fcm",
}


def push_provider_for(platform: Platform | str) -> str:
    """Push goes by the device: APNs for iOS, FCM for Android and the web."""
    try:
        return PUSH_PROVIDERS[Platform(platform)]
    except ValueError as exc:
        raise ConfigurationError(f"no push provider for platform {platform!r}") from exc


def channel_providers(settings: DeliverySettings, channel: Channel) -> tuple[str, ...]:
    """The providers a channel uses, less those switched off; for SMS and email the primary
    first."""
    if channel is Channel.PUSH:
        listed: tuple[str, ...] = ("fcm", "apns")
    else:
        listed = settings.sms_providers if channel is Channel.SMS else settings.email_providers
    return tuple(name for name in listed if name not in settings.disabled)


def provider_limits(settings: DeliverySettings, name: str) -> ProviderLimits:
    by_name = {
        "fcm": settings.fcm.limits,
        "apns": settings.apns.limits,
        "sns": settings.aws.sms_limits,
        "twilio": settings.twilio.limits,
        "smtp": settings.smtp.limits,
        "ses": settings.aws.email_limits,
    }
    if name not in by_name:
        raise ConfigurationError(f"unknown provider {name!r}")
    return by_name[name]


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Verifying TLS: against ``ca_file`` when set (the sandbox's certificate), else the system
    store."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"CA file {ca_file}: {type(exc).__name__}") from exc


def _fcm(s: HeraldSettings) -> Sender:
    fcm = s.delivery.fcm
    client = Http1Client(fcm.limits.timeout_s, s.delivery.in_flight)
    return FcmSender(client, fcm, links=LinkSigner.configured(s.links))


def _apns(s: HeraldSettings) -> Sender:
    apns = s.delivery.apns
    client = http2_client(apns.limits.timeout_s, s.delivery.in_flight, tls_context(apns.ca_file))
    return ApnsSender(client, apns, links=LinkSigner.configured(s.links))


def _twilio(s: HeraldSettings) -> Sender:
    twilio = s.delivery.twilio
    callback = receipt_url(s.links.base_url, "twilio") if twilio.status_callbacks else None
    client = Http1Client(twilio.limits.timeout_s, s.delivery.in_flight)
    return TwilioSender(client, twilio, status_callback=callback)


def _sns(s: HeraldSettings) -> Sender:
    aws, pool = s.delivery.aws, s.delivery.in_flight
    config = client_config(aws.sms_limits, pool)
    return SnsSender(boto3.client("sns", config=config, **client_kwargs(aws)), aws, pool)


def _ses(s: HeraldSettings) -> Sender:
    aws, pool = s.delivery.aws, s.delivery.in_flight
    config = client_config(aws.email_limits, pool)
    client = boto3.client("ses", config=config, **client_kwargs(aws))
    sender = required(aws.ses_from, "HERALD_DELIVERY__AWS__SES_FROM")
    return SesSender(client, EmailPolicy.from_settings(s, sender), pool)


def smtp_connector(settings: SmtpSettings) -> Callable[[], aiosmtplib.SMTP]:
    host = required(settings.host, "HERALD_DELIVERY__SMTP__HOST")
    tls = tls_context(settings.ca_file)
    password = None
    if settings.username is not None:
        password = required(settings.password, "HERALD_DELIVERY__SMTP__PASSWORD")

    def connect() -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=host,
            port=settings.port,
            start_tls=settings.starttls,
            tls_context=tls,
            username=settings.username,
            password=password.get_secret_value() if password else None,
            timeout=settings.limits.timeout_s,
        )

    return connect


def _smtp(s: HeraldSettings) -> Sender:
    smtp = s.delivery.smtp
    policy = EmailPolicy.from_settings(
        s, required(smtp.from_address, "HERALD_DELIVERY__SMTP__FROM_ADDRESS")
    )
    return SmtpSender(smtp_connector(smtp), policy, idle_connections=s.delivery.in_flight)


BUILDERS: Mapping[str, tuple[Channel, Callable[[HeraldSettings], Sender]]] = {
    "fcm": (Channel.PUSH, _fcm),
    "apns": (Channel.PUSH, _apns),
    "sns": (Channel.SMS, _sns),
    "twilio": (Channel.SMS, _twilio),
    "smtp": (Channel.EMAIL, _smtp),
    "ses": (Channel.EMAIL, _ses),
}


def build_sender(settings: HeraldSettings, name: str) -> Sender:
    if name not in BUILDERS:
        raise ConfigurationError(f"unknown provider {name!r} (known: {', '.join(BUILDERS)})")
    return BUILDERS[name][1](settings)


def build_senders(settings: HeraldSettings, channel: Channel) -> dict[str, Sender]:
    """Every configured sender of the channel, by provider name (names checked first)."""
    names = channel_providers(settings.delivery, channel)
    if not names:
        raise ConfigurationError(f"every provider of {channel} is switched off")
    for name in names:
        if name in BUILDERS and BUILDERS[name][0] is not channel:
            raise ConfigurationError(f"provider {name!r} does not deliver {channel}")
    senders: dict[str, Sender] = {}
    try:
        for name in names:
            senders[name] = build_sender(settings, name)
    except ConfigurationError as error:  # one line, naming the setting and the way out
        raise ConfigurationError(
            f"provider {name} of {channel}: {error} "
            f'(or switch it off: add "{name}" to HERALD_DELIVERY__DISABLED)'
        ) from error
    return senders


async def close_senders(senders: Mapping[str, Sender]) -> None:
    for sender in senders.values():
        await sender.aclose()
