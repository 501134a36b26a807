"""`herald sandbox ...`: the provider sandboxes."""

from __future__ import annotations

import typer

from herald.cli.common import fail, settings
from herald.errors import HeraldError

sandbox_app = typer.Typer(
    help="Run the provider sandboxes: FCM, APNs, SNS, SES, Twilio and SMTP look-alikes.",
    no_args_is_help=True,
)


@sandbox_app.command("run")
def sandbox_run() -> None:
    """Serve every sandbox in the foreground; prints "sandbox ready" once each answers and
    stops on SIGTERM or Ctrl-C."""
    from lab.sandboxes.run import run_sandbox  # moto and the servers load only here

    try:
        run_sandbox(settings().delivery, say=typer.echo)
    except HeraldError as error:
        raise fail(error) from error
