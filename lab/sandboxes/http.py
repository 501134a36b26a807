"""What the HTTP sandboxes share: their servers' configuration, and how a fault plays out on a
request."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hypercorn.config import Config
from starlette.requests import Request
from starlette.responses import Response

from herald.settings import HostPort
from lab.sandboxes.models import Provider
from lab.sandboxes.state import Action, SandboxState

HANG_LIMIT_S = 600.0  # a hung request is dropped after this long even if the client stays


def server_config(
    address: HostPort, tls: tuple[Path, Path] | None = None, h2_only: bool = False
) -> Config:
    config = Config()
    config.bind = [f"{address.host}:{address.port}"]
    config.loglevel = "WARNING"
    config.accesslog = None
    config.graceful_timeout = 1.0
    if tls is not None:
        config.certfile, config.keyfile = str(tls[0]), str(tls[1])
    if h2_only:
        config.alpn_protocols = ["h2"]
    return config


def retry_after(seconds: float | None) -> dict[str, str]:
    """A Retry-After header (whole seconds, as HTTP requires), or none."""
    return {} if seconds is None else {"retry-after": str(math.ceil(seconds))}


@dataclass(frozen=True, slots=True)
class ErrorReplies:
    """A provider's own error format: for an injected status, and for a refused address."""

    status: Callable[[int, float | None], Response]
    refused: Callable[[], Response]


async def faulted(
    state: SandboxState,
    provider: Provider,
    address: str,
    fields: dict[str, object],
    replies: ErrorReplies,
) -> tuple[Action, Response | None]:
    """Takes the provider's fault for this request and plays its first part: the latency,
    then an injected status or a refusal (recorded, and answered in the provider's format)."""
    action = state.take(provider)
    if action.latency_s:
        await asyncio.sleep(action.latency_s)
    if action.status is not None:
        state.record(provider, "failed", address, **fields)
        return action, replies.status(action.status, action.retry_after_s)
    if action.refuses(address):
        state.record(provider, "refused", address, **fields)
        return action, replies.refused()
    return action, None


async def accepted(
    request: Request,
    state: SandboxState,
    provider: Provider,
    action: Action,
    address: str,
    fields: dict[str, object],
    response: Response,
) -> Response:
    """Records a message the provider took; with ``hang``, keeps the answer until the client
    gives up (so the message was delivered, and the client cannot know)."""
    state.record(provider, "hung" if action.hang else "delivered", address, **fields)
    if action.hang:
        await until_disconnected(request)
    return response


async def until_disconnected(request: Request, poll_s: float = 0.1) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_LIMIT_S
    while loop.time() < deadline and not await request.is_disconnected():
        await asyncio.sleep(poll_s)
