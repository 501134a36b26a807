"""`herald publish`: validated requests from JSON onto the requests topic."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from herald.cli.common import Failed, settings


def publish(
    source: Path = typer.Argument(
        Path("-"), help="A JSON file (or - for stdin): one request object or a list of them."
    ),
) -> None:
    """Validate and publish notification requests; returns once the broker confirmed."""
    from herald.publisher import Publisher
    from herald.validation import request_from_json

    text = sys.stdin.read() if str(source) == "-" else source.read_text()
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failed(f"{source} is not JSON: {error}") from error
    now = datetime.now(UTC)
    objects = loaded if isinstance(loaded, list) else [loaded]
    requests = [request_from_json(obj, now) for obj in objects]
    with Publisher(settings()) as publisher:
        count = publisher.publish_batch(requests)
    typer.echo(f"published {count} request(s)")
