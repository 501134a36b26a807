"""Amazon SNS: SMS by ``Publish`` to a phone number, through boto3 in a bounded thread pool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from connectors.aws import AwsCall, mentions
from connectors.base import DeliveryError, PermanentDeliveryError, Receipt
from herald.models import Channel, ChannelMessage, Priority
from herald.settings import AwsSettings

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

NAME = "sns"
NOTIFICATION_ID_ATTRIBUTE = "herald.notification_id"
SMS_TYPE_ATTRIBUTE = "AWS.SNS.SMS.SMSType"


def sms_type(message: ChannelMessage, promotional_categories: frozenset[str]) -> str:
    """Promotional for marketing-like categories and low priority, else Transactional (which
    AWS routes for reliability rather than cost)."""
    if message.category in promotional_categories or message.priority is Priority.LOW:
        return "Promotional"
    return "Transactional"


def publish_request(
    message: ChannelMessage, promotional_categories: frozenset[str]
) -> dict[str, Any]:
    return {
        "PhoneNumber": message.address,
        "Message": message.body,
        "MessageAttributes": {
            NOTIFICATION_ID_ATTRIBUTE: {
                "DataType": "String",
                "StringValue": message.notification_id,
            },
            SMS_TYPE_ATTRIBUTE: {
                "DataType": "String",
                "StringValue": sms_type(message, promotional_categories),
            },
        },
    }


def refine(code: str, message: str) -> DeliveryError | None:
    """SNS's refusals: an invalid phone number kills the address; an opted-out one does not
    (the person may opt back in)."""
    if "OptedOut" in code or mentions(message, ("opted out", "opted-out")):
        return PermanentDeliveryError(NAME, code, "phone number opted out")
    if code.startswith("InvalidParameter") and mentions(message, ("phone",)):
        return PermanentDeliveryError(NAME, code, "invalid phone number", True)
    return None


class SnsSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.SMS
    accepts_idempotency_key: ClassVar[bool] = False

    def __init__(self, client: SNSClient, settings: AwsSettings, pool: int = 16) -> None:
        self._client = client
        self._promotional = settings.sms_promotional_categories
        self._call = AwsCall(NAME, pool, refine)

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        request = publish_request(message, self._promotional)
        response = await self._call(lambda: self._client.publish(**request))
        return Receipt(NAME, response.get("MessageId"))

    async def aclose(self) -> None:
        self._call.close()
        self._client.close()
