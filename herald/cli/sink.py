"""`herald worker sink` and `herald bench sink`: the status sink into Cassandra."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from herald.cli.common import METRICS_PORT_HELP, fail, metrics_served, settings
from herald.errors import HeraldError
from herald.metrics import SinkMetrics


def worker_sink(
    metrics_port: int | None = typer.Option(None, "--metrics-port", min=0, help=METRICS_PORT_HELP),
) -> None:
    """Write every status on {prefix}status into Cassandra's history tables until stopped."""
    from connectors.sink.app import run_sink

    logging.getLogger("herald.sink").setLevel(logging.INFO)
    config = settings()
    metrics = SinkMetrics()
    try:
        with metrics_served(config, metrics_port, metrics.registry):
            written = run_sink(config, metrics)
    except HeraldError as error:
        raise fail(error) from error
    typer.echo(f"sink stopped after writing {written} status(es)")


def bench_sink(
    events: int = typer.Option(200_000, min=1, help="Status events produced, then sunk."),
    out: Path = typer.Option(Path("bench-results/sink.json"), help="Where figures go."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and keyspace."),
) -> None:
    """Status events a second one sink worker writes into Cassandra (two rows each)."""
    from lab.bench.sink import run

    config = settings()
    try:
        results = run(config, events, out, config.stack.home / "bench", typer.echo, keep=keep)
    except HeraldError as error:
        raise fail(error) from error
    typer.echo(
        f"sink: {results['events_per_s']} status events/s ({results['rows_per_s']} rows/s); "
        f"figures in {out}"
    )
