"""`herald worker sender --channel push|sms|email`: deliver one channel's messages."""

from __future__ import annotations

import asyncio

import typer

from herald.cli.common import METRICS_PORT_HELP, fail, metrics_port, metrics_served, settings
from herald.errors import HeraldError
from herald.lifecycle import READY_MARK
from herald.metrics import SenderMetrics
from herald.models import Channel


def worker_sender(
    channel: Channel = typer.Option(..., "--channel", help="The channel to deliver."),
    port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Deliver a channel's messages through its providers until stopped (SIGTERM)."""
    from connectors.delivery.app import run_sender  # imports every provider's client: only here

    def ready() -> None:
        typer.echo(f"sender {channel.value}: {READY_MARK}")

    config = settings()
    served = metrics_port(config, port) is not None
    metrics = SenderMetrics(channel.value, served=served)
    try:
        with metrics_served(config, port, metrics.registry):
            asyncio.run(run_sender(config, channel, on_ready=ready, metrics=metrics))
    except HeraldError as error:
        raise fail(error) from error
