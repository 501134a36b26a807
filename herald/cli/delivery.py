"""`herald bench delivery`: senders against the provider sandboxes plus the status sink."""

from __future__ import annotations

from pathlib import Path

import typer

from herald.cli.common import fail, settings
from herald.errors import HeraldError


def bench_delivery(
    rates: str = typer.Option(
        "25,50,100,200,400,800,1600",
        help="Offered messages a second, in order (a third each to push, SMS and email).",
    ),
    seconds: float = typer.Option(20.0, min=1, help="How long each rate is offered."),
    senders: int = typer.Option(1, min=1, help="Sender workers per channel."),
    sink_events: int = typer.Option(
        100_000, min=1, help="Status events for the sink-only drain afterwards."
    ),
    out: Path = typer.Option(Path("bench-results/delivery.json"), help="Where figures go."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics, keys and keyspaces."),
) -> None:
    """Sustained delivery rate, p50/p99 from publish to status row in Cassandra, memory, and
    the sink's status rows a second."""
    from lab.bench.delivery import run

    config = settings()
    try:
        results = run(
            config,
            [int(r) for r in rates.split(",")],
            seconds,
            senders,
            sink_events,
            out,
            config.stack.home / "bench",
            typer.echo,
            keep=keep,
        )
    except HeraldError as error:
        raise fail(error) from error
    half = results["half_rate_step"] or {}
    drained = results["sink_drain"]
    typer.echo(
        f"delivery sustained {results['sustained_per_s']} messages/s; at half that: "
        f"p50 {half.get('p50_ms')} ms, p99 {half.get('p99_ms')} ms; sink drain "
        f"{drained['rows_per_s']} rows/s; figures in {out}"
    )
