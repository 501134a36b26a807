"""What a push message carries for its app to report an open: a signed event token.

The app posts it back to ``POST /v1/events`` (``{"token": ..., "event": "opened"}``), which
needs no API key: the token (herald.links, audience ``herald:event``) names the notification
and is refused when forged, altered or expired. No token without links.secret.
"""

from __future__ import annotations

from datetime import datetime

from herald.links import LinkSigner
from herald.models import ChannelMessage
from herald.receipts import MessageRef

EVENT_TOKEN = "herald_event_token"  # noqa: S105 (a name, not a secret): the key in FCM's data and in the APNs payload


def event_token(
    links: LinkSigner | None, provider: str, message: ChannelMessage, now: datetime
) -> str | None:
    return None if links is None else links.event_token(MessageRef.of(message), now, provider)


def event_data(token: str | None) -> dict[str, str]:
    return {} if token is None else {EVENT_TOKEN: token}
