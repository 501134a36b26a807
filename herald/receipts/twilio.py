"""Twilio status callbacks: a form POST to the message's ``StatusCallback`` URL, signed in
``X-Twilio-Signature`` (base64 of HMAC-SHA1 under the account's auth token, over the URL
followed by every form field's name and value, sorted)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime

from herald.models import State
from herald.receipts import InvalidReceipt, MalformedReceipt, ProviderEvent

PROVIDER = "twilio"
SIGNATURE_HEADER = "X-Twilio-Signature"
# What each final status means; queued, sending, sent, accepted and scheduled are on the way.
FINAL = {
    "delivered": State.DELIVERED,
    "read": State.DELIVERED,
    "undelivered": State.FAILED,
    "failed": State.FAILED,
}


def signature(auth_token: str, url: str, form: Sequence[tuple[str, str]]) -> str:
    """What Twilio sends in ``X-Twilio-Signature`` for this POST (as Twilio's SDKs check it:
    each distinct name and value once, sorted)."""
    signed = url + "".join(name + value for name, value in sorted(set(form)))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify(auth_token: str, url: str, form: Sequence[tuple[str, str]], sent: str | None) -> None:
    """``InvalidReceipt`` unless ``sent`` is the signature of this URL and form."""
    expected = signature(auth_token, url, form)
    if sent is None or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise InvalidReceipt("the X-Twilio-Signature does not match")


def events(form: Mapping[str, str], now: datetime) -> list[ProviderEvent]:
    """The callback's final status as an event (none for a status on the way). Twilio's
    callbacks carry no time of their own: ``now`` is when it came."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    status = form.get("MessageStatus") or form.get("SmsStatus")
    if not sid or not status:
        raise MalformedReceipt("a status callback needs MessageSid and MessageStatus")
    state = FINAL.get(status)
    if state is None:
        return []
    code = form.get("ErrorCode") or None
    detail = None if state is State.DELIVERED else status
    return [ProviderEvent(PROVIDER, sid, state, now, reason=code, detail=detail)]
