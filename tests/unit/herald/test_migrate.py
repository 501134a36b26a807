"""Reading the migration files: order, names, statements."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.errors import ConfigurationError
from herald.migrate import MigrationError, keyspace_name, load, split_statements
from herald.settings import CassandraSettings


def test_statements_are_split_and_comments_dropped() -> None:
    text = (
        "-- a comment; with a semicolon\nCREATE TABLE a (x int PRIMARY KEY);\n\n"
        "DROP TABLE b; -- end\n"
    )
    assert split_statements(text) == ("CREATE TABLE a (x int PRIMARY KEY)", "DROP TABLE b")


def test_the_shipped_migrations_are_in_version_order() -> None:
    migrations = load()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].name == "0001_status_tables"
    tables = " ".join(migrations[0].statements)
    assert "{keyspace}.notification_status" in tables
    assert "{keyspace}.user_notifications" in tables


def test_files_must_be_numbered(tmp_path: Path) -> None:
    (tmp_path / "add_tables.cql").write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        load(tmp_path)


def test_versions_must_be_unique(tmp_path: Path) -> None:
    (tmp_path / "0001_a.cql").write_text("SELECT 1;")
    (tmp_path / "0001_b.cql").write_text("SELECT 1;")
    with pytest.raises(MigrationError):
        load(tmp_path)


def test_keyspace_must_be_an_identifier() -> None:
    assert keyspace_name(CassandraSettings(keyspace="herald_1")) == "herald_1"
    with pytest.raises(ConfigurationError):
        keyspace_name(CassandraSettings(keyspace="herald; DROP KEYSPACE x"))
