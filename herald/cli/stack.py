"""`herald stack ...`: the local stack."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from herald.cli.common import fail as _fail
from herald.cli.common import settings as _settings
from herald.cli.db import say_migrated
from herald.errors import HeraldError

if TYPE_CHECKING:
    from infra.stack.launcher import ServerStatus

stack_app = typer.Typer(
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


@stack_app.command("up")
def stack_up() -> None:
    """Fetch the servers on first use, start them, wait until each answers, then apply the
    Cassandra migrations (`herald db migrate`)."""
    from connectors.sink.migrate import apply_migrations  # the driver: only when needed
    from infra.stack.launcher import Stack

    started = time.monotonic()
    config = _settings()
    try:
        print_status(Stack(config, say=typer.echo).up())
        say_migrated(config, apply_migrations(config.cassandra))  # the status history's tables
    except HeraldError as error:
        raise _fail(error) from error
    typer.echo(f"stack up in {time.monotonic() - started:.1f}s")


@stack_app.command("down")
def stack_down(
    wipe: bool = typer.Option(False, "--wipe", help="Also remove the servers' data and logs."),
) -> None:
    """Stop the servers this stack started (and only those)."""
    from infra.stack.launcher import Stack

    try:
        Stack(_settings(), say=typer.echo).down(wipe=wipe)
    except HeraldError as error:
        raise _fail(error) from error


@stack_app.command("status")
def stack_status() -> None:
    """Show each server's state, address and memory; exit 1 unless all are healthy."""
    from infra.stack.launcher import Stack

    statuses = Stack(_settings(), say=typer.echo).status()
    print_status(statuses)
    if not all(status.ready for status in statuses):
        raise typer.Exit(code=1)


@stack_app.command("logs")
def stack_logs(
    server: str = typer.Argument(..., help="kafka, cassandra, registry or redis"),
    lines: int = typer.Option(50, "--lines", "-n", help="How many lines from the end."),
) -> None:
    """Print the end of one server's log."""
    from infra.stack.launcher import Stack

    try:
        path: Path = Stack(_settings()).log_file(server)
    except HeraldError as error:
        raise _fail(error) from error
    from infra.stack.process import tail

    typer.echo(f"==> {path}")
    typer.echo(tail(path, lines), nl=False)
