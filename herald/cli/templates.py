"""`herald templates ...`: the templates topic, which every worker renders from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from herald.cli.common import JSON_HELP, echo_json, settings

if TYPE_CHECKING:
    from herald.templating import TemplateStore

app = typer.Typer(
    help="Templates on the templates topic, over the installed files.", no_args_is_help=True
)


@app.command("put")
def put(
    files: list[Path] = typer.Argument(..., help="TOML template files; each one's id is its stem."),
) -> None:
    """Check template files (every field compiled) and publish them to the templates topic:
    every worker renders them from its next request on. Nothing is sent if one fails."""
    from herald.publisher import Publisher
    from herald.templating import check_definition, read_definition

    records = [check_definition(f.stem, read_definition(f)[0]).record() for f in files]
    with Publisher(settings()) as publisher:
        publisher.publish_templates(records)
    for record in records:
        typer.echo(f"{record.template_id:<32} published")


@app.command("remove")
def remove(template_ids: list[str] = typer.Argument(..., help="Template ids.")) -> None:
    """Remove templates from the topic; an installed file of the same id renders again."""
    from herald.publisher import Publisher

    with Publisher(settings()) as publisher:
        publisher.remove_templates(template_ids)
    for template_id in template_ids:
        typer.echo(f"{template_id:<32} removed")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """Every template as the workers see it: from the topic or an installed file."""
    from herald.template_feed import TemplateFeed
    from herald.templating import TemplateStore

    config = settings()
    store = TemplateStore(config.pipeline.templates_dir)
    feed = TemplateFeed(config, store)
    try:
        feed.catch_up()
    finally:
        feed.close()
    rows = [_row(store, template_id) for template_id in store.ids()]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        channels = ",".join(row["channels"] or [])
        problem = f"  {row['problem']}" if row["problem"] else ""
        typer.echo(f"{row['template_id']:<32} {row['origin'] or 'broken':<6} {channels}{problem}")


def _row(store: TemplateStore, template_id: str) -> dict[str, Any]:
    from herald.templating import TemplateError, problems

    try:
        template = store.template(template_id)
    except TemplateError as error:
        return {
            "template_id": template_id,
            "origin": None,
            "channels": None,
            "problem": error.detail,
        }
    found = problems(template)
    return {
        "template_id": template_id,
        "origin": str(template.origin),
        "updated_at": template.updated_at.isoformat() if template.updated_at else None,
        "channels": [str(c) for c in template.channels],
        "locales": list(template.locales),
        "problem": found[0].detail if found else None,
    }
