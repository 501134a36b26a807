"""`herald bench ...`: benchmarks. Figures go to a JSON file, never into test assertions."""

from __future__ import annotations

from pathlib import Path

import typer

from herald.cli.common import comma_ints, settings
from herald.cli.sandbox import CONFIGURED_HELP, on_the_profile

app = typer.Typer(help="Benchmarks; figures go to a JSON file.", no_args_is_help=True)


@app.command("pipeline")
def pipeline(
    rates: str = typer.Option(
        "500,1000,2000,4000,8000,16000,20000",
        help="Offered per-user notifications a second, in order.",
    ),
    seconds: float = typer.Option(20.0, min=1, help="How long each rate is offered."),
    per_request: int = typer.Option(100, min=1, help="Recipients per published request."),
    out: Path = typer.Option(Path("bench-results/pipeline.json"), help="Where figures go."),
    million: bool = typer.Option(True, help="Also fan out one 1,000,000-recipient request."),
    workers: int = typer.Option(1, min=1, help="Herald worker processes (the relay runs one)."),
) -> None:
    """Highest rate with flat lag, p50/p99 publish-to-channel latency and worker memory,
    for Herald's worker and for a bare confluent-kafka relay over the same hops."""
    offered = comma_ints(rates, "--rates")
    from herald.progress import bar
    from lab.bench.pipeline import run

    config = settings()
    results = run(
        config,
        offered,
        seconds,
        per_request,
        out,
        config.stack.home / "bench",
        typer.echo,
        with_million=million,
        workers=workers,
        progress=bar,
    )
    typer.echo(
        f"herald sustained {results['herald']['sustained_per_s']}/s, relay "
        f"{results['relay']['sustained_per_s']}/s; figures in {out}"
    )


@app.command("api")
def api(
    rates: str = typer.Option(
        "500,1000,2000,3000,4000,6000", help="Offered requests a second, in order."
    ),
    seconds: float = typer.Option(10.0, min=1, help="How long each rate is offered."),
    workers: str = typer.Option("1,2", help="uvicorn worker counts, one sweep each."),
    out: Path = typer.Option(Path("bench-results/api.json"), help="Where figures go."),
) -> None:
    """`POST /v1/notifications` (10 recipients) at rising open-loop rates: requests/s
    accepted, p50/p99 latency and CPU per request, per uvicorn worker count."""
    from lab.bench.api import run

    config = settings()
    counts = comma_ints(workers, "--workers")
    results = run(
        config,
        counts,
        comma_ints(rates, "--rates"),
        seconds,
        out,
        config.stack.home / "bench",
        typer.echo,
    )
    for count, best in results["best_meeting_p99_target_by_workers"].items():
        typer.echo(
            f"{count} worker(s): "
            + (
                "no rate met p99 < 50 ms"
                if best is None
                else f"{best['achieved_per_s']} requests/s at p99 {best['p99_ms']} ms"
            )
        )
    typer.echo(f"figures in {out}")


@app.command("sink")
def sink(
    events: int = typer.Option(200_000, min=1, help="Status events produced, then sunk."),
    out: Path = typer.Option(Path("bench-results/sink.json"), help="Where figures go."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics and keyspace."),
) -> None:
    """Status events a second one sink worker writes into Cassandra (a row per table)."""
    from lab.bench.sink import run

    config = settings()
    results = run(config, events, out, config.stack.home / "bench", typer.echo, keep=keep)
    typer.echo(
        f"sink: {results['events_per_s']} status events/s ({results['rows_per_s']} rows/s); "
        f"figures in {out}"
    )


@app.command("delivery")
def delivery(
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
    offered = comma_ints(rates, "--rates")
    from herald.progress import bar
    from lab.bench.delivery import run

    config = settings()
    results = run(
        config,
        offered,
        seconds,
        senders,
        sink_events,
        out,
        config.stack.home / "bench",
        typer.echo,
        keep=keep,
        progress=bar,
    )
    half = results["half_rate_step"] or {}
    drained = results["sink_drain"]
    typer.echo(
        f"delivery sustained {results['sustained_per_s']} messages/s; at half that: "
        f"p50 {half.get('p50_ms')} ms, p99 {half.get('p99_ms')} ms; sink drain "
        f"{drained['rows_per_s']} rows/s; figures in {out}"
    )


@app.command("campaign")
def campaign(
    recipients: int = typer.Option(1_000_000, min=1, help="Users the one request names."),
    out: Path = typer.Option(Path("bench-results/campaign.json"), help="Where figures go."),
    limit_s: float = typer.Option(3600, min=1, help="Give up after this long."),
    keep: bool = typer.Option(False, "--keep", help="Keep the run's topics, keys and keyspace."),
) -> None:
    """One request to N push recipients, from publication until every `sent` row is in
    Cassandra: the total time, each stage's rate, each process's CPU and peak memory, and a
    full count of the `sent` rows."""
    from herald.progress import bar
    from lab.bench.campaign import run

    config = settings()
    results = run(
        config,
        recipients,
        out,
        config.stack.home / "bench",
        typer.echo,
        limit_s=limit_s,
        keep=keep,
        progress=bar,
    )
    count = results["count"]
    typer.echo(
        f"campaign: {count['recipients_sent']} of {recipients} recipients sent in "
        f"{results['total_s']}s ({count['missing']} missing); figures in {out}"
    )
    took = results["endpoint_counts"]
    typer.echo(
        f"  the endpoint took {took['accepted']['fcm']} FCM pushes "
        f"(refused {took['refused']['fcm']})"
    )
    for stage, figures in results["stages"].items():
        typer.echo(
            f"  {stage:<14} {figures['sustained_per_s']}/s, done at {figures['finished_at_s']}s"
        )
    for name, figures in results["processes"].items():
        typer.echo(
            f"  {name:<18} cpu {figures['cpu_s']}s ({figures['cpu_us_per_item']} us/item), "
            f"peak rss {figures['peak_rss_mb']} MB"
        )


@app.command("endpoint")
def endpoint(
    configured: bool = typer.Option(False, "--configured", help=CONFIGURED_HELP),
) -> None:
    """Serve the benchmark provider endpoint in the foreground: FCM-, APNs-, SNS-, SES-,
    Twilio- and SMTP-shaped answers for a tenth of the sandbox's CPU or less, counted (GET
    /counts on the control port). Prints "endpoint ready" once every port listens; stops on
    SIGTERM or Ctrl-C. The behaviour tests keep `herald sandbox run`."""
    from lab.bench.endpoint.run import run_endpoint

    config = settings() if configured else on_the_profile(settings(), "endpoint")
    run_endpoint(config.delivery, say=typer.echo, ready_file=config.lifecycle.ready_file)


@app.command("plot")
def plot(
    figures: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="JSON from bench pipeline, delivery or campaign."
    ),
    out_dir: Path = typer.Option(Path("bench-results"), help="Where the PNGs go."),
) -> None:
    """A PNG per benchmark file, ``OUT_DIR/<file name>.png``: achieved against offered rate
    (pipeline: Herald and the relay; delivery: each channel), or a campaign's stages over time.
    Files of other benchmarks (the sink's) are skipped, and said so."""
    import json

    from lab.bench import plot as plots

    for path in figures:
        try:
            results = json.loads(path.read_text())
            written = plots.plot(results, out_dir / f"{path.stem}.png")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            typer.echo(f"{path} skipped: {type(exc).__name__}: {exc}", err=True)
            continue
        typer.echo(f"{plots.kind(results)} figures of {path} plotted in {written}")
