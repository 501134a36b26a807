"""`herald sandbox run`: the provider sandboxes (development tooling, the ``lab`` extra)."""

from __future__ import annotations

import typer

from herald.cli.common import Failed, settings

app = typer.Typer(
    help="Run the provider sandboxes: FCM, APNs, SNS, SES, Twilio and SMTP look-alikes.",
    no_args_is_help=True,
)

LAB_EXTRA = ("moto", "aiosmtpd", "hypercorn", "starlette")


def needs_lab(error: ModuleNotFoundError) -> Failed:
    """What to say when the tooling's dependencies are not installed."""
    if (error.name or "").split(".")[0] in LAB_EXTRA:
        return Failed(f"{error.name} is not installed: pip install 'herald[lab]'")
    raise error


@app.command("run")
def run() -> None:
    """Serve every sandbox in the foreground; prints "sandbox ready" once each answers and
    stops on SIGTERM or Ctrl-C."""
    try:
        from lab.sandboxes.run import run_sandbox  # moto and the servers load only here
    except ModuleNotFoundError as error:
        raise needs_lab(error) from error
    run_sandbox(settings().delivery, say=typer.echo)
