"""`herald worker sender --channel push|sms|email`: deliver one channel's messages."""

from __future__ import annotations

import asyncio

import typer

from herald.cli.common import fail, settings
from herald.errors import HeraldError
from herald.models import Channel
from herald.workers import READY_MARK


def worker_sender(
    channel: Channel = typer.Option(..., "--channel", help="The channel to deliver."),
) -> None:
    """Deliver a channel's messages through its providers until stopped (SIGTERM)."""
    from connectors.delivery.app import run_sender  # imports every provider's client: only here

    def ready() -> None:
        typer.echo(f"sender {channel.value}: {READY_MARK}")

    try:
        asyncio.run(run_sender(settings(), channel, on_ready=ready))
    except HeraldError as error:
        raise fail(error) from error
