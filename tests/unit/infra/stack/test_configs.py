from __future__ import annotations

import base64
from pathlib import Path

import yaml

from infra.stack import configs


def test_cluster_id_is_sixteen_bytes_in_base64url() -> None:
    cluster_id = configs.kafka_cluster_id()
    assert len(cluster_id) == 22
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert cluster_id != configs.kafka_cluster_id()


def test_kafka_properties_put_broker_and_controller_where_asked() -> None:
    text = configs.kafka_properties(
        host="127.0.0.1", port=19092, controller_port=19093, data_dir=Path("/d")
    )
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["log.dirs"] == "/d"
    assert props["offsets.topic.replication.factor"] == "1"


def test_cassandra_yaml_is_valid_and_keeps_data_under_one_dir() -> None:
    doc = yaml.safe_load(
        configs.cassandra_yaml(
            host="127.0.0.1", native_port=19042, storage_port=17000, data_dir=Path("/c")
        )
    )
    assert doc["native_transport_port"] == 19042
    assert doc["seed_provider"][0]["parameters"][0]["seeds"] == "127.0.0.1:17000"
    assert doc["data_file_directories"] == ["/c/data"]
    assert doc["commitlog_directory"].startswith("/c/")
    for key in ("partitioner", "commitlog_sync", "endpoint_snitch"):
        assert doc[key]


def test_maven_pom_lists_each_dependency() -> None:
    pom = configs.maven_pom("kafka", [("g", "a", "1"), ("h", "b", "2")])
    assert pom.count("<dependency>") == 2
    assert "<artifactId>b</artifactId><version>2</version>" in pom
