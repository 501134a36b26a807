"""The `herald` command: the single entry point for operators."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import typer

from herald.cli.common import fail, settings
from herald.cli.db import db_app
from herald.cli.delivery import bench_delivery
from herald.cli.pipeline import bench_app, dlq_app, publish, schemas_app, topics_app, worker_app
from herald.cli.sandbox import sandbox_app
from herald.cli.sender import worker_sender
from herald.cli.sink import bench_sink, worker_sink
from herald.cli.stack import stack_app
from herald.errors import HeraldError

app = typer.Typer(help="Herald: a Kafka-native notification pipeline.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
app.add_typer(dlq_app, name="dlq")
worker_app.command("sender")(worker_sender)
app.add_typer(worker_app, name="worker")
app.add_typer(bench_app, name="bench")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")
worker_app.command("sink")(worker_sink)
bench_app.command("sink")(bench_sink)
bench_app.command("delivery")(bench_delivery)
app.command("publish")(publish)


@app.command("demo")
def demo(
    users: int = typer.Option(300, min=1, help="How many demo users to seed."),
    prefix: str | None = typer.Option(
        None,
        help="Topic prefix to run under (kept afterwards). Default: a fresh demo-<time>. "
        "prefix, deleted at the end unless --keep.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep a fresh prefix's topics to inspect."),
    timeout: float = typer.Option(120.0, help="Seconds to wait for every status."),
) -> None:
    """The main job: the stack, a streams worker, demo users and load, and what happened."""
    from lab.demo import DemoConfig, format_summary, run_demo  # imports Faust: only here

    try:
        config = DemoConfig.from_options(users, prefix, keep, timeout, datetime.now(UTC))
        summary = run_demo(settings(), config, say=typer.echo)
    except HeraldError as error:
        raise fail(error) from error
    typer.echo(format_summary(summary))
    typer.echo("\nThe stack is still running: `herald stack down` stops it.")
    if summary.missing:
        raise typer.Exit(code=1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
