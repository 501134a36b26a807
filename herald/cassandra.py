"""Cassandra connections built from settings, one way for every component."""

from __future__ import annotations

from typing import Any

from cassandra import DriverException, OperationTimedOut
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

from herald.settings import CassandraSettings

# What the driver raises when a request fails: server errors, time-outs, no node reachable
# (the last two do not derive from DriverException).
CASSANDRA_ERRORS: tuple[type[Exception], ...] = (
    DriverException,
    OperationTimedOut,
    NoHostAvailable,
)


def cassandra_cluster(settings: CassandraSettings, **options: Any) -> Cluster:
    """A driver ``Cluster`` for the configured contact points; call ``connect()`` on it."""
    auth = None
    if settings.username and settings.password:
        auth = PlainTextAuthProvider(settings.username, settings.password.get_secret_value())
    return Cluster(
        settings.contact_points,
        port=settings.port,
        protocol_version=settings.protocol_version,
        auth_provider=auth,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy())
            )
        },
        **options,
    )
