"""Versioned CQL migrations: ``migrations/NNNN_name.cql``, applied in order, each once.

Applied versions are recorded in the keyspace's ``schema_migrations`` table. Statements use
``IF NOT EXISTS`` so that a migration cut short (or run by two migrators at once) can simply
be applied again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cassandra.cluster import Session

from herald.cassandra import CASSANDRA_ERRORS, cassandra_cluster
from herald.errors import CassandraOutage, ConfigurationError, HeraldError
from herald.settings import CassandraSettings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_FILE = re.compile(r"^(\d{4})_(\w+)\.cql$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


class MigrationError(HeraldError):
    """A migration could not be read or applied."""


@dataclass(frozen=True)
class Migration:
    version: str  # "0001"
    name: str  # "0001_status_tables"
    statements: tuple[str, ...]


def split_statements(text: str) -> tuple[str, ...]:
    """CQL statements of a file: ``--`` comments dropped, split on ``;``."""
    lines = [line.split("--", 1)[0] for line in text.splitlines()]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def load(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration in the directory, in version order."""
    found = []
    for path in sorted(directory.glob("*.cql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migrations are named NNNN_name.cql")
        found.append(Migration(match.group(1), path.stem, split_statements(path.read_text())))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version in {directory}")
    return found


def keyspace_name(settings: CassandraSettings) -> str:
    if not _IDENTIFIER.match(settings.keyspace):
        raise ConfigurationError(f"keyspace {settings.keyspace!r} is not a CQL identifier")
    return settings.keyspace


def _bootstrap(session: Session, keyspace: str, replication_factor: int) -> None:
    session.execute(
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {int(replication_factor)}}}"
    )
    session.execute(
        f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations "
        "(version text PRIMARY KEY, name text, applied_at timestamp)"
    )


def applied(session: Session, keyspace: str) -> set[str]:
    query = f"SELECT version FROM {keyspace}.schema_migrations"  # noqa: S608 - an identifier
    rows = session.execute(query)
    return {row.version for row in rows}


def pending(
    session: Session, settings: CassandraSettings, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Names of the migrations not applied yet (all of them when the keyspace is new)."""
    keyspace = keyspace_name(settings)
    described = session.cluster.metadata.keyspaces.get(keyspace)
    done: set[str] = set()
    if described is not None and "schema_migrations" in described.tables:
        try:
            done = applied(session, keyspace)
        except CASSANDRA_ERRORS as exc:
            raise MigrationError(f"reading {keyspace}.schema_migrations: {exc}") from exc
    return [m.name for m in load(directory) if m.version not in done]


def migrate(
    session: Session, settings: CassandraSettings, directory: Path = MIGRATIONS_DIR
) -> list[str]:
    """Create the keyspace if needed and apply the pending migrations in order; return the
    names of those applied now (empty when the schema was up to date)."""
    keyspace = keyspace_name(settings)
    try:
        _bootstrap(session, keyspace, settings.replication_factor)
        done = applied(session, keyspace)
        ran = []
        for migration in load(directory):
            if migration.version in done:
                continue
            for statement in migration.statements:
                session.execute(statement.replace("{keyspace}", keyspace))
            session.execute(
                f"INSERT INTO {keyspace}.schema_migrations (version, name, applied_at) "  # noqa: S608
                "VALUES (%s, %s, %s)",
                (migration.version, migration.name, datetime.now(UTC)),
            )
            ran.append(migration.name)
    except CASSANDRA_ERRORS as exc:
        raise MigrationError(f"migrating keyspace {keyspace}: {exc}") from exc
    return ran


def apply_migrations(settings: CassandraSettings) -> list[str]:
    """Connect, apply the pending migrations, disconnect; the names of those applied."""
    cluster = cassandra_cluster(settings)
    try:
        session = cluster.connect()
    except CASSANDRA_ERRORS as exc:
        raise CassandraOutage(f"connecting to Cassandra: {exc}") from exc
    try:
        return migrate(session, settings)
    finally:
        cluster.shutdown()
