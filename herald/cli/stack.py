"""`herald stack ...`: the local stack (Kafka, Cassandra, the schema registry, Redis)."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import typer

from herald.cli.common import JSON_HELP, echo_json, settings
from herald.cli.db import say_migrated

if TYPE_CHECKING:
    from infra.stack.launcher import ServerStatus

app = typer.Typer(
    help="Run the local stack: Kafka, Cassandra, schema registry, Redis.", no_args_is_help=True
)


def _megabytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MB"


def print_status(statuses: list[ServerStatus]) -> None:
    typer.echo(f"{'server':<10} {'state':<9} {'address':<22} {'pid':>8} {'memory':>9}")
    for status in statuses:
        typer.echo(
            f"{status.name:<10} {status.state:<9} {status.address:<22} "
            f"{status.pid or '-':>8} {_megabytes(status.rss_bytes):>9}"
        )


@app.command("up")
def up() -> None:
    """Fetch the servers on first use, start them, wait until each answers, then apply the
    Cassandra migrations (`herald db migrate`)."""
    from herald.migrate import apply_migrations
    from herald.progress import bar
    from infra.stack.launcher import Stack

    started = time.monotonic()
    config = settings()
    print_status(Stack(config, say=typer.echo, progress=bar).up())
    say_migrated(config, apply_migrations(config.cassandra))  # the status history's tables
    typer.echo(f"stack up in {time.monotonic() - started:.1f}s")


@app.command("down")
def down(
    wipe: bool = typer.Option(False, "--wipe", help="Also remove the servers' data and logs."),
) -> None:
    """Stop the servers this stack started (and only those)."""
    from infra.stack.launcher import Stack

    Stack(settings(), say=typer.echo).down(wipe=wipe)


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Show each server's state, address and memory; exit 1 unless all are healthy."""
    from infra.stack.launcher import Stack

    statuses = Stack(settings(), say=typer.echo).status()
    if as_json:
        echo_json([dataclasses.asdict(s) | {"state": s.state} for s in statuses])
    else:
        print_status(statuses)
    if not all(s.ready for s in statuses):
        raise typer.Exit(code=1)


@app.command("logs")
def logs(
    server: str = typer.Argument(..., help="kafka, cassandra, registry or redis"),
    lines: int = typer.Option(50, "--lines", "-n", min=1, help="How many lines from the end."),
) -> None:
    """Print the end of one server's log."""
    from infra.stack.launcher import Stack
    from infra.stack.process import tail

    path = Stack(settings()).log_file(server)
    typer.echo(f"==> {path}")
    typer.echo(tail(path, lines), nl=False)
