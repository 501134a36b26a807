"""What every command shares: settings read once, one way of failing, metrics served,
JSON output. Nothing heavy is imported here: `import herald.cli` stays quick.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from herald.errors import HeraldError
from herald.settings import HeraldSettings, read_settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

METRICS_PORT_HELP = (
    "Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port; the address is "
    "printed). Default: metrics.port (HERALD_METRICS__PORT), unset: not served."
)
JSON_HELP = "Print JSON instead of a table."
# What the `lab` extra installs: the sandboxes' servers, which the demo and benchmarks start.
LAB_EXTRA = frozenset({"moto", "aiosmtpd", "hypercorn", "starlette"})


def settings() -> HeraldSettings:
    return read_settings()


class Failed(HeraldError):
    """A command that could not do its work, for a reason it states."""


def fail(message: str) -> typer.Exit:
    """Say why on stderr, in one line; the command ends with exit code 1."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _one_line(error: OSError) -> str:
    what = error.strerror or type(error).__name__
    return f"{what}: {error.filename}" if error.filename else what


class HeraldGroup(TyperGroup):
    """The root group: Herald's errors and missing files end a command with one line and
    exit code 1, never a traceback (also under typer's test runner, which calls the group)."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context
        try:
            return super().invoke(ctx)
        except HeraldError as error:
            raise fail(str(error)) from error
        except OSError as error:  # a missing or unreadable file given on the command line
            raise fail(_one_line(error)) from error
        except ModuleNotFoundError as error:  # the tooling, installed without its extra
            if (error.name or "").split(".")[0] not in LAB_EXTRA:
                raise
            raise fail(f"{error.name} is not installed: pip install 'herald[lab]'") from error


def run(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run ``app`` as a command: a usage error (a bad option value, an unknown command) is
    one line and exit code 1 too, instead of a usage box."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="herald", standalone_mode=False)
    except typer.Abort:
        typer.secho("aborted", err=True)
        return 1
    except typer.TyperException as error:  # typer's (vendored) click usage errors
        shown = error.format_message() if hasattr(error, "format_message") else str(error)
        return fail(shown).exit_code
    return result if isinstance(result, int) else 0


def comma_ints(text: str, option: str) -> list[int]:
    """``"500,1000"`` -> [500, 1000]; a clear error naming ``option`` otherwise."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise typer.BadParameter(
            f"{text!r} is not a comma-separated list of positive whole numbers",
            param_hint=f"'{option}'",
        )
    return values


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def metrics_port(config: HeraldSettings, port: int | None) -> int | None:
    """The port metrics are served on: the option's, else the setting's (None: not served)."""
    return config.metrics.port if port is None else port


@contextmanager
def metrics_served(
    config: HeraldSettings, port: int | None, registry: CollectorRegistry
) -> Iterator[None]:
    """Serve ``registry`` on ``port`` (or the metrics.port setting) while the block runs."""
    from herald.metrics import serve

    port = metrics_port(config, port)
    if port is None:
        yield
        return
    with serve(registry, port, config.metrics.host) as server:
        typer.echo(f"metrics: {server.url}")
        yield
