"""`herald worker streams|sender|sink`: Herald's workers, each until it is stopped.

The sender and the sink share one lifecycle (herald.lifecycle): opened, rounds until SIGTERM
or SIGINT (which only this module handles), closed; readiness goes to ``lifecycle.ready_file``.
The streams worker is Faust's, run inside the same rules: this module turns the signals into a
``Stop``, which the worker watches, and it reports ready the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

import typer

from herald.cli.common import METRICS_PORT_HELP, metrics_port, metrics_served, settings
from herald.models import Channel

if TYPE_CHECKING:
    from herald.lifecycle import Stop, Worker
    from herald.settings import HeraldSettings

app = typer.Typer(help="Run Herald's workers.", no_args_is_help=True)


def serve(
    config: HeraldSettings, open_worker: Callable[[Stop], AbstractAsyncContextManager[Worker]]
) -> int:
    """Open the worker, run its rounds until a signal asks it to stop, close it; the records
    it took."""
    import asyncio
    import signal

    import uvloop  # a faster event loop: a sender's round is mostly the loop's own work

    from herald.lifecycle import Stop, readiness, run_rounds, settle_memory

    async def main(announce: Callable[[], None]) -> int:
        def ready() -> None:
            settle_memory()
            announce()

        stop = Stop()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with open_worker(stop) as worker:
            return await run_rounds(worker, stop, on_ready=ready)

    with readiness(config.lifecycle.ready_file) as announce:
        return uvloop.run(main(announce))


@app.command("streams")
def streams(loglevel: str = typer.Option("info", help="Faust's log level.")) -> None:
    """Run the stream processors (fan-out, decisions, deferred release) until stopped."""
    import signal

    from herald.lifecycle import Stop
    from streams.worker import run_streams

    stop = Stop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # Faust's loop is its own: a plain handler
        signal.signal(sig, lambda signum, frame: stop.set())
    run_streams(settings(), stop, loglevel)


@app.command("sender")
def sender(
    channel: Channel = typer.Option(..., "--channel", help="The channel to deliver."),
    port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Deliver a channel's messages through its providers until stopped (SIGTERM)."""
    from connectors.delivery.app import open_sender  # every provider's client: only here
    from herald.metrics import SenderMetrics

    config = settings()
    metrics = SenderMetrics(channel.value, served=metrics_port(config, port) is not None)
    with metrics_served(config, port, metrics.registry):
        taken = serve(config, lambda stop: open_sender(config, channel, metrics))
    typer.echo(f"sender {channel.value} stopped after {taken} record(s) and retries")


@app.command("sink")
def sink(
    port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Write every status on {prefix}status into Cassandra's history tables until stopped."""
    import logging

    from connectors.sink.app import open_sink
    from herald.metrics import SinkMetrics

    logging.getLogger("herald.sink").setLevel(logging.INFO)
    config = settings()
    metrics = SinkMetrics()
    with metrics_served(config, port, metrics.registry):
        taken = serve(config, lambda stop: open_sink(config, stop, metrics))
    typer.echo(f"sink stopped after {taken} status record(s)")
