"""What an SNS receipt makes the API fetch: signing certificates (kept, by URL) and
subscription confirmations. Only from URLs that match ``delivery.aws.sns_urls``, checked before
any request leaves."""

from __future__ import annotations

import httpx

from herald.errors import OutageError
from herald.receipts import InvalidReceipt
from herald.receipts.sns import allowed_url

TIMEOUT_S = 5.0
MAX_KEPT = 64


class SnsOutage(OutageError):
    """SNS did not answer a fetch: the receipt is answered 503, and SNS tries again."""


class SnsFetcher:
    def __init__(self, pattern: str, client: httpx.AsyncClient | None = None) -> None:
        self._pattern = pattern
        self._client = client or httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self._certificates: dict[str, bytes] = {}

    def _checked(self, url: str, what: str) -> str:
        if not allowed_url(url, self._pattern):
            raise InvalidReceipt(f"an SNS {what} URL outside delivery.aws.sns_urls")
        return url

    async def certificate(self, url: str) -> bytes:
        kept = self._certificates.get(url)
        if kept is not None:
            return kept
        pem = await self._get(self._checked(url, "certificate"))
        if len(self._certificates) >= MAX_KEPT:
            self._certificates.clear()
        self._certificates[url] = pem
        return pem

    async def confirm(self, subscribe_url: str) -> None:
        await self._get(self._checked(subscribe_url, "subscription"))

    async def _get(self, url: str) -> bytes:
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as error:
            raise SnsOutage(f"fetching from SNS: {type(error).__name__}") from error
        if response.status_code >= 500:
            raise SnsOutage(f"SNS answered {response.status_code}")
        if response.status_code != 200:
            raise InvalidReceipt(f"SNS answered {response.status_code} for a URL of the receipt")
        return response.content

    async def aclose(self) -> None:
        await self._client.aclose()
