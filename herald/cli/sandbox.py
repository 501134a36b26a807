"""`herald sandbox run`: the provider sandboxes (development tooling, the ``lab`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from herald.cli.common import settings

if TYPE_CHECKING:
    from herald.settings import HeraldSettings

CONFIGURED_HELP = (
    "Serve on the delivery settings as they are (what the demo and the tests hand over) "
    "instead of the sandbox profile on ports 8470-8475."
)

app = typer.Typer(
    help="Run the provider sandboxes: FCM, APNs, SNS, SES, Twilio and SMTP look-alikes.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    configured: bool = typer.Option(False, "--configured", help=CONFIGURED_HELP),
) -> None:
    """Serve every sandbox in the foreground; prints "sandbox ready" once each answers and
    stops on SIGTERM or Ctrl-C. Without --configured it writes the sandbox profile's
    settings, for the workers that are to use it, and says where."""
    from lab.sandboxes.run import run_sandbox  # moto and the servers load only here

    config = settings() if configured else on_the_profile(settings(), "sandbox")
    run_sandbox(config.delivery, say=typer.echo, ready_file=config.lifecycle.ready_file)


def on_the_profile(config: HeraldSettings, what: str) -> HeraldSettings:
    """``config`` with the sandbox profile on its default ports, written to a settings file
    for the workers that are to use ``what`` (which is said, with the file)."""
    from herald.settings import SETTINGS_FILE, serialized
    from lab.sandboxes.config import DEFAULT_PORTS, on_ports
    from lab.workers import write_private

    directory = config.delivery.sandbox_dir
    profile = on_ports(config.delivery, directory, DEFAULT_PORTS)
    config = config.model_copy(update={"delivery": profile})
    written = write_private(directory / "settings.json", serialized(config))
    typer.echo(f"workers on this {what}: export {SETTINGS_FILE}={written}")
    return config
