"""The workers' Prometheus metrics, scraped over HTTP while a sender and the sink run against
the provider sandboxes, Kafka, Redis and Cassandra: the counters match what happened."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from cassandra.cluster import Session
from prometheus_client.parser import text_string_to_metric_families

from connectors.sink.rows import ROWS_PER_STATUS
from herald.migrate import migrate
from herald.models import Channel, Platform, State
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from lab.sandboxes.client import SandboxControl
from lab.workers import WorkerProcess
from tests.integration.delivery import Delivery, message, running_delivery

Sandbox = tuple[HeraldSettings, SandboxControl]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def metrics_url(worker: WorkerProcess) -> str:
    """The address the worker printed once serving its metrics."""
    found = re.search(r"metrics: (http://\S+/metrics)", worker.log_file.read_text())
    assert found, "the worker did not print its metrics address"
    return found.group(1)


def scrape(url: str) -> tuple[str, Samples]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def zero_or_absent(samples: Samples, name: str, **labels: str) -> bool:
    return samples.get((name, frozenset(labels.items())), 0.0) == 0


def scrape_until(url: str, done: Callable[[Samples], bool], timeout_s: float = 60) -> Samples:
    """Gauges are sampled at the end of a round: scrape until the worker got there."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, samples = scrape(url)
        if done(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.3)


def start_sink(delivery: Delivery, keyspace: str) -> WorkerProcess:
    settings = delivery.settings.updated(cassandra={"keyspace": keyspace})
    worker = WorkerProcess(
        "sink", settings, delivery.workdir / "sink.log", args=("--metrics-port", "0")
    )
    delivery.workers.append(worker)
    return worker.start()


def deliver_a_mix(delivery: Delivery, control: SandboxControl) -> int:
    """3 sent, 1 refused, 1 sent after a 503, 1 duplicate, 1 undecodable: returns the statuses."""
    good = [message(Channel.PUSH, f"tok-m{i}", Platform.ANDROID) for i in range(3)]
    delivery.publish(good)
    delivery.outcomes(good)  # the worker holds its FCM token before faults are injected
    delivery.publish_raw(Channel.PUSH, b"not avro")
    control.fault("fcm", refuse=["tok-dead"])
    refused = delivery.publish([message(Channel.PUSH, "tok-dead", Platform.ANDROID)])
    assert delivery.outcomes(refused)[refused[0].notification_id].state is State.FAILED
    control.fault("fcm", status=503, count=1)
    retried = delivery.publish([message(Channel.PUSH, "tok-m503", Platform.ANDROID)])
    assert delivery.outcomes(retried)[retried[0].notification_id].attempt == 1
    control.clear("fcm")
    delivery.publish([good[0]])  # delivered before: its status again, no second call
    ids = {m.notification_id for m in [*good, *refused, *retried]}
    reader = delivery.statuses()
    statuses = 3 + 1 + 2 + 1  # sent x3, failed, deferred + sent, the duplicate's sent
    reader.wait_until(lambda seen: sum(s.notification_id in ids for s in seen) == statuses)
    return statuses


def test_sender_and_sink_metrics_count_what_happened(
    sandbox: Sandbox, tmp_path: Path, cql: Session, keyspace: str
) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        migrate(cql, delivery.settings.cassandra.model_copy(update={"keyspace": keyspace}))
        sender = delivery.sender(Channel.PUSH, metrics={"port": 0})  # the setting
        sink = start_sink(delivery, keyspace)  # the --metrics-port option
        statuses = deliver_a_mix(delivery, control)
        delivery.producer.produce(delivery.names.status, key=b"bad", value=b"not a status")
        assert delivery.producer.flush(30) == 0

        url = metrics_url(sender)
        kafka_records = 3 + 1 + 1 + 1 + 1  # the undecodable record included
        kafka = {"channel": "push", "source": "kafka"}
        sender_samples = scrape_until(
            url,
            lambda s: (
                s.get(("herald_sender_batch_size_sum", frozenset(kafka.items()))) == kafka_records
            ),
        )
        text, _ = scrape(url)
        assert not re.search(r"tok-|u-[0-9a-f]{8}", text)  # no address or user in a label

        fcm = {"channel": "push", "provider": "fcm"}

        def deliveries(outcome: str) -> float:
            return get(sender_samples, "herald_sender_deliveries_total", **fcm, outcome=outcome)

        assert deliveries("sent") == 4
        assert deliveries("failed") == 1
        assert deliveries("retry_scheduled") == 1
        assert deliveries("duplicate_skipped") == 1
        for outcome in ("dead_lettered", "unknown"):
            labels = {**fcm, "outcome": outcome}
            assert zero_or_absent(sender_samples, "herald_sender_deliveries_total", **labels)

        calls = "herald_sender_provider_call_seconds_count"
        assert get(sender_samples, calls, **fcm, outcome="ok") == 4
        assert get(sender_samples, calls, **fcm, outcome="permanent") == 1
        assert get(sender_samples, calls, **fcm, outcome="transient") == 1
        assert zero_or_absent(sender_samples, calls, **fcm, outcome="unknown")
        retry_batches = get(
            sender_samples, "herald_sender_batch_size_sum", channel="push", source="retry"
        )
        assert retry_batches == 1
        for gauge in ("herald_sender_retry_set_size", "herald_sender_consumer_lag"):
            assert get(sender_samples, gauge, channel="push") == 0  # sampled after the last round
        rejected = {"channel": "push", "reason": "undecodable"}
        assert get(sender_samples, "herald_sender_rejected_records_total", **rejected) == 1
        for provider in ("fcm", "apns"):
            breaker = {"channel": "push", "provider": provider}
            assert get(sender_samples, "herald_sender_breaker_state", **breaker) == 0

        group = f"{delivery.names.prefix}status-sink"
        wait_caught_up(delivery.settings, group, [delivery.names.status], timeout_s=120)
        _, sink_samples = scrape(metrics_url(sink))
        rows = cql.execute(f"SELECT notification_id FROM {keyspace}.notification_status")
        stored = len(list(rows))
        assert stored == statuses
        for table in ("notification_status", "user_notifications", "request_outcomes"):
            assert get(sink_samples, "herald_sink_rows_written_total", table=table) == stored
        assert get(sink_samples, "herald_sink_dead_letters_total") == 1
        assert get(sink_samples, "herald_sink_batch_size_sum") == statuses + 1
        requests = sum(
            get(sink_samples, "herald_sink_write_requests_total", kind=kind)
            for kind in ("batch", "single")
        )
        # a row per table and status; batches hold several rows
        assert ROWS_PER_STATUS <= requests <= ROWS_PER_STATUS * statuses
        assert get(sink_samples, "herald_sink_write_failures_total") == 0
        assert get(sink_samples, "herald_sink_write_seconds_count") >= 1
        assert get(sink_samples, "herald_sink_consumer_lag") == 0
