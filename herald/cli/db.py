"""`herald db migrate`: the status history's schema in Cassandra."""

from __future__ import annotations

import typer

from herald.cli.common import settings
from herald.settings import HeraldSettings

app = typer.Typer(help="The Cassandra schema of the status history.", no_args_is_help=True)


def say_migrated(config: HeraldSettings, applied: list[str]) -> None:
    keyspace = config.cassandra.keyspace
    for name in applied:
        typer.echo(f"applied {name} to keyspace {keyspace}")
    if not applied:
        typer.echo(f"keyspace {keyspace} is up to date: nothing to apply")


@app.command("migrate")
def migrate() -> None:
    """Create the keyspace if needed and apply the pending CQL migrations, in order."""
    from herald.migrate import apply_migrations

    config = settings()
    say_migrated(config, apply_migrations(config.cassandra))
