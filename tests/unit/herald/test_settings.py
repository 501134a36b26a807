from __future__ import annotations

from pathlib import Path

import pytest

from herald.errors import ConfigurationError
from herald.settings import HeraldSettings, HostPort, split_host_port


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_KAFKA__BOOTSTRAP_SERVERS", "broker-a:19092,broker-b:19092")
    monkeypatch.setenv("HERALD_REDIS__URL", "redis://cache:6390/2")
    monkeypatch.setenv("HERALD_STACK__KAFKA_HEAP", "1g")
    settings = HeraldSettings()
    assert settings.kafka.first_broker == HostPort(host="broker-a", port=19092)
    assert settings.redis.address == HostPort(host="cache", port=6390)
    assert settings.stack.kafka_heap == "1g"


def test_secrets_do_not_show_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_REDIS__URL", "redis://:hunter2@cache:6379/0")
    assert "hunter2" not in repr(HeraldSettings())


def test_client_config_layers_options_then_overrides() -> None:
    kafka = HeraldSettings().kafka.model_copy(
        update={"client_options": {"acks": "1", "linger.ms": "5"}}
    )
    config = kafka.client_config(acks="all")
    assert config["acks"] == "all" and config["linger.ms"] == "5"
    assert config["bootstrap.servers"] == kafka.bootstrap_servers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9092", HostPort(host="127.0.0.1", port=9092)),
        ("kafka", HostPort(host="kafka", port=9092)),
        ("[::1]:9093", HostPort(host="::1", port=9093)),
    ],
)
def test_split_host_port(text: str, expected: HostPort) -> None:
    assert split_host_port(text, 9092) == expected


def test_split_host_port_rejects_a_bad_port() -> None:
    with pytest.raises(ConfigurationError):
        split_host_port("kafka:ninety", 9092)


def test_a_settings_file_is_the_whole_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from herald.settings import SETTINGS_FILE, serialized

    wanted = HeraldSettings().updated(
        kafka={"topic_prefix": "t1."},
        redis={"url": "redis://:pw@cache:6379/0"},
        delivery={"fcm": {"limits": {"timeout_s": 1.5}}},
    )
    path = tmp_path / "settings.json"
    path.write_text(serialized(wanted))
    monkeypatch.setenv(SETTINGS_FILE, str(path))
    monkeypatch.setenv("HERALD_KAFKA__TOPIC_PREFIX", "other.")
    read = HeraldSettings()
    assert read == wanted
    assert read.redis.url.get_secret_value() == "redis://:pw@cache:6379/0"
    assert read.delivery.fcm.limits.timeout_s == 1.5


def test_a_missing_settings_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from herald.settings import SETTINGS_FILE

    monkeypatch.setenv(SETTINGS_FILE, str(tmp_path / "nope.json"))
    with pytest.raises(ConfigurationError, match=r"nope\.json"):
        HeraldSettings()


def test_updated_checks_what_it_changes() -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError):
        HeraldSettings().updated(registry={"timeout_s": -1})
