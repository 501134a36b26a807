"""Pure renderers of the servers' configuration files (no I/O)."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path


def kafka_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, base64url without padding (22 characters)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def kafka_properties(*, host: str, port: int, controller_port: int, data_dir: Path) -> str:
    """One node acting as broker and controller, replication factors of one."""
    lines = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


KAFKA_LOG4J2 = """\
Configuration:
  Appenders:
    RollingFile:
      name: server
      fileName: "${sys:kafka.logs.dir}/server.log"
      filePattern: "${sys:kafka.logs.dir}/server.log.%i"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
      SizeBasedTriggeringPolicy:
        size: 50MB
      DefaultRolloverStrategy:
        max: 3
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: server
"""


def cassandra_yaml(*, host: str, native_port: int, storage_port: int, data_dir: Path) -> str:
    """A single node with one token, its four directories under ``data_dir``."""
    return f"""\
cluster_name: herald
num_tokens: 1
initial_token: 0
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
commitlog_sync: periodic
commitlog_sync_period: 10000ms
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "{host}:{storage_port}"
listen_address: {host}
rpc_address: {host}
storage_port: {storage_port}
native_transport_port: {native_port}
start_native_transport: true
auto_snapshot: false
# The sink batches rows whose partitions share replicas (one node here: all of them), up to 32
# (connectors/sink/rows.py); at the default of 10 every batch drew a warning sent back to it.
unlogged_batch_across_partitions_warn_threshold: 32
storage_compatibility_mode: NONE
data_file_directories: [{data_dir / "data"}]
commitlog_directory: {data_dir / "commitlog"}
saved_caches_directory: {data_dir / "saved_caches"}
hints_directory: {data_dir / "hints"}
cdc_raw_directory: {data_dir / "cdc_raw"}
"""


CASSANDRA_LOGBACK = """\
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${cassandra.logdir}/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>${cassandra.logdir}/system.log.%i</fileNamePattern>
      <minIndex>1</minIndex><maxIndex>3</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>50MB</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
"""

# What upstream's conf/jvm17-server.options passes so Cassandra 5 runs on Java 17.
_CASSANDRA_EXPORTS = (
    "java.base/jdk.internal.misc",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.management/com.sun.jmx.remote.security",
    "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server",
    "java.sql/java.sql",
    "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc",
)
_CASSANDRA_OPENS = (
    "java.base/java.lang.module",
    "java.base/jdk.internal.loader",
    "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect",
    "java.base/jdk.internal.math",
    "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar",
    "jdk.management/com.sun.management.internal",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.lang.reflect",
    "java.base/java.lang",
    "java.base/java.util",
    "java.base/java.nio",
)


def cassandra_jvm_flags() -> list[str]:
    flags: list[str] = []
    for module in _CASSANDRA_EXPORTS:
        flags += ["--add-exports", f"{module}=ALL-UNNAMED"]
    for module in _CASSANDRA_OPENS:
        flags += ["--add-opens", f"{module}=ALL-UNNAMED"]
    flags.append("-Djdk.attach.allowAttachSelf=true")
    flags.append("-Dio.netty.tryReflectionSetAccessible=true")
    return flags


def maven_pom(artifact_id: str, dependencies: list[tuple[str, str, str]]) -> str:
    """A throwaway POM whose only job is to let `mvn dependency:copy-dependencies` fetch jars."""
    deps = "".join(
        f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{version}</version></dependency>\n"
        for group, artifact, version in dependencies
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "<modelVersion>4.0.0</modelVersion>\n"
        f"<groupId>herald.stack</groupId><artifactId>{artifact_id}</artifactId>"
        "<version>1</version><packaging>pom</packaging>\n"
        f"<dependencies>\n{deps}</dependencies>\n</project>\n"
    )
