"""The templates topic: `herald templates put/list/remove`, and a store that follows the
topic while it renders (herald.template_feed)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from typer.testing import CliRunner

from herald.cli import app
from herald.models import Channel
from herald.publisher import Publisher
from herald.settings import HeraldSettings
from herald.template_feed import TemplateFeed
from herald.templating import Origin, TemplateError, TemplateStore, check_definition
from herald.topics import TopicNames, ensure_topics, pipeline_topics

SMS = 'channels = ["sms"]\ndefault_locale = "en"\n[locales.en.sms]\nbody = "{body}"\n'


@pytest.fixture
def prefixed(stack: HeraldSettings) -> Iterator[HeraldSettings]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    settings = stack.with_prefix(prefix)
    admin = AdminClient(stack.kafka.client_config())
    ensure_topics(admin, pipeline_topics(TopicNames(prefix), 1))
    yield settings
    ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    for future in admin.delete_topics(ours, operation_timeout=30).values():
        future.result(timeout=30)


def herald(settings: HeraldSettings, *args: str) -> tuple[int, str]:
    env = {"HERALD_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def test_put_list_and_remove_from_the_command_line(
    prefixed: HeraldSettings, tmp_path: Path
) -> None:
    good, bad = tmp_path / "cli_hello.toml", tmp_path / "cli_bad.toml"
    good.write_text(SMS.format(body="Hello {{ name }}"))
    bad.write_text(SMS.format(body="Hello {{ name }"))
    code, output = herald(prefixed, "templates", "put", str(good), str(bad))
    assert code == 1 and "'cli_bad'" in output and "line 1" in output
    code, output = herald(prefixed, "templates", "list", "--json")
    assert "cli_hello" not in {row["template_id"] for row in json.loads(output)}  # none sent

    assert herald(prefixed, "templates", "put", str(good))[0] == 0
    code, output = herald(prefixed, "templates", "list", "--json")
    rows = {row["template_id"]: row for row in json.loads(output)}
    assert rows["cli_hello"]["origin"] == "topic" and rows["cli_hello"]["channels"] == ["sms"]
    assert rows["order_shipped"]["origin"] == "file"
    assert "nosuchfilter" in rows["broken"]["problem"]

    assert herald(prefixed, "templates", "remove", "cli_hello")[0] == 0
    code, output = herald(prefixed, "templates", "list", "--json")
    assert "cli_hello" not in {row["template_id"] for row in json.loads(output)}


def test_a_following_store_renders_each_change_and_a_tombstone_brings_the_file_back(
    prefixed: HeraldSettings, tmp_path: Path
) -> None:
    (tmp_path / "greeting.toml").write_text(SMS.format(body="from the file"))
    store = TemplateStore(tmp_path)
    feed = TemplateFeed(prefixed, store)
    assert feed.catch_up() == 0 and feed.ready.is_set()
    feed.start()

    def body() -> str:
        return store.render("greeting", Channel.SMS, None, {"n": "1"}).body

    def eventually(expected: str) -> None:
        deadline = time.monotonic() + 20
        while body() != expected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert body() == expected

    try:
        with Publisher(prefixed) as publisher:
            assert body() == "from the file"
            for n in range(3):
                edit = check_definition("greeting", _sms(f"edit {n} {{{{ n }}}}"))
                publisher.publish_templates([edit.record()])
                eventually(f"edit {n} 1")
            assert store.template("greeting").origin is Origin.TOPIC
            publisher.publish_templates([check_definition("fresh", _sms("new")).record()])
            publisher.remove_templates(["greeting"])
            eventually("from the file")
            assert store.render("fresh", Channel.SMS, None, {}).body == "new"
            publisher.remove_templates(["fresh"])
            deadline = time.monotonic() + 20
            while "fresh" in store.ids() and time.monotonic() < deadline:
                time.sleep(0.1)
            with pytest.raises(TemplateError, match="unknown template"):
                store.template("fresh")
    finally:
        feed.close()

    # a new reader applies the whole history: the latest of each id
    again = TemplateStore(tmp_path)
    late = TemplateFeed(prefixed, again)
    try:
        assert late.catch_up() == 6  # three edits, one new, two tombstones
    finally:
        late.close()
    assert again.ids() == ["greeting"] and again.template("greeting").origin is Origin.FILE


def _sms(body: str) -> dict[str, object]:
    return {"channels": ["sms"], "default_locale": "en", "locales": {"en": {"sms": {"body": body}}}}
