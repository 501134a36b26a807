"""`herald db migrate`: the status history's schema in Cassandra."""

from __future__ import annotations

import typer

from herald.cli.common import fail, settings
from herald.errors import HeraldError
from herald.settings import HeraldSettings

db_app = typer.Typer(help="The Cassandra schema of the status history.", no_args_is_help=True)


def apply_migrations(config: HeraldSettings) -> list[str]:
    """Connect, apply the pending migrations, disconnect; the names of those applied."""
    from connectors.sink.migrate import migrate
    from herald.cassandra import CASSANDRA_ERRORS, cassandra_cluster

    cluster = cassandra_cluster(config.cassandra)
    try:
        session = cluster.connect()
    except CASSANDRA_ERRORS as exc:
        raise HeraldError(f"connecting to Cassandra: {exc}") from exc
    try:
        return migrate(session, config.cassandra)
    finally:
        cluster.shutdown()


def say_migrated(config: HeraldSettings, applied: list[str]) -> None:
    keyspace = config.cassandra.keyspace
    for name in applied:
        typer.echo(f"applied {name} to keyspace {keyspace}")
    if not applied:
        typer.echo(f"keyspace {keyspace} is up to date: nothing to apply")


@db_app.command("migrate")
def db_migrate() -> None:
    """Create the keyspace if needed and apply the pending CQL migrations, in order."""
    config = settings()
    try:
        applied = apply_migrations(config)
    except HeraldError as error:
        raise fail(error) from error
    say_migrated(config, applied)
