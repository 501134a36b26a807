"""Settings, read once by an entry point and handed down; no component reads the environment.

Every field can be set through the environment with the ``HERALD_`` prefix and ``__`` between
levels, e.g. ``HERALD_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or ``HERALD_STACK__KAFKA_HEAP=1g``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from herald.errors import ConfigurationError
from herald.models import Channel


def _xdg(var: str, fallback: str) -> Path:
    # Only the defaults of the stack's directories look at XDG variables, the way every
    # desktop tool does; components still receive the resolved paths.
    import os

    return Path(os.environ.get(var) or Path.home() / fallback)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostPort(_Frozen):
    host: str
    port: int


def split_host_port(address: str, default_port: int) -> HostPort:
    """``"127.0.0.1:9092"`` -> HostPort; a bare host takes the default port."""
    host, sep, port = address.strip().rpartition(":")
    if not sep:
        return HostPort(host=address.strip(), port=default_port)
    if not port.isdigit():
        raise ConfigurationError(f"{address!r} is not host:port")
    return HostPort(host=host.strip("[]"), port=int(port))


class KafkaSettings(_Frozen):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = "herald."
    # Extra librdkafka options for every client (security.protocol, sasl.*, ...).
    client_options: dict[str, str] = Field(default_factory=dict)
    sasl_password: SecretStr | None = None

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """A confluent-kafka configuration dict: bootstrap, shared options, then overrides."""
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers}
        config.update(self.client_options)
        if self.sasl_password is not None:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        config.update(overrides)
        return config

    @property
    def first_broker(self) -> HostPort:
        return split_host_port(self.bootstrap_servers.split(",")[0], 9092)


class RegistrySettings(_Frozen):
    # Apicurio serves the Confluent-compatible API under /apis/ccompat/v7.
    url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    basic_auth: SecretStr | None = None  # "user:password"

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"url": self.url}
        if self.basic_auth is not None:
            config["basic.auth.user.info"] = self.basic_auth.get_secret_value()
        return config


class CassandraSettings(_Frozen):
    contact_points: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    port: int = 9042
    keyspace: str = "herald"
    replication_factor: int = 1
    username: str | None = None
    password: SecretStr | None = None


class RedisSettings(_Frozen):
    url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")

    @property
    def address(self) -> HostPort:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url.get_secret_value())
        return HostPort(host=parts.hostname or "127.0.0.1", port=parts.port or 6379)


class StackSettings(_Frozen):
    """The local stack: where it keeps servers, data and logs, and what it runs them with.

    The client-facing addresses come from the Kafka, registry, Cassandra and Redis settings,
    so the stack always starts servers exactly where Herald's clients will look for them.
    """

    home: Path = Field(default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "herald")
    cache: Path = Field(default_factory=lambda: _xdg("XDG_CACHE_HOME", ".cache") / "herald")
    kafka_version: str = "4.1.1"
    log4j_version: str = "2.24.3"
    cassandra_version: str = "5.0.6"
    registry_version: str = "3.0.9"
    kafka_controller_port: int = 9093
    cassandra_storage_port: int = 7000
    cassandra_jmx_port: int = 7199
    kafka_heap: str = "512m"
    cassandra_heap: str = "1g"
    registry_heap: str = "384m"
    java: str = "java"
    maven: str = "mvn"
    allow_apt: bool = True
    start_timeout_s: float = 180.0


def _default_limits() -> dict[Channel, int]:
    return {Channel.PUSH: 10, Channel.SMS: 3, Channel.EMAIL: 20}


class PipelineSettings(_Frozen):
    """How the pipeline decides: topics, limits, templates."""

    partitions: int = 6  # of the per-user, preference, contact and channel topics
    replication_factor: int = 1
    worker_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "herald" / "workers"
    )
    # The repository's templates/ (next to the packages), wherever the worker is started from.
    templates_dir: Path = Path(__file__).resolve().parent.parent / "templates"
    mandatory_categories: frozenset[str] = frozenset({"security"})
    rate_limits: dict[Channel, int] = Field(default_factory=_default_limits)  # per window
    category_rate_limits: dict[str, dict[Channel, int]] = Field(default_factory=dict)
    rate_window_s: int = 3600
    max_recipients: int = 100_000
    max_data_bytes: int = 64 * 1024
    max_sms_segments: int = 6
    dedupe_ttl_s: int = 7 * 24 * 3600
    deferred_poll_s: float = 1.0
    # A worker that dies is noticed after this long, and its partitions move to the others.
    session_timeout_s: float = 10.0
    producer_linger_ms: int = 10


class HeraldSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    def with_prefix(self, prefix: str) -> HeraldSettings:
        """The same settings on another topic prefix (a demo run, a test, a benchmark)."""
        return self.model_copy(
            update={"kafka": self.kafka.model_copy(update={"topic_prefix": prefix})}
        )
