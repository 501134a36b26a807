"""A worker killed in the middle of a large fan-out loses nothing once restarted."""

from __future__ import annotations

import signal
from pathlib import Path

from herald.models import Channel
from herald.settings import HeraldSettings
from lab.workers import WorkerProcess
from tests.integration.pipeline import request, running_pipeline

RECIPIENTS = 100_000  # several seconds of work, so the kill lands part-way


def test_a_killed_worker_resumes_and_every_recipient_gets_a_status(
    stack: HeraldSettings, tmp_path: Path
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        reader = pipeline.statuses().assigned()  # reading before the fan-out begins
        big = request([f"r-{i}" for i in range(RECIPIENTS)], channels=(Channel.PUSH,))
        pipeline.publisher.publish(big)
        reader.wait_until(lambda seen: len(seen) >= 1, timeout_s=60)  # the first statuses

        pipeline.worker.stop(signal.SIGKILL)  # in the middle: no clean shutdown, no commit
        while_down = request(["r-late"], channels=(Channel.PUSH,))
        pipeline.publisher.publish(while_down)
        for _ in range(6):  # read everything the killed worker had written
            reader.poll(0.5)
        assert len({s.user_id for s in reader.seen}) < RECIPIENTS  # stopped part-way

        restarted = WorkerProcess("streams", pipeline.worker.settings, pipeline.worker.log_file)
        pipeline.worker = restarted.start()
        expected = {f"r-{i}" for i in range(RECIPIENTS)} | {"r-late"}
        reader.wait_until(lambda seen: {s.user_id for s in seen} >= expected, timeout_s=180)
        assert {s.user_id for s in reader.seen} == expected
