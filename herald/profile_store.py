"""Users' latest preferences and contacts in Cassandra (``user_profiles``): what the HTTP API
reads. Written by the API after the broker confirmed a profile record, and by the sink for
every record of the profile topics; each write carries the Kafka record's timestamp, so the
newer record wins in any order."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from cassandra.cluster import Session
from cassandra.query import BoundStatement

from herald.cassandra import CASSANDRA_ERRORS
from herald.errors import Boundary, CassandraOutage
from herald.migrate import keyspace_name
from herald.models import UserContacts, UserPreferences
from herald.settings import CassandraSettings

PROFILE_TABLE = "user_profiles"
CASSANDRA = Boundary(CassandraOutage, CASSANDRA_ERRORS)
P = TypeVar("P", UserPreferences, UserContacts)


class ProfileKind(StrEnum):
    PREFERENCES = "preferences"
    CONTACTS = "contacts"


KIND_OF: dict[type, ProfileKind] = {
    UserPreferences: ProfileKind.PREFERENCES,
    UserContacts: ProfileKind.CONTACTS,
}


@dataclass(frozen=True, slots=True)
class Stored(Generic[P]):
    profile: P
    updated_at: datetime


def body_of(profile: UserPreferences | UserContacts) -> str:
    return json.dumps(profile.to_record(), sort_keys=True, separators=(",", ":"))


def write_time(timestamp_ms: int) -> int:
    """A Kafka record's timestamp as a Cassandra write time (µs)."""
    return timestamp_ms * 1000


class ProfileStore:
    """``user_profiles`` of one keyspace (already migrated), its statements prepared once."""

    def __init__(self, session: Session, keyspace: str) -> None:
        space = keyspace_name(CassandraSettings(keyspace=keyspace))
        self._session = session
        with CASSANDRA:
            self._insert = session.prepare(
                f"INSERT INTO {space}.{PROFILE_TABLE} (user_id, kind, body, updated_at) "  # noqa: S608
                "VALUES (?, ?, ?, ?) USING TIMESTAMP ?"
            )
            self._delete = session.prepare(
                f"DELETE FROM {space}.{PROFILE_TABLE} USING TIMESTAMP ? "  # noqa: S608
                "WHERE user_id = ? AND kind = ?"
            )
            self._select = session.prepare(
                f"SELECT body, updated_at FROM {space}.{PROFILE_TABLE} "  # noqa: S608
                "WHERE user_id = ? AND kind = ?"
            )

    @staticmethod
    def updated_at(timestamp_ms: int) -> datetime:
        """A record's timestamp as ``updated_at`` (ms, as Cassandra keeps it)."""
        return datetime.fromtimestamp(timestamp_ms / 1000, UTC)

    def put_statement(
        self, profile: UserPreferences | UserContacts, timestamp_ms: int
    ) -> BoundStatement:
        updated_at = self.updated_at(timestamp_ms)
        kind = KIND_OF[type(profile)].value
        return self._insert.bind(
            (profile.user_id, kind, body_of(profile), updated_at, write_time(timestamp_ms))
        )

    def delete_statement(
        self, user_id: str, kind: ProfileKind, timestamp_ms: int
    ) -> BoundStatement:
        return self._delete.bind((write_time(timestamp_ms), user_id, kind.value))

    def put(self, profile: UserPreferences | UserContacts, timestamp_ms: int) -> None:
        with CASSANDRA:
            self._session.execute(self.put_statement(profile, timestamp_ms))

    def get(self, kind: type[P], user_id: str) -> Stored[P] | None:
        with CASSANDRA:
            row = self._session.execute(self._select, (user_id, KIND_OF[kind].value)).one()
        if row is None:
            return None
        updated_at = row.updated_at.replace(tzinfo=UTC)
        return Stored(kind.from_record(json.loads(row.body)), updated_at)
