"""What the AWS providers (SNS, SES) share: a boto3 client built from settings that never
retries on its own, its blocking calls run in a bounded thread pool, and botocore's errors
converted to delivery errors at the boundary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from herald.settings import AwsSettings, ProviderLimits, required

T = TypeVar("T")

THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "MaxSendingRateExceeded",
    }
)
SERVER_SIDE = frozenset(
    {"InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException"}
)
AUTH = frozenset(
    {
        "AuthorizationError",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "ExpiredToken",
        "MissingAuthenticationToken",
    }
)

# Decides codes the shared rules leave open: (code, message) -> error, or None for "refusal".
Refine = Callable[[str, str], DeliveryError | None]


def client_config(limits: ProviderLimits, pool: int) -> Config:
    """No retries inside botocore (the runtime decides) and the provider's timeout per call."""
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=limits.timeout_s,
        read_timeout=limits.timeout_s,
        max_pool_connections=pool,
    )


def client_kwargs(settings: AwsSettings) -> dict[str, Any]:
    """A boto3 client's region, endpoint and keys; with ``default_credentials``, no keys:
    boto3 finds them itself."""
    kwargs: dict[str, Any] = {"region_name": settings.region, "endpoint_url": settings.endpoint_url}
    if settings.default_credentials:
        return kwargs
    key = required(settings.access_key_id, "HERALD_DELIVERY__AWS__ACCESS_KEY_ID")
    secret = required(settings.secret_access_key, "HERALD_DELIVERY__AWS__SECRET_ACCESS_KEY")
    return kwargs | {
        "aws_access_key_id": key.get_secret_value(),
        "aws_secret_access_key": secret.get_secret_value(),
    }


def classify(
    provider: str, exc: ClientError | BotoCoreError, refine: Refine | None = None
) -> DeliveryError:
    """A botocore exception as a delivery error. AWS messages can quote the phone number or
    address, so only the error code travels."""
    if isinstance(exc, BotoConnectionError):
        return TransientDeliveryError(provider, "connect_error", type(exc).__name__)
    if isinstance(exc, HTTPClientError):
        return UnknownOutcomeError(provider, "no_response", type(exc).__name__)
    if not isinstance(exc, ClientError):
        return PermanentDeliveryError(provider, type(exc).__name__, "client configuration")
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in THROTTLING:
        return TransientDeliveryError(provider, code, "throttled")
    if code in SERVER_SIDE or status >= 500:
        return TransientDeliveryError(provider, code, f"HTTP {status}")
    if code in AUTH:
        return PermanentDeliveryError(provider, code, "credentials refused")
    refined = refine(code, str(error.get("Message") or "")) if refine else None
    return refined or PermanentDeliveryError(provider, code, f"HTTP {status}")


class AwsCall:
    """Runs a boto3 call in this provider's bounded thread pool, converting its errors."""

    def __init__(self, provider: str, pool: int, refine: Refine | None = None) -> None:
        self._provider = provider
        self._refine = refine
        self._executor = ThreadPoolExecutor(pool, thread_name_prefix=f"herald-{provider}")

    async def __call__(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except (ClientError, BotoCoreError) as exc:
            raise classify(self._provider, exc, self._refine) from exc

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def mentions(message: str, words: Collection[str]) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in words)
