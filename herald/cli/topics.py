"""`herald topics ...`: the pipeline's Kafka topics."""

from __future__ import annotations

import typer

from herald.cli.common import JSON_HELP, echo_json, settings

app = typer.Typer(help="The pipeline's Kafka topics.", no_args_is_help=True)


@app.command("create")
def create() -> None:
    """Create every pipeline topic that does not exist yet."""
    from confluent_kafka.admin import AdminClient

    from herald.topics import TopicNames, ensure_topics, pipeline_topics

    config = settings()
    specs = pipeline_topics(TopicNames(config.kafka.topic_prefix), config.pipeline.partitions)
    ensure_topics(AdminClient(config.kafka.client_config()), specs)
    for spec in specs:
        typer.echo(f"{spec.name:<32} {spec.partitions} partition(s)")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)) -> None:
    """The pipeline's topics as the cluster has them: partitions, or missing."""
    from confluent_kafka.admin import AdminClient

    from herald.topics import TopicNames, describe, pipeline_topics

    config = settings()
    specs = pipeline_topics(TopicNames(config.kafka.topic_prefix), config.pipeline.partitions)
    found = describe(AdminClient(config.kafka.client_config()), [spec.name for spec in specs])
    rows = [
        {"topic": spec.name, "partitions": found.get(spec.name), "wanted": spec.partitions}
        for spec in specs
    ]
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        have = "missing" if row["partitions"] is None else f"{row['partitions']} partition(s)"
        typer.echo(f"{row['topic']:<32} {have}")
