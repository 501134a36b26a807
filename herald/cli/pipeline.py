"""`herald topics | schemas | publish | dlq | worker`: running the pipeline."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import typer
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from herald import deadletter
from herald.cli.common import fail, settings
from herald.codec import AvroCodec
from herald.contracts import register_all
from herald.errors import HeraldError
from herald.publisher import Publisher, producer_config
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from herald.validation import request_from_json

topics_app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)
schemas_app = typer.Typer(help="The Avro contracts in the schema registry.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead letters: records that could not be processed.", no_args_is_help=True
)
worker_app = typer.Typer(help="Run Herald's workers.", no_args_is_help=True)


@topics_app.command("create")
def topics_create() -> None:
    """Create every pipeline topic that does not exist yet."""
    config = settings()
    specs = pipeline_topics(TopicNames(config.kafka.topic_prefix), config.pipeline.partitions)
    try:
        ensure_topics(AdminClient(config.kafka.client_config()), specs)
    except HeraldError as error:
        raise fail(error) from error
    for spec in specs:
        typer.echo(f"{spec.name:<32} {spec.partitions} partition(s)")


@schemas_app.command("register")
def schemas_register() -> None:
    """Register every contract under its topic's subject, BACKWARD compatibility enforced."""
    config = settings()
    try:
        with AvroCodec.from_settings(config.registry) as codec:
            ids = register_all(codec, TopicNames(config.kafka.topic_prefix))
    except HeraldError as error:
        raise fail(error) from error
    for topic, schema_id in ids.items():
        typer.echo(f"{topic}-value  id {schema_id}")


def publish(
    source: Path = typer.Argument(
        Path("-"), help="A JSON file (or - for stdin): one request object or a list of them."
    ),
) -> None:
    """Validate and publish notification requests; returns once the broker confirmed."""
    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        typer.secho(f"error: not JSON: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from error
    now = datetime.now(UTC)
    try:
        objects = loaded if isinstance(loaded, list) else [loaded]
        requests = [request_from_json(obj, now) for obj in objects]
        with Publisher(settings()) as publisher:
            count = publisher.publish_batch(requests)
    except HeraldError as error:
        raise fail(error) from error
    typer.echo(f"published {count} request(s)")


def _dlq_consumer() -> tuple[Consumer, str]:
    config = settings()
    consumer = Consumer(
        config.kafka.client_config(
            **{
                "group.id": f"herald-dlq-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            }
        )
    )
    return consumer, TopicNames(config.kafka.topic_prefix).dead_letter


@dlq_app.command("list")
def dlq_list() -> None:
    """Every dead letter: offset, where it came from, why, and its size."""
    consumer, topic = _dlq_consumer()
    try:
        for letter in deadletter.read_all(consumer, topic):
            size = len(letter.value or b"")
            typer.echo(
                f"{letter.offset:>6}  {letter.topic}[{letter.partition}]@"
                f"{letter.source_offset}  {size:>7} B  {letter.reason}"
            )
    except HeraldError as error:
        raise fail(error) from error
    finally:
        consumer.close()


@dlq_app.command("replay")
def dlq_replay(
    offset: list[int] = typer.Option([], "--offset", help="Only these dead letters."),
    reason: str = typer.Option("", "--reason", help="Only those whose reason contains this."),
) -> None:
    """Send dead letters' original bytes back to their source topics (after a fix)."""
    consumer, topic = _dlq_consumer()
    try:
        letters = [
            letter
            for letter in deadletter.read_all(consumer, topic)
            if (not offset or letter.offset in offset) and reason in letter.reason
        ]
        config = settings()
        allowed = TopicNames(config.kafka.topic_prefix).pipeline()
        count = deadletter.replay(letters, Producer(producer_config(config)), allowed)
    except HeraldError as error:
        raise fail(error) from error
    finally:
        consumer.close()
    typer.echo(f"replayed {count} dead letter(s)")


def _event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is a dependency): a faster event loop for the agents."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@worker_app.command("streams")
def worker_streams(
    loglevel: str = typer.Option("info", help="Faust's log level."),
) -> None:
    """Run the stream processors (fan-out, decisions, deferred release) until stopped."""
    from faust import Worker

    from streams.app import changelog_topics, create_app

    config = settings()
    try:
        specs = pipeline_topics(TopicNames(config.kafka.topic_prefix), config.pipeline.partitions)
        ensure_topics(
            AdminClient(config.kafka.client_config()), [*specs, *changelog_topics(config)]
        )
        config.pipeline.worker_dir.mkdir(parents=True, exist_ok=True)
        app = create_app(config)
    except HeraldError as error:
        raise fail(error) from error
    worker = Worker(app, loglevel=loglevel, loop=_event_loop())
    # Faust's terminal spinner sets the root logger to DEBUG, which makes every aiokafka
    # debug call build a log record on the hot path (about 11% of a busy worker's time).
    worker.spinner = None
    # Faust logs a failed delivery with the whole record (addresses included); Herald's
    # outbox logs the failure itself, without the record.
    logging.getLogger("faust.topics").setLevel(logging.CRITICAL)
    worker.execute_from_commandline()


@schemas_app.command("check")
def schemas_check() -> None:
    """Fail when any contract's history (git, then the working copy) breaks BACKWARD
    compatibility, as judged by the schema registry."""
    from lab.compat import check_all

    try:
        with AvroCodec.from_settings(settings().registry) as codec:
            problems = check_all(codec)
    except HeraldError as error:
        raise fail(error) from error
    for problem in problems:
        typer.secho(problem, fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("every contract evolved BACKWARD compatibly")


bench_app = typer.Typer(help="Benchmarks; figures go to a JSON file.", no_args_is_help=True)


@bench_app.command("pipeline")
def bench_pipeline(
    rates: str = typer.Option(
        "500,1000,2000,4000,8000,16000,20000",
        help="Offered per-user notifications a second, in order.",
    ),
    seconds: float = typer.Option(20.0, help="How long each rate is offered."),
    per_request: int = typer.Option(100, help="Recipients per published request."),
    out: Path = typer.Option(Path("bench-results/pipeline.json"), help="Where figures go."),
    million: bool = typer.Option(True, help="Also fan out one 1,000,000-recipient request."),
    workers: int = typer.Option(1, min=1, help="Herald worker processes (the relay runs one)."),
) -> None:
    """Highest rate with flat lag, p50/p99 publish-to-channel latency and worker memory,
    for Herald's worker and for a bare confluent-kafka relay over the same hops."""
    from lab.bench.pipeline import run

    config = settings()
    workdir = config.stack.home / "bench"
    results = run(
        config,
        [int(r) for r in rates.split(",")],
        seconds,
        per_request,
        out,
        workdir,
        typer.echo,
        with_million=million,
        workers=workers,
    )
    typer.echo(
        f"herald sustained {results['herald']['sustained_per_s']}/s, relay "
        f"{results['relay']['sustained_per_s']}/s; figures in {out}"
    )
