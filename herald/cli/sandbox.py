"""`herald sandbox run`: the provider sandboxes (development tooling, the ``lab`` extra)."""

from __future__ import annotations

import typer

from herald.cli.common import settings

app = typer.Typer(
    help="Run the provider sandboxes: FCM, APNs, SNS, SES, Twilio and SMTP look-alikes.",
    no_args_is_help=True,
)


@app.command("run")
def run(
    configured: bool = typer.Option(
        False,
        "--configured",
        help="Serve on the delivery settings as they are (what the demo and the tests hand "
        "over) instead of the sandbox profile on ports 8470-8475.",
    ),
) -> None:
    """Serve every sandbox in the foreground; prints "sandbox ready" once each answers and
    stops on SIGTERM or Ctrl-C. Without --configured it writes the sandbox profile's
    settings, for the workers that are to use it, and says where."""
    from herald.settings import SETTINGS_FILE, serialized
    from lab.sandboxes.config import DEFAULT_PORTS, on_ports
    from lab.sandboxes.run import run_sandbox  # moto and the servers load only here
    from lab.workers import write_private

    config = settings()
    if not configured:
        directory = config.delivery.sandbox_dir
        profile = on_ports(config.delivery, directory, DEFAULT_PORTS)
        config = config.model_copy(update={"delivery": profile})
        written = write_private(directory / "settings.json", serialized(config))
        typer.echo(f"workers on this sandbox: export {SETTINGS_FILE}={written}")
    run_sandbox(config.delivery, say=typer.echo, ready_file=config.lifecycle.ready_file)
