"""`herald worker streams|sender|sink`: Herald's workers, each until it is stopped."""

from __future__ import annotations

import typer

from herald.cli.common import METRICS_PORT_HELP, metrics_port, metrics_served, settings
from herald.models import Channel

app = typer.Typer(help="Run Herald's workers.", no_args_is_help=True)


@app.command("streams")
def streams(loglevel: str = typer.Option("info", help="Faust's log level.")) -> None:
    """Run the stream processors (fan-out, decisions, deferred release) until stopped."""
    from streams.worker import run_streams

    run_streams(settings(), loglevel)


@app.command("sender")
def sender(
    channel: Channel = typer.Option(..., "--channel", help="The channel to deliver."),
    port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Deliver a channel's messages through its providers until stopped (SIGTERM)."""
    import asyncio

    from connectors.delivery.app import run_sender  # every provider's client: only here
    from herald.lifecycle import READY_MARK
    from herald.metrics import SenderMetrics

    def ready() -> None:
        typer.echo(f"sender {channel.value}: {READY_MARK}")

    config = settings()
    metrics = SenderMetrics(channel.value, served=metrics_port(config, port) is not None)
    with metrics_served(config, port, metrics.registry):
        asyncio.run(run_sender(config, channel, on_ready=ready, metrics=metrics))


@app.command("sink")
def sink(
    port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Write every status on {prefix}status into Cassandra's history tables until stopped."""
    import logging

    from connectors.sink.app import run_sink
    from herald.metrics import SinkMetrics

    logging.getLogger("herald.sink").setLevel(logging.INFO)
    config = settings()
    metrics = SinkMetrics()
    with metrics_served(config, port, metrics.registry):
        written = run_sink(config, metrics)
    typer.echo(f"sink stopped after writing {written} status(es)")
