"""Prometheus metrics of the sender and sink workers, each kind on its own registry.

A worker builds its metrics object (``SenderMetrics(channel)`` or ``SinkMetrics()``), which
registers its collectors on a fresh ``CollectorRegistry`` (never the process-wide one, so tests
and several workers in one process do not clash), and ``serve(registry, port, host)`` exposes
it over HTTP at ``/metrics``. The workers count in their I/O layer, where outcomes are already
decided; the pure modules stay pure. Labels are channels, provider names, outcomes and stages:
never an address, a token, a user or a notification id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from enum import StrEnum
from types import TracebackType
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from herald.analytics import RateCounter
from herald.errors import ConfigurationError
from herald.models import Channel, State

NO_PROVIDER = "none"  # the provider label of an outcome reached without a provider call
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000)
# Breaker phases (connectors.delivery.breaker.Phase values) as gauge values.
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class DeliveryOutcome(StrEnum):
    """What one take of a message led to (the ``outcome`` label of deliveries)."""

    SENT = "sent"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    UNKNOWN = "unknown"
    RETRY_SCHEDULED = "retry_scheduled"
    DUPLICATE_SKIPPED = "duplicate_skipped"  # the ledger had its outcome: not sent again
    DEFERRED_BREAKER_OPEN = "deferred_breaker_open"  # every provider's breaker open
    DEFERRED_BUSY = "deferred_busy"  # another call of it was under way


class CallResult(StrEnum):
    """How one provider call ended (the ``outcome`` label of call durations)."""

    OK = "ok"
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


def finished(state: State, recorded_now: bool) -> DeliveryOutcome:
    """The outcome of a delivery that reached a terminal state; ``recorded_now`` is False when
    the ledger already held another outcome (recorded by an earlier take of it)."""
    if not recorded_now:
        return DeliveryOutcome.DUPLICATE_SKIPPED
    return DeliveryOutcome(state.value)


def breaker_value(phase: str) -> int:
    return BREAKER_VALUES[phase]


class SenderMetrics:
    """One sender worker's metrics; every series carries its ``channel``."""

    def __init__(self, channel: str, *, served: bool = True) -> None:
        self.channel = channel
        # False: nobody scrapes them, so the worker samples no gauge that costs a Redis call
        self.served = served
        self.registry = CollectorRegistry()
        reg = self.registry
        self.deliveries = Counter(
            "herald_sender_deliveries",
            "Messages taken to an outcome, by provider and outcome.",
            ["channel", "provider", "outcome"],
            registry=reg,
        )
        self.rejected = Counter(
            "herald_sender_rejected_records",
            "Records dead-lettered before delivery: undecodable, undeliverable, unexpected.",
            ["channel", "reason"],
            registry=reg,
        )
        self.calls = Histogram(
            "herald_sender_provider_call_seconds",
            "Duration of provider calls, by how they ended.",
            ["channel", "provider", "outcome"],
            buckets=CALL_BUCKETS,
            registry=reg,
        )
        self.breaker = Gauge(
            "herald_sender_breaker_state",
            "Circuit breaker per provider: 0 closed, 1 half-open, 2 open (sampled each round).",
            ["channel", "provider"],
            registry=reg,
        )
        self.bucket_waits = Counter(
            "herald_sender_bucket_waits",
            "Provider calls that waited for a token of the provider's bucket.",
            ["channel", "provider"],
            registry=reg,
        )
        self.bucket_wait_seconds = Counter(
            "herald_sender_bucket_wait_seconds",
            "Seconds calls waited for tokens of the provider's bucket.",
            ["channel", "provider"],
            registry=reg,
        )
        self.retry_set = Gauge(
            "herald_sender_retry_set_size",
            "Messages waiting in the channel's retry set (sampled each round).",
            ["channel"],
            registry=reg,
        )
        self.batches = Histogram(
            "herald_sender_batch_size",
            "Messages a round took: from Kafka (source kafka) and due retries (source retry).",
            ["channel", "source"],
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.lag = Gauge(
            "herald_sender_consumer_lag",
            "Records on this worker's partitions past what it has taken (after each round).",
            ["channel"],
            registry=reg,
        )

    def delivery(self, provider: str | None, outcome: DeliveryOutcome) -> None:
        self.deliveries.labels(self.channel, provider or NO_PROVIDER, outcome.value).inc()

    def rejected_record(self, reason: str) -> None:
        self.rejected.labels(self.channel, reason).inc()

    def provider_call(self, provider: str, result: CallResult, seconds: float) -> None:
        self.calls.labels(self.channel, provider, result.value).observe(seconds)

    def bucket_wait(self, provider: str, seconds: float) -> None:
        if seconds > 0:
            self.bucket_waits.labels(self.channel, provider).inc()
            self.bucket_wait_seconds.labels(self.channel, provider).inc(seconds)

    def breaker_phase(self, provider: str, phase: str) -> None:
        self.breaker.labels(self.channel, provider).set(breaker_value(phase))

    def round(self, records: int, retries: int, retry_set: int, lag: int) -> None:
        """What one round took, and the gauges sampled after it."""
        for source, size in (("kafka", records), ("retry", retries)):
            if size:
                self.batches.labels(self.channel, source).observe(size)
        self.retry_set.labels(self.channel).set(retry_set)
        self.lag.labels(self.channel).set(lag)


class SinkMetrics:
    """The status sink's metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.rows = Counter(
            "herald_sink_rows_written",
            "Rows written to Cassandra, by table (one per status in each table).",
            ["table"],
            registry=reg,
        )
        self.batches = Histogram(
            "herald_sink_batch_size",
            "Records per consumer batch (each committed once all its rows are written).",
            buckets=BATCH_BUCKETS,
            registry=reg,
        )
        self.requests = Counter(
            "herald_sink_write_requests",
            "Write requests sent to Cassandra: kind batch (unlogged, same replicas) or single.",
            ["kind"],
            registry=reg,
        )
        self.failures = Counter(
            "herald_sink_write_failures",
            "Write requests Cassandra did not take (each is tried again).",
            registry=reg,
        )
        self.retries = Counter(
            "herald_sink_retries",
            "A batch's step retried after a transient failure: decode, write or dead_letter.",
            ["stage"],
            registry=reg,
        )
        self.write_seconds = Histogram(
            "herald_sink_write_seconds",
            "Seconds waiting for Cassandra per attempt to write a batch's rows (_sum: total).",
            buckets=CALL_BUCKETS,
            registry=reg,
        )
        self.dead_letters = Counter(
            "herald_sink_dead_letters",
            "Undecodable status records sent to the dead-letter topic.",
            registry=reg,
        )
        self.profiles_skipped = Counter(
            "herald_sink_profiles_skipped",
            "Profile records not stored: invalid (the streams worker dead-letters them).",
            registry=reg,
        )
        self.delivery_rate = Gauge(
            "herald_delivery_rate",
            "Status events of a stage (delivered, opened, clicked, bounced) per sent event, by "
            "channel and provider (all: the channel's whole), since this sink started",
            ["channel", "provider", "stage"],
            registry=reg,
        )
        self._rates = RateCounter()
        self.lag = Gauge(
            "herald_sink_consumer_lag",
            "Records on this worker's partitions past what it has taken (after each batch).",
            registry=reg,
        )

    def stored(self, events: Iterable[tuple[Channel | None, str | None, State]]) -> None:
        """The delivery rates, with the stored status events counted in."""
        for key in self._rates.add(events):
            for stage, rate in self._rates.rates(key).items():
                self.delivery_rate.labels(*key, stage.value).set(rate)

    def written(self, tables: tuple[str, ...], statuses: int) -> None:
        for table in tables:
            self.rows.labels(table).inc(statuses)

    def write_attempt(self, batches: int, singles: int, failed: int, seconds: float) -> None:
        self.requests.labels("batch").inc(batches)
        self.requests.labels("single").inc(singles)
        self.failures.inc(failed)
        self.write_seconds.observe(seconds)


class MetricsServer:
    """prometheus-client's HTTP server for one registry, in a daemon thread."""

    def __init__(self, registry: CollectorRegistry, port: int, host: str) -> None:
        try:
            server, thread = start_http_server(port, host, registry)
        except OSError as exc:
            raise ConfigurationError(f"serving metrics on {host}:{port}: {exc}") from exc
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread
        self.host = host
        self.port = int(server.server_address[1])  # the one chosen when asked for port 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def serve(registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``registry`` at ``http://host:port/metrics`` (port 0: a free one) until closed."""
    return MetricsServer(registry, port, host)
