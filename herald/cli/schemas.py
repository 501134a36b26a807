"""`herald schemas ...`: the Avro contracts in the schema registry."""

from __future__ import annotations

import typer

from herald.cli.common import settings

app = typer.Typer(help="The Avro contracts in the schema registry.", no_args_is_help=True)


@app.command("register")
def register() -> None:
    """Register every contract under its topic's subject, BACKWARD compatibility enforced."""
    from herald.codec import AvroCodec
    from herald.contracts import register_all
    from herald.topics import TopicNames

    config = settings()
    with AvroCodec.from_settings(config.registry) as codec:
        ids = register_all(codec, TopicNames(config.kafka.topic_prefix))
    for topic, schema_id in ids.items():
        typer.echo(f"{topic}-value  id {schema_id}")


@app.command("check")
def check() -> None:
    """Fail when any contract's history (git, then the working copy) breaks BACKWARD
    compatibility, as judged by the schema registry."""
    from herald.codec import AvroCodec
    from lab.compat import check_all

    with AvroCodec.from_settings(settings().registry) as codec:
        problems = check_all(codec)
    for problem in problems:
        typer.secho(problem, fg=typer.colors.RED, err=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo("every contract evolved BACKWARD compatibly")
