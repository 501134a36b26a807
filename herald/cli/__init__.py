"""The `herald` command: the single entry point for operators.

Each command group is a module of its own that owns its Typer app; whatever a command needs
beyond settings (Kafka, Cassandra, Faust, the providers' clients) is imported inside it, so
`herald --help` loads none of that.
"""

from __future__ import annotations

import logging
import sys

import typer

from herald import __version__
from herald.cli import bench, db, dlq, sandbox, schemas, stack, templates, topics, worker
from herald.cli.api import api
from herald.cli.api import keys as api_keys
from herald.cli.common import HeraldGroup, run
from herald.cli.demo import demo
from herald.cli.publish import publish

app = typer.Typer(
    cls=HeraldGroup, help="Herald: a Kafka-native notification pipeline.", no_args_is_help=True
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"herald {__version__}")
        raise typer.Exit


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Herald: a Kafka-native notification pipeline."""


for name, group in (
    ("stack", stack.app),
    ("topics", topics.app),
    ("templates", templates.app),
    ("schemas", schemas.app),
    ("dlq", dlq.app),
    ("worker", worker.app),
    ("bench", bench.app),
    ("sandbox", sandbox.app),
    ("db", db.app),
    ("api-keys", api_keys),
):
    app.add_typer(group, name=name)
app.command("publish")(publish)
app.command("demo")(demo)
app.command("api")(api)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run(app))
