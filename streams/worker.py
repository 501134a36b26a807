"""Running the stream processors: the topics they need, the app, Faust's worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka.admin import AdminClient
from faust import Worker

from herald.lifecycle import Stop, readiness, settle_memory
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from streams.app import changelog_topics, create_app


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is a dependency): a faster event loop for the agents."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _Worker(Worker):
    """Faust's worker in Herald's lifecycle: it reports readiness as every Herald worker does,
    and leaves signals to the CLI, stopping when ``stop`` is set as Faust stops on SIGTERM."""

    def __init__(self, *args: Any, on_ready: Callable[[], None], stop: Stop, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_ready = on_ready
        self._stop = stop

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        settle_memory()
        self._on_ready()

    def install_signal_handlers(self) -> None:
        self.add_future(self._stop_when_asked())

    async def _stop_when_asked(self) -> None:
        while not self._stop.is_set():
            await asyncio.sleep(0.2)
        self._on_sigterm()  # Faust's own shutdown: the agents finish, offsets are committed


def run_streams(settings: HeraldSettings, stop: Stop, loglevel: str = "info") -> None:
    """Create what is missing, then run fan-out, decisions and deferred release until
    ``stop`` is set."""
    specs = pipeline_topics(TopicNames(settings.kafka.topic_prefix), settings.pipeline.partitions)
    ensure_topics(
        AdminClient(settings.kafka.client_config()), [*specs, *changelog_topics(settings)]
    )
    settings.pipeline.worker_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    with readiness(settings.lifecycle.ready_file) as announce:
        worker = _Worker(app, loglevel=loglevel, loop=_event_loop(), on_ready=announce, stop=stop)
        # Faust's terminal spinner sets the root logger to DEBUG, which makes every aiokafka
        # debug call build a log record on the hot path (about 11% of a busy worker's time).
        worker.spinner = None
        # Faust logs a failed delivery with the whole record (addresses included); Herald's
        # outbox logs the failure itself, without the record.
        logging.getLogger("faust.topics").setLevel(logging.CRITICAL)
        worker.execute_from_commandline()
