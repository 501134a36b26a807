"""Writing history rows to Cassandra: prepared inserts, many in flight at once, and the
writes that did not succeed kept aside to be retried (inserts are idempotent)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType, BoundStatement, PreparedStatement

from connectors.sink.rows import (
    REQUEST_COLUMNS,
    STATUS_COLUMNS,
    USER_COLUMNS,
    Key,
    batch_groups,
    params_size,
    request_params,
    status_params,
    user_params,
)
from herald.cassandra import CASSANDRA_ERRORS
from herald.errors import CassandraOutage, ConfigurationError
from herald.history import REQUEST_TABLE, STATUS_TABLE, USER_TABLE, StatusRow

Write = tuple[BoundStatement | BatchStatement, tuple[()]]


class SinkUnavailable(CassandraOutage):
    """Cassandra did not take every write; ``remaining`` are the ones to try again."""

    def __init__(self, remaining: list[Write], cause: BaseException) -> None:
        super().__init__(f"{len(remaining)} write(s) failed: {type(cause).__name__}: {cause}")
        self.remaining = remaining


def request_kinds(writes: Sequence[Write]) -> tuple[int, int]:
    """How many of ``writes`` are batches, and how many single inserts."""
    batches = sum(isinstance(statement, BatchStatement) for statement, _ in writes)
    return batches, len(writes) - batches


def insert_cql(keyspace: str, table: str, columns: Sequence[str], *, timed: bool = False) -> str:
    """An insert of ``columns``; ``timed``: its write timestamp bound last."""
    marks = ", ".join("?" for _ in columns)
    using = " USING TIMESTAMP ?" if timed else ""
    return f"INSERT INTO {keyspace}.{table} ({', '.join(columns)}) VALUES ({marks}){using}"  # noqa: S608


class StatusStore:
    """The history tables of one keyspace (already migrated)."""

    def __init__(self, session: Session, keyspace: str, concurrency: int) -> None:
        self._session = session
        self._metadata = session.cluster.metadata
        self._keyspace = keyspace
        self._concurrency = concurrency
        try:
            self._status = session.prepare(insert_cql(keyspace, STATUS_TABLE, STATUS_COLUMNS))
            self._user = session.prepare(insert_cql(keyspace, USER_TABLE, USER_COLUMNS))
            self._request = session.prepare(
                insert_cql(keyspace, REQUEST_TABLE, REQUEST_COLUMNS, timed=True)
            )
        except CASSANDRA_ERRORS as exc:
            raise ConfigurationError(
                f"preparing the sink's inserts on {keyspace}: {exc} "
                "(has `herald db migrate` run on this keyspace?)"
            ) from exc

    def writes(self, rows: Sequence[StatusRow]) -> list[Write]:
        """Three inserts per row: its notification's timeline, its user's day and its
        request's outcome. Rows whose
        partitions live on the same replicas go together in small unlogged batches: one
        request instead of many, and no coordinator forwarding (each driver request costs far
        more client CPU than a row in a batch)."""
        return [
            *self._grouped(self._status, [status_params(r) for r in rows]),
            *self._grouped(self._user, [user_params(r) for r in rows]),
            *self._grouped(self._request, [request_params(r) for r in rows]),
        ]

    def _grouped(self, insert: PreparedStatement, params: list[Key]) -> list[Write]:
        sized = [(insert.bind(p), params_size(p)) for p in params]
        result: list[Write] = []
        for group in batch_groups(sized, self._replicas, lambda item: item[1]):
            if len(group) == 1:
                result.append((group[0][0], ()))
                continue
            batch = BatchStatement(BatchType.UNLOGGED)
            for statement, _ in group:
                batch.add(statement)
            result.append((batch, ()))
        return result

    def _replicas(self, item: tuple[BoundStatement, int]) -> Hashable:
        hosts = self._metadata.get_replicas(self._keyspace, item[0].routing_key)
        return tuple(sorted(str(host.endpoint) for host in hosts))

    def write(self, writes: list[Write]) -> None:
        """Execute every write, ``concurrency`` in flight; raise ``SinkUnavailable`` with the
        ones that failed (the others are done)."""
        if not writes:
            return
        outcomes = execute_concurrent(
            self._session, writes, concurrency=self._concurrency, raise_on_first_error=False
        )
        failed: list[Write] = []
        cause: Any = None
        for write, (ok, result) in zip(writes, outcomes, strict=True):
            if not ok:
                failed.append(write)
                cause = result
        if failed:
            raise SinkUnavailable(failed, cause)
