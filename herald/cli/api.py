"""`herald api` serves the HTTP front door; `herald api-keys` creates, lists and revokes its
keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

from herald.cli.common import echo_json, settings

if TYPE_CHECKING:
    from api.keys import KeyStore

# How uvicorn serves the API (and the floor `herald bench api` measures it against).
UVICORN_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "log_level": "warning",
    "access_log": False,
    "proxy_headers": False,  # no route reads the client's address: not worth its cost
}

keys = typer.Typer(help="The HTTP API's keys (stored as digests; a token is shown once).")


def api(
    host: str | None = typer.Option(None, help="Default: api.host (HERALD_API__HOST)."),
    port: int | None = typer.Option(None, help="Default: api.port (HERALD_API__PORT)."),
    workers: int | None = typer.Option(
        None, help="uvicorn processes. Default: api.workers (HERALD_API__WORKERS)."
    ),
) -> None:
    """Serve the HTTP API (OpenAPI at /docs and /openapi.json) until SIGTERM or Ctrl-C."""
    import uvicorn

    config = settings().api
    typer.echo(f"herald api on http://{host or config.host}:{port or config.port}")
    uvicorn.run(
        "api.app:from_environment",
        factory=True,
        host=host or config.host,
        port=port or config.port,
        workers=workers or config.workers,
        **UVICORN_OPTIONS,
    )


@contextmanager
def _store() -> Iterator[KeyStore]:
    from api.keys import KeyStore
    from herald.cassandra import cassandra_cluster

    config = settings()
    cluster = cassandra_cluster(config.cassandra)
    try:
        yield KeyStore(cluster.connect(), config.cassandra.keyspace)
    finally:
        cluster.shutdown()


@keys.command("create")
def create(
    scopes: str = typer.Option(..., help="Comma-separated: publish, read, admin."),
    name: str = typer.Option("", help="What the key is for, shown by `list`."),
) -> None:
    """Create a key; its token is printed once and cannot be shown again."""
    from api.keys import scopes_of

    wanted = scopes_of(scopes)
    with _store() as store:
        key, token = store.create(name, wanted)
    typer.echo(f"key {key.key_id} ({', '.join(sorted(wanted))}): {token}")


@keys.command("list")
def list_keys(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The keys, oldest first (never their tokens)."""
    with _store() as store:
        found = store.all()
    rows = [
        {
            "key_id": k.key_id,
            "name": k.name,
            "scopes": sorted(k.scopes),
            "created_at": k.created_at.isoformat(),
            "revoked_at": None if k.revoked_at is None else k.revoked_at.isoformat(),
        }
        for k in found
    ]
    if as_json:
        echo_json(rows)
        return
    for k in found:
        state = "revoked" if k.revoked_at else "active"
        typer.echo(f"{k.key_id}  {state:7}  {','.join(sorted(k.scopes)):20}  {k.name}")


@keys.command("revoke")
def revoke(key_id: str = typer.Argument(..., help="The key's id (hk_<id>_...).")) -> None:
    """Revoke a key: every API process refuses it within api.key_cache_s."""
    with _store() as store:
        store.revoke(key_id)
    typer.echo(f"revoked {key_id}")
