"""Settings, read once by an entry point and handed down; no component reads the environment.

Every field can be set through the environment with the ``HERALD_`` prefix and ``__`` between
levels, e.g. ``HERALD_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or ``HERALD_STACK__KAFKA_HEAP=1g``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from herald.errors import ConfigurationError
from herald.models import Channel


def _xdg(var: str, fallback: str) -> Path:
    # Only the defaults of the stack's directories look at XDG variables, the way every
    # desktop tool does; components still receive the resolved paths.
    import os

    return Path(os.environ.get(var) or Path.home() / fallback)


def _package_data(package: str) -> Path:
    """The folder of files installed with ``package`` (a wheel installs them as files)."""
    from importlib import resources

    return Path(str(resources.files(package)))


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
    # Per request: the client's own default is none, so a hung registry would hang a worker.
    timeout_s: float = Field(default=10.0, gt=0)

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"url": self.url, "timeout": self.timeout_s}
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
    # The native protocol version; set so the driver does not probe newer ones first.
    protocol_version: int = 5


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


class AgentBatch(_Frozen):
    """The fan-out and decide agents take up to ``size`` events at a time (requests, or
    shards of up to ``shard_size`` users), waiting at most ``within_s`` for a batch to fill;
    a batch ends once the broker confirmed everything it produced. Each confirmation leaves the
    worker idle for a broker round trip, so batches are large: in `bench pipeline` (requests of
    100) 100 events and 20 ms sustained 4,000/s, 500 and 50 ms 6,000/s."""

    size: int = Field(default=500, ge=1)
    within_s: float = Field(default=0.05, gt=0)


class PipelineSettings(_Frozen):
    """How the pipeline decides: topics, limits, templates."""

    partitions: int = 6  # of the per-user, preference, contact and channel topics
    replication_factor: int = 1
    worker_dir: Path = Field(
        default_factory=lambda: _xdg("XDG_DATA_HOME", ".local/share") / "herald" / "workers"
    )
    # The default templates installed with Herald (package data), unless set.
    templates_dir: Path = Field(default_factory=lambda: _package_data("herald.templates"))
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
    # Recipients of one request per record on the per-user topic (streams/shards.py).
    shard_size: int = Field(default=500, ge=1)
    batch: AgentBatch = Field(default_factory=AgentBatch)


def _sandbox_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "herald" / "sandbox"


UNLIMITED_RATE = 1_000_000.0  # calls a second: a provider limit this high is no limit


class ProviderLimits(_Frozen):
    """What one provider account allows; shared by every sender worker through Redis."""

    rate_per_s: float = 1000.0  # token bucket refill; UNLIMITED_RATE or more: no bucket
    burst: int = 200
    timeout_s: float = 5.0  # per call
    # Circuit breaker: this many failures within the window open it for the cooldown.
    breaker_failures: int = 5
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 15.0

    @property
    def limited(self) -> bool:
        """False when the rate is so high the bucket would never hold a call back: the
        senders then skip it (no Redis call)."""
        return self.rate_per_s < UNLIMITED_RATE


# Providers have no working defaults: production endpoints, and no credentials. A sender
# whose channel has a provider without its settings refuses to start and names the missing
# one (connectors.registry); `delivery.disabled` switches a provider off. The demo, tests and
# benchmarks fill these in from the sandbox profile (lab.sandboxes.config).


class FcmSettings(_Frozen):
    endpoint: str = "https://fcm.googleapis.com"
    project_id: str | None = None
    # A Google service-account JSON (client_email, private_key, token_uri).
    service_account_file: Path | None = None
    limits: ProviderLimits = Field(default_factory=ProviderLimits)


class ApnsSettings(_Frozen):
    endpoint: str = "https://api.push.apple.com"
    team_id: str | None = None
    key_id: str | None = None
    key_file: Path | None = None  # the ES256 signing key (.p8, PEM)
    bundle_id: str | None = None
    ca_file: Path | None = None  # None: verify against the system's certificates
    limits: ProviderLimits = Field(default_factory=ProviderLimits)


class AwsSettings(_Frozen):
    endpoint_url: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    # True: no keys here; boto3 finds them (environment, profile, instance role).
    default_credentials: bool = False
    sms_limits: ProviderLimits = Field(default_factory=ProviderLimits)
    email_limits: ProviderLimits = Field(default_factory=ProviderLimits)
    ses_from: str | None = None
    # SES events through SNS (POST /v1/receipts/ses): the topics whose notifications are taken
    # (none: SES receipts are refused), and where SNS signing certificates and subscription
    # confirmations may be fetched from (a regular expression; AWS's own hosts)
    ses_event_topics: frozenset[str] = frozenset()
    sns_urls: str = r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/"
    # SNS SMS type: Promotional for these categories and low priority, else Transactional.
    sms_promotional_categories: frozenset[str] = frozenset({"marketing"})


class TwilioSettings(_Frozen):
    endpoint: str = "https://api.twilio.com"
    account_sid: str | None = None
    auth_token: SecretStr | None = None
    from_number: str | None = None
    # Each message asks for status callbacks at links.base_url's /v1/receipts/twilio
    status_callbacks: bool = True
    limits: ProviderLimits = Field(default_factory=ProviderLimits)


class SmtpSettings(_Frozen):
    host: str | None = None
    port: int = 587
    starttls: bool = True
    username: str | None = None  # None: no AUTH
    password: SecretStr | None = None
    ca_file: Path | None = None  # None: verify against the system's certificates
    from_address: str | None = None
    limits: ProviderLimits = Field(default_factory=ProviderLimits)


class DeliverySettings(_Frozen):
    """How senders deliver: providers, retries, idempotency."""

    fcm: FcmSettings = Field(default_factory=FcmSettings)
    apns: ApnsSettings = Field(default_factory=ApnsSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    # Providers per channel, primary first; the next one takes over while a breaker is open.
    # Push picks by the device's platform (ios: apns, android and web: fcm) instead.
    sms_providers: tuple[str, ...] = ("sns", "twilio")
    email_providers: tuple[str, ...] = ("smtp", "ses")
    disabled: frozenset[str] = frozenset()  # providers switched off, e.g. {"ses"}
    max_attempts: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    in_flight: int = 64  # provider calls in flight per sender worker
    batch_size: int = 500  # records a sender worker takes from Kafka (and retries) per round
    poll_s: float = 0.5  # how long a round waits for records before looking at due retries
    # Once a record is there, how much longer a round waits to fill up (fewer, fuller rounds).
    linger_s: float = 0.02
    ledger_ttl_s: int = 7 * 24 * 3600
    # An in-flight ledger entry older than this belongs to a sender that died mid-call.
    in_flight_stale_s: float = 60.0
    # List-Unsubscribe for non-mandatory categories: a signed one-click link of `herald api`
    # (links.base_url, links.secret) and, if set, this mailbox (which Herald does not read).
    unsubscribe_mailto: str | None = "unsubscribe@herald.example"
    sandbox_dir: Path = Field(default_factory=_sandbox_dir)
    # The provider sandboxes' control API (`herald sandbox run`): what arrived, faults to inject.
    sandbox_control: str = "http://127.0.0.1:8475"


class SinkSettings(_Frozen):
    """The status sink: herald.status into Cassandra."""

    batch_size: int = 2000  # records per poll
    poll_s: float = 0.5  # the longest a poll waits for a first record
    linger_s: float = 0.02  # once one is there, how much longer it waits to fill the batch
    concurrency: int = 256  # writes in flight
    retry_backoff_max_s: float = 10.0
    day_bucket_tz: str = "UTC"


class LifecycleSettings(_Frozen):
    """How a worker tells that it is ready: it creates ``ready_file`` once it consumes (a
    parent process, or a container's readiness probe, waits for it). None: it does not."""

    ready_file: Path | None = None


class MetricsSettings(_Frozen):
    """Prometheus metrics of the sender and sink workers (`--metrics-port` overrides port)."""

    port: int | None = None  # None: not served; 0: a free port, printed at start
    host: str = "127.0.0.1"  # 0.0.0.0 to be scraped from other machines


class ApiSettings(_Frozen):
    """`herald api`: the HTTP front door."""

    host: str = "127.0.0.1"  # 0.0.0.0 to serve other machines
    port: int = 8480
    workers: int = Field(default=1, ge=1)  # uvicorn processes
    # How long a publish waits for the broker's confirmation before the answer is a 503.
    publish_timeout_s: float = Field(default=10.0, gt=0)
    # How long the producer gathers records into one batch: fewer produce requests and
    # confirmations to serve under load, for at most this much added latency.
    publish_linger_ms: float = Field(default=5.0, ge=0)
    idempotency_ttl_s: int = 24 * 3600  # how long a key's first answer is kept
    key_cache_s: float = 5.0  # how long a looked-up API key is trusted (a revocation's delay)
    history_days: int = Field(default=30, ge=1)  # how far back a user's history is listed
    page_size_max: int = 500
    # a receipt for a provider message id not (yet) recorded by its sender waits this long
    # for it, then is dead-lettered
    receipt_match_wait_s: float = Field(default=5.0, ge=0)
    receipt_once_ttl_s: int = 30 * 24 * 3600  # how long a receipt's event is remembered


class LinkSettings(_Frozen):
    """Signed links for end users (herald.links): one-click unsubscribe, the preference centre,
    and the tokens of push opens (``POST /v1/events``)."""

    base_url: str = "http://127.0.0.1:8480"  # where end users reach `herald api`
    secret: SecretStr | None = None  # HS256 key, 32 bytes or more; no default
    unsubscribe_ttl_s: int = Field(default=180 * 24 * 3600, gt=0)  # a link works this long
    events_ttl_s: int = Field(default=90 * 24 * 3600, gt=0)  # an open can be reported this long
    preferences_ttl_s: int = Field(default=30 * 24 * 3600, gt=0)  # a preference centre link
    # the categories the preference centre offers, with their labels for people; the
    # mandatory ones are shown as always on, and any other a user left is shown too
    categories: dict[str, str] = Field(
        default_factory=lambda: {
            "transactional": "Orders, payments and your account",
            "marketing": "Offers and news",
            "digest": "Digests and summaries",
            "security": "Security alerts",
        }
    )


SETTINGS_FILE = "HERALD_SETTINGS_FILE"
T = TypeVar("T")


def required(value: T | None, setting: str) -> T:
    """``value``, which a component cannot work without; ``setting`` names its variable."""
    if value is None:
        raise ConfigurationError(f"{setting} is not set")
    return value


class HeraldSettings(BaseSettings):
    """Every setting. Read from ``HERALD_*`` variables, or whole from the JSON file that
    ``HERALD_SETTINGS_FILE`` names (what ``serialized`` writes: how the demo, tests and
    benchmarks hand their exact settings to the processes they start)."""

    model_config = SettingsConfigDict(
        env_prefix="HERALD_", env_nested_delimiter="__", frozen=True, extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    cassandra: CassandraSettings = Field(default_factory=CassandraSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    stack: StackSettings = Field(default_factory=StackSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    sink: SinkSettings = Field(default_factory=SinkSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    links: LinkSettings = Field(default_factory=LinkSettings)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        named = os.environ.get(SETTINGS_FILE)
        if not named:
            return init_settings, env_settings, dotenv_settings, file_secret_settings
        if not Path(named).is_file():
            raise ConfigurationError(f"{SETTINGS_FILE} names {named}, which is not a file")
        # The file is the whole settings object: it wins over the environment.
        serialized = JsonConfigSettingsSource(settings_cls, json_file=Path(named))
        return init_settings, serialized, env_settings

    def with_prefix(self, prefix: str) -> HeraldSettings:
        """The same settings on another topic prefix (a demo run, a test, a benchmark)."""
        return self.updated(kafka={"topic_prefix": prefix})

    def updated(self, **sections: dict[str, Any]) -> HeraldSettings:
        """These settings with some fields replaced, at any depth, each section checked again:
        ``settings.updated(cassandra={"keyspace": "k"}, delivery={"fcm": {"limits": {...}}})``.
        """
        update = {}
        for name, values in sections.items():
            section = getattr(self, name)
            update[name] = type(section).model_validate(_merged(section.model_dump(), values))
        return self.model_copy(update=update)


def _merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_settings() -> HeraldSettings:
    """The settings an entry point runs on; a value that does not fit is a
    ``ConfigurationError`` naming the variable and the problem, never the value (it may be a
    secret)."""
    from pydantic import ValidationError

    try:
        return HeraldSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"HERALD_{'__'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)
        )
        raise ConfigurationError(f"settings: {problems}") from None


def _plain(value: Any) -> Any:
    """A settings value as JSON holds it, secrets revealed."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def serialized(settings: HeraldSettings) -> str:
    """``settings`` as JSON, secrets included: write it only to a private file."""
    import json

    return json.dumps(_plain(settings.model_dump()), indent=2, sort_keys=True)
