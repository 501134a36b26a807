"""Amazon SES: the same MIME message as SMTP, by ``SendRawEmail`` through boto3 in a bounded
thread pool."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from connectors.aws import AwsCall
from connectors.base import DeliveryError, PermanentDeliveryError, Receipt
from connectors.email.mime import EmailPolicy, build_email
from herald.models import Channel, ChannelMessage

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

NAME = "ses"


REFUSALS = frozenset(
    {"MessageRejected", "MailFromDomainNotVerified", "ConfigurationSetDoesNotExist"}
)


def refine(code: str, message: str) -> DeliveryError | None:
    """SES's own refusals (throttling, including MaxSendingRateExceeded, and 5xx are caught by
    the shared rules)."""
    if code.removesuffix("Exception") in REFUSALS:
        return PermanentDeliveryError(NAME, code, "refused by SES")
    return None


class SesSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.EMAIL
    accepts_idempotency_key: ClassVar[bool] = False

    def __init__(
        self,
        client: SESClient,
        policy: EmailPolicy,
        pool: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._policy = policy
        self._clock = clock
        self._call = AwsCall(NAME, pool, refine)

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        now = datetime.fromtimestamp(self._clock(), UTC)
        mail = build_email(NAME, message, self._policy, now)
        raw = mail.as_bytes()
        response = await self._call(
            lambda: self._client.send_raw_email(
                Source=self._policy.from_address,
                Destinations=[message.address],
                RawMessage={"Data": raw},
            )
        )
        return Receipt(NAME, response.get("MessageId"))

    async def aclose(self) -> None:
        self._call.close()
        self._client.close()
