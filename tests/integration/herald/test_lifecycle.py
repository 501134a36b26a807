"""Every worker kind in the one lifecycle, as a child process: ready once its ready file is
there, and on SIGTERM a clean exit (code 0) that takes the ready file away."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import pytest
from cassandra.cluster import Session
from confluent_kafka.admin import AdminClient

from herald.migrate import migrate
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from lab.sandboxes import SandboxControl
from lab.workers import WorkerProcess


@pytest.mark.parametrize(
    ("kind", "args"), [("streams", ()), ("sender", ("--channel", "email")), ("sink", ())]
)
def test_ready_then_a_clean_stop(
    sandbox: tuple[HeraldSettings, SandboxControl],
    cql: Session,
    keyspace: str,
    tmp_path: Path,
    kind: str,
    args: tuple[str, ...],
) -> None:
    settings = sandbox[0].with_prefix(f"l{uuid.uuid4().hex[:8]}.")
    settings = settings.updated(cassandra={"keyspace": keyspace})
    migrate(cql, settings.cassandra)
    worker = WorkerProcess(kind, settings, tmp_path / f"{kind}.log", args=args)
    try:
        with worker:
            assert worker.ready_file.exists()
            assert worker.settings_file.exists()
            worker.stop(signal.SIGTERM, timeout_s=60)
        assert worker.process is not None and worker.process.returncode == 0
        assert not worker.ready_file.exists()  # stopped: no longer ready
        assert not worker.settings_file.exists()  # its secrets went with it
    finally:
        admin = AdminClient(settings.kafka.client_config())
        prefix = TopicNames(settings.kafka.topic_prefix).prefix
        ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
        if ours:
            for future in admin.delete_topics(ours, operation_timeout=30).values():
                future.result(timeout=30)
