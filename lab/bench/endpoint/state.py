"""The endpoint's memory: what each provider took and refused, and the ids it answers with.

No record of the messages themselves (the behaviour sandboxes keep those): a benchmark only
needs to know that every delivery arrived, and a count costs nothing.
"""

from __future__ import annotations

import secrets
from itertools import count

from lab.sandboxes.models import PROVIDERS, Provider


class Counts:
    """Per provider: requests it accepted (deliveries) and refused (bad credentials, a
    malformed request). All servers of the endpoint share one, on one event loop."""

    def __init__(self) -> None:
        self.accepted: dict[Provider, int] = dict.fromkeys(PROVIDERS, 0)
        self.refused: dict[Provider, int] = dict.fromkeys(PROVIDERS, 0)

    def took(self, provider: Provider) -> None:
        self.accepted[provider] += 1

    def refuse(self, provider: Provider) -> None:
        self.refused[provider] += 1

    def snapshot(self) -> dict[str, dict[Provider, int]]:
        """What GET /counts answers."""
        return {"accepted": dict(self.accepted), "refused": dict(self.refused)}

    def reset(self) -> None:
        for provider in PROVIDERS:
            self.accepted[provider] = self.refused[provider] = 0


class Ids:
    """Message ids unique for the process's life without a random draw per message: a random
    prefix, then a counter."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(10)  # 20 hex digits
        self._next = count()

    def hex32(self) -> str:
        """32 hex digits (Twilio's sid after "SM", FCM's message name)."""
        return f"{self._prefix}{next(self._next):012x}"

    def uuid_like(self) -> str:
        """A UUID's shape, 8-4-4-4-12 (SNS's and SES's MessageId, APNs' apns-id)."""
        p = self._prefix
        return f"{p[:8]}-{p[8:12]}-{p[12:16]}-{p[16:20]}-{next(self._next):012x}"
