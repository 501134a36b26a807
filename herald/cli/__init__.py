"""The `herald` command: the single entry point for operators."""

from __future__ import annotations

import logging

import typer

from herald.cli.pipeline import dlq_app, publish, schemas_app, topics_app, worker_app
from herald.cli.stack import stack_app

app = typer.Typer(help="Herald: a Kafka-native notification pipeline.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(dlq_app, name="dlq")
app.add_typer(worker_app, name="worker")
app.command("publish")(publish)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
