"""The listing commands' JSON, on the real stack."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald.cli import app
from herald.settings import HeraldSettings
from tests.integration.conftest import unique


def test_stack_status_as_json(stack: HeraldSettings) -> None:
    result = CliRunner().invoke(app, ["stack", "status", "--json"])
    servers = {s["name"]: s for s in json.loads(result.stdout)}
    assert set(servers) == {"kafka", "cassandra", "registry", "redis"}
    if result.exit_code == 0:  # run by the local stack: states and addresses are ours
        assert all(s["state"] == "healthy" and s["ready"] for s in servers.values())
    assert servers["kafka"]["address"] == stack.kafka.bootstrap_servers


def test_topics_list_shows_what_topics_create_made(stack: HeraldSettings) -> None:
    env = {
        "HERALD_KAFKA__TOPIC_PREFIX": f"{unique('herald-test.cli')}.",
        "HERALD_PIPELINE__PARTITIONS": "2",
    }
    before = json.loads(CliRunner().invoke(app, ["topics", "list", "--json"], env=env).stdout)
    assert {t["partitions"] for t in before} == {None}
    created = CliRunner().invoke(app, ["topics", "create"], env=env)
    assert created.exit_code == 0, created.output
    after = json.loads(CliRunner().invoke(app, ["topics", "list", "--json"], env=env).stdout)
    assert [t["topic"] for t in after] == [t["topic"] for t in before]
    assert all(t["partitions"] == t["wanted"] for t in after)
    from confluent_kafka.admin import AdminClient

    AdminClient(stack.kafka.client_config()).delete_topics([t["topic"] for t in after])
