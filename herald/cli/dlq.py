"""`herald dlq ...`: dead letters, listed and replayed."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from herald.cli.common import JSON_HELP, echo_json, settings

if TYPE_CHECKING:
    from herald.deadletter import DeadLetter

app = typer.Typer(help="Dead letters: records that could not be processed.", no_args_is_help=True)


@contextmanager
def _letters() -> Iterator[list[DeadLetter]]:
    """Every dead letter on the topic now, read with a throwaway consumer."""
    from confluent_kafka import Consumer

    from herald import deadletter
    from herald.topics import TopicNames

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
    try:
        topic = TopicNames(config.kafka.topic_prefix).dead_letter
        yield list(deadletter.read_all(consumer, topic))
    finally:
        consumer.close()


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every dead letter: offset, where it came from, why, and its size."""
    with _letters() as letters:
        if as_json:
            echo_json([_as_json(letter) for letter in letters])
            return
        for letter in letters:
            size = len(letter.value or b"")
            typer.echo(
                f"{letter.offset:>6}  {letter.topic}[{letter.partition}]@"
                f"{letter.source_offset}  {size:>7} B  {letter.reason}"
            )


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode(errors="replace")


def _as_json(letter: DeadLetter) -> dict[str, object]:
    """What a tool needs of a dead letter: its value only as a size (it may hold addresses)."""
    return dataclasses.asdict(letter) | {
        "key": _text(letter.key),
        "value": None,
        "size": len(letter.value or b""),
        "headers": [[name, _text(data)] for name, data in letter.headers],
    }


@app.command("replay")
def replay(
    offset: list[int] = typer.Option([], "--offset", help="Only these dead letters."),
    reason: str = typer.Option("", "--reason", help="Only those whose reason contains this."),
) -> None:
    """Send dead letters' original bytes back to their source topics (after a fix)."""
    from confluent_kafka import Producer

    from herald import deadletter
    from herald.progress import bar
    from herald.publisher import producer_config
    from herald.topics import TopicNames

    config = settings()
    with _letters() as letters:
        chosen = [
            letter
            for letter in letters
            if (not offset or letter.offset in offset) and reason in letter.reason
        ]
        allowed = TopicNames(config.kafka.topic_prefix).pipeline()
        with bar("replaying dead letters", total=len(chosen)) as advance:
            count = deadletter.replay(
                chosen, Producer(producer_config(config)), allowed, advance=advance
            )
    typer.echo(f"replayed {count} dead letter(s)")
