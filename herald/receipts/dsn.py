"""Bounces on the SMTP path: delivery status notifications (RFC 3464).

A DSN is a ``multipart/report; report-type=delivery-status`` message: a part for people, a
``message/delivery-status`` part (a block about the message, then one per recipient: ``Action``,
``Status``, ``Diagnostic-Code``), and the returned message or its headers, whose ``Message-ID``
is the one Herald gave the message (the smtp sender's provider message id). An MTA's bounce
hook posts it whole to ``POST /v1/receipts/smtp``.
"""

from __future__ import annotations

import email
from datetime import datetime
from email import policy
from email.message import Message
from email.utils import parsedate_to_datetime

from herald.models import State
from herald.receipts import MalformedReceipt, ProviderEvent, without_addresses

PROVIDER = "smtp"
ACTIONS = {"failed": State.BOUNCED, "delivered": State.DELIVERED, "relayed": State.DELIVERED}


def _returned_message_id(report: Message) -> str | None:
    for part in report.walk():
        kind = part.get_content_type()
        if kind == "text/rfc822-headers":
            headers = email.message_from_string(str(part.get_payload(decode=False)))
            return headers.get("Message-ID")
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                found = payload[0].get("Message-ID")
                return None if found is None else str(found)
    return None


def _blocks(report: Message) -> list[Message]:
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                return [block for block in payload if isinstance(block, Message)]
    return []


def _time(block: Message, fallback: datetime) -> datetime:
    for name in ("Last-Attempt-Date", "Arrival-Date"):
        value = block.get(name)
        if value:
            try:
                return parsedate_to_datetime(str(value))
            except (TypeError, ValueError):
                continue
    return fallback


def events(raw: bytes, now: datetime) -> list[ProviderEvent]:
    """An event per recipient whose action is final (``delayed`` and ``expanded`` are not)."""
    report = email.message_from_bytes(raw, policy=policy.compat32)
    if report.get_content_type() != "multipart/report":
        raise MalformedReceipt("a DSN is a multipart/report message")
    if (report.get_param("report-type") or "") != "delivery-status":
        raise MalformedReceipt("a DSN's report-type is delivery-status")
    blocks = _blocks(report)
    message_id = _returned_message_id(report)
    if not blocks or not message_id:
        raise MalformedReceipt("a DSN needs its delivery-status and the returned Message-ID")
    about, recipients = blocks[0], blocks[1:]
    found: list[ProviderEvent] = []
    for block in recipients:
        state = ACTIONS.get(str(block.get("Action", "")).strip().lower())
        if state is None:
            continue
        status = str(block.get("Status", "")).strip() or None
        found.append(
            ProviderEvent(
                PROVIDER,
                message_id.strip(),
                state,
                _time(block, _time(about, now)),
                reason=status if state is State.BOUNCED else None,
                detail=without_addresses(block.get("Diagnostic-Code")),
            )
        )
    return found
