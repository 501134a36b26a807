"""What every command shares: settings read once, errors shown plainly, metrics served."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from prometheus_client import CollectorRegistry

from herald.errors import HeraldError
from herald.settings import HeraldSettings

METRICS_PORT_HELP = (
    "Serve Prometheus metrics at http://HOST:PORT/metrics (0: a free port; the address is "
    "printed). Default: metrics.port (HERALD_METRICS__PORT), unset: not served."
)


def settings() -> HeraldSettings:
    return HeraldSettings()


def fail(error: HeraldError) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


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
