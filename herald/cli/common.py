"""What every command shares: settings read once, errors shown plainly."""

from __future__ import annotations

import typer

from herald.errors import HeraldError
from herald.settings import HeraldSettings


def settings() -> HeraldSettings:
    return HeraldSettings()


def fail(error: HeraldError) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)
