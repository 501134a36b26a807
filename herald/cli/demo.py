"""`herald demo`: Herald's main job on the local stack, with a readable result."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from herald.cli.common import settings


def demo(
    users: int = typer.Option(300, min=1, help="How many demo users to seed."),
    prefix: str | None = typer.Option(
        None,
        help="Topic prefix to run under (kept afterwards). Default: a fresh demo-<time>. "
        "prefix, deleted at the end unless --keep.",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep a fresh prefix's topics to inspect."),
    timeout: float = typer.Option(120.0, min=1, help="Seconds to wait for every status."),
) -> None:
    """The main job: the stack, a streams worker, demo users and load, and what happened."""
    from herald.progress import bar
    from lab.demo import DemoConfig, format_summary, run_demo  # Faust and moto: only here

    config = DemoConfig.from_options(users, prefix, keep, timeout, datetime.now(UTC))
    summary = run_demo(settings(), config, say=typer.echo, progress=bar)
    typer.echo(format_summary(summary))
    typer.echo("\nThe stack is still running: `herald stack down` stops it.")
    if summary.missing:
        raise typer.Exit(code=1)
