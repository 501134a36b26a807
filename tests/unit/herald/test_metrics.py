"""The metrics' pure parts: outcome labels, breaker values, what a round and a wait count,
the sink's request kinds, separate registries, and the HTTP server's errors."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from cassandra.query import BatchStatement, SimpleStatement
from prometheus_client import CollectorRegistry

from connectors.base import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from connectors.delivery.breaker import Phase
from connectors.delivery.deliver import call_result
from connectors.sink.store import request_kinds
from herald.errors import ConfigurationError
from herald.metrics import (
    CallResult,
    DeliveryOutcome,
    SenderMetrics,
    SinkMetrics,
    breaker_value,
    finished,
    serve,
)
from herald.models import State


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_terminal_state_recorded_now_is_its_own_outcome() -> None:
    for state in (State.SENT, State.FAILED, State.DEAD_LETTERED, State.UNKNOWN):
        assert finished(state, recorded_now=True) == DeliveryOutcome(state.value)


def test_an_outcome_the_ledger_already_held_is_a_skipped_duplicate() -> None:
    assert finished(State.SENT, recorded_now=False) is DeliveryOutcome.DUPLICATE_SKIPPED


def test_every_breaker_phase_has_its_gauge_value() -> None:
    assert {p: breaker_value(p) for p in Phase} == {
        Phase.CLOSED: 0,
        Phase.HALF_OPEN: 1,
        Phase.OPEN: 2,
    }


def test_a_calls_error_names_its_result() -> None:
    assert call_result(TransientDeliveryError("fcm", "503")) is CallResult.TRANSIENT
    assert call_result(PermanentDeliveryError("fcm", "UNREGISTERED")) is CallResult.PERMANENT
    assert call_result(UnknownOutcomeError("fcm", "timeout")) is CallResult.UNKNOWN
    assert call_result(RuntimeError("a sender's bug")) is CallResult.UNKNOWN


def test_a_round_observes_only_the_sources_it_took_from() -> None:
    metrics = SenderMetrics("sms")
    metrics.round(records=7, retries=0, retry_set=3, lag=11)
    metrics.round(records=0, retries=2, retry_set=1, lag=0)
    metrics.round(records=0, retries=0, retry_set=0, lag=0)
    reg = metrics.registry
    assert value(reg, "herald_sender_batch_size_count", channel="sms", source="kafka") == 1
    assert value(reg, "herald_sender_batch_size_sum", channel="sms", source="kafka") == 7
    assert value(reg, "herald_sender_batch_size_sum", channel="sms", source="retry") == 2
    assert value(reg, "herald_sender_retry_set_size", channel="sms") == 0  # the last sample
    assert value(reg, "herald_sender_consumer_lag", channel="sms") == 0


def test_only_calls_that_waited_count_as_bucket_waits() -> None:
    metrics = SenderMetrics("push")
    metrics.bucket_wait("fcm", 0.0)
    metrics.bucket_wait("fcm", 0.25)
    metrics.bucket_wait("fcm", 0.5)
    reg = metrics.registry
    assert value(reg, "herald_sender_bucket_waits_total", channel="push", provider="fcm") == 2
    seconds = value(reg, "herald_sender_bucket_wait_seconds_total", channel="push", provider="fcm")
    assert seconds == pytest.approx(0.75)


def test_an_outcome_without_a_provider_is_labelled_none() -> None:
    metrics = SenderMetrics("email")
    metrics.delivery(None, DeliveryOutcome.DEFERRED_BREAKER_OPEN)
    assert (
        value(
            metrics.registry,
            "herald_sender_deliveries_total",
            channel="email",
            provider="none",
            outcome="deferred_breaker_open",
        )
        == 1
    )


def test_workers_in_one_process_keep_separate_registries() -> None:
    first, second = SenderMetrics("push"), SenderMetrics("push")
    first.delivery("apns", DeliveryOutcome.SENT)
    labels = {"channel": "push", "provider": "apns", "outcome": "sent"}
    assert value(first.registry, "herald_sender_deliveries_total", **labels) == 1
    assert value(second.registry, "herald_sender_deliveries_total", **labels) is None
    SinkMetrics(), SinkMetrics()  # no clash on a shared registry


def test_the_sink_counts_batches_and_single_inserts_apart() -> None:
    single = (SimpleStatement("INSERT ..."), ())
    batch = (BatchStatement(), ())
    assert request_kinds([single, batch, single, batch, batch]) == (3, 2)  # type: ignore[list-item]
    assert request_kinds([]) == (0, 0)


def test_a_write_attempt_counts_requests_failures_and_time() -> None:
    metrics = SinkMetrics()
    metrics.write_attempt(batches=3, singles=2, failed=4, seconds=1.5)
    metrics.write_attempt(batches=1, singles=0, failed=0, seconds=0.5)
    metrics.written(("notification_status", "user_notifications"), 6)
    reg = metrics.registry
    assert value(reg, "herald_sink_write_requests_total", kind="batch") == 4
    assert value(reg, "herald_sink_write_requests_total", kind="single") == 2
    assert value(reg, "herald_sink_write_failures_total") == 4
    assert value(reg, "herald_sink_write_seconds_sum") == 2.0
    assert value(reg, "herald_sink_rows_written_total", table="user_notifications") == 6


def test_serve_on_port_zero_picks_a_free_port_and_answers() -> None:
    metrics = SinkMetrics()
    metrics.dead_letters.inc()
    with serve(metrics.registry, 0) as server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(server.url, timeout=10) as answer:
            text = answer.read().decode()
    assert "herald_sink_dead_letters_total 1.0" in text


def test_a_taken_port_is_a_configuration_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}"):
            serve(SinkMetrics().registry, port)
