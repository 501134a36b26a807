"""SMS through an API in Twilio's REST shape (``Messages.json``, basic auth, form body).

The ``Idempotency-Key`` header makes a resend after an unknown outcome safe: the provider
answers the same key with the original message instead of sending it again. ``StatusCallback``
asks Twilio to post the message's later statuses (delivered, undelivered) to herald api.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from connectors.base import DeliveryError, PermanentDeliveryError, Receipt
from connectors.http import FORM, HttpClient, by_status, json_body
from herald.models import Channel, ChannelMessage
from herald.settings import TwilioSettings, required

SETTING = "HERALD_DELIVERY__TWILIO"

NAME = "twilio"
# 21211: invalid 'To' number; 21614: 'To' is not a mobile number.
ADDRESS_DEAD = frozenset({21211, 21614})
OPTED_OUT = 21610  # the recipient replied STOP: refused, but the number itself is fine


def classify(
    status: int, headers: Mapping[str, str], body: Mapping[str, Any], now: datetime
) -> DeliveryError:
    code = body.get("code")
    label = str(code if code is not None else status)
    if status == 400 and code in ADDRESS_DEAD:
        return PermanentDeliveryError(NAME, label, "invalid or non-mobile number", True)
    if status == 400 and code == OPTED_OUT:
        return PermanentDeliveryError(NAME, label, "recipient unsubscribed")
    return by_status(NAME, status, label, headers, now)


class TwilioSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.SMS
    accepts_idempotency_key: ClassVar[bool] = True

    def __init__(
        self, client: HttpClient, settings: TwilioSettings, status_callback: str | None = None
    ) -> None:
        self._client = client
        account = required(settings.account_sid, f"{SETTING}__ACCOUNT_SID")
        token = required(settings.auth_token, f"{SETTING}__AUTH_TOKEN")
        self._url = f"{settings.endpoint}/2010-04-01/Accounts/{account}/Messages.json"
        credentials = b64encode(f"{account}:{token.get_secret_value()}".encode()).decode()
        self._headers = {**FORM, "authorization": f"Basic {credentials}"}
        self._from = required(settings.from_number, f"{SETTING}__FROM_NUMBER")
        self._callback = {"StatusCallback": status_callback} if status_callback else {}

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        form = {"To": message.address, "From": self._from, "Body": message.body, **self._callback}
        response = await self._client.request(
            NAME,
            "POST",
            self._url,
            content=urlencode(form).encode(),
            headers={**self._headers, "Idempotency-Key": idempotency_key},
        )
        body = json_body(response.content)
        if response.status_code in (200, 201):
            return Receipt(NAME, body.get("sid"))
        raise classify(response.status_code, response.headers, body, datetime.now(UTC))

    async def aclose(self) -> None:
        await self._client.aclose()
