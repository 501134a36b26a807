"""What each local server is: where it listens, how it is started and with which files.

Pure: builds plans from settings and paths; the launcher does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from herald.settings import HeraldSettings, HostPort
from infra.stack import configs

SERVER_NAMES = ("kafka", "cassandra", "registry", "redis")


@dataclass(frozen=True)
class ServerPlan:
    name: str
    listen: HostPort  # the client-facing address, probed for readiness
    extra_ports: tuple[HostPort, ...]  # other ports it binds, checked free before start
    argv: list[str]
    run_dir: Path  # conf/, data/, logs/ and the pid file live here
    files: dict[Path, str] = field(default_factory=dict)  # written before every start
    init_argv: list[str] | None = None  # run once, before the first start
    init_marker: Path | None = None  # present once init has run
    needs: tuple[str, ...] = ()  # servers that must answer before this one starts
    log_name: str = "server.log"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "pid"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def log_file(self) -> Path:
        return self.log_dir / self.log_name

    @property
    def stdout_file(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def ports(self) -> tuple[HostPort, ...]:
        return (self.listen, *self.extra_ports)


@dataclass(frozen=True)
class Installed:
    """Where the fetched servers are: the launcher's fetch step fills this in."""

    kafka_lib: Path
    cassandra_lib: Path
    registry_jar: Path
    redis_server: str


def installed(settings: HeraldSettings, redis_server: str) -> Installed:
    """Where fetched servers live in the cache; the paths do not depend on whether they exist."""
    registry_jar = f"apicurio-registry-app-{settings.stack.registry_version}-runner.jar"
    return Installed(
        kafka_lib=kafka_dir(settings) / "lib",
        cassandra_lib=cassandra_dir(settings) / "lib",
        registry_jar=registry_dir(settings) / registry_jar,
        redis_server=redis_server,
    )


def kafka_dir(settings: HeraldSettings) -> Path:
    return settings.stack.cache / "servers" / f"kafka-{settings.stack.kafka_version}"


def cassandra_dir(settings: HeraldSettings) -> Path:
    return settings.stack.cache / "servers" / f"cassandra-{settings.stack.cassandra_version}"


def registry_dir(settings: HeraldSettings) -> Path:
    return settings.stack.cache / "servers" / f"apicurio-registry-{settings.stack.registry_version}"


def registry_address(settings: HeraldSettings) -> HostPort:
    parts = urlsplit(settings.registry.url)
    return HostPort(host=parts.hostname or "127.0.0.1", port=parts.port or 8081)


def _java(settings: HeraldSettings, heap: str) -> list[str]:
    return [settings.stack.java, f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC"]


def kafka_plan(settings: HeraldSettings, installed: Installed, run_dir: Path) -> ServerPlan:
    stack = settings.stack
    listen = settings.kafka.first_broker
    conf = run_dir / "conf"
    properties = conf / "server.properties"
    log4j = conf / "log4j2.yaml"
    classpath = f"{installed.kafka_lib}/*"
    logging = [f"-Dkafka.logs.dir={run_dir / 'logs'}", f"-Dlog4j2.configurationFile={log4j}"]
    return ServerPlan(
        name="kafka",
        listen=listen,
        extra_ports=(HostPort(host=listen.host, port=stack.kafka_controller_port),),
        argv=[
            *_java(settings, stack.kafka_heap),
            *logging,
            "-cp",
            classpath,
            "kafka.Kafka",
            str(properties),
        ],
        run_dir=run_dir,
        files={
            properties: configs.kafka_properties(
                host=listen.host,
                port=listen.port,
                controller_port=stack.kafka_controller_port,
                data_dir=run_dir / "data",
            ),
            log4j: configs.KAFKA_LOG4J2,
        },
        init_argv=[
            stack.java,
            *logging,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            configs.kafka_cluster_id(),
            "-c",
            str(properties),
            "--standalone",
        ],
        init_marker=run_dir / "data" / "meta.properties",
    )


def cassandra_plan(settings: HeraldSettings, installed: Installed, run_dir: Path) -> ServerPlan:
    stack = settings.stack
    listen = HostPort(host=settings.cassandra.contact_points[0], port=settings.cassandra.port)
    conf = run_dir / "conf"
    yaml_path = conf / "cassandra.yaml"
    logback = conf / "logback.xml"
    properties = [
        f"-Dcassandra.config=file://{yaml_path}",
        f"-Dcassandra.storagedir={run_dir / 'data'}",
        f"-Dcassandra.logdir={run_dir / 'logs'}",
        f"-Dlogback.configurationFile={logback}",
        "-Dcassandra-foreground=yes",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-Dcassandra.initial_token=0",
    ]
    return ServerPlan(
        name="cassandra",
        listen=listen,
        extra_ports=(HostPort(host=listen.host, port=stack.cassandra_storage_port),),
        argv=[
            *_java(settings, stack.cassandra_heap),
            *configs.cassandra_jvm_flags(),
            *properties,
            "-cp",
            f"{installed.cassandra_lib}/*",
            "org.apache.cassandra.service.CassandraDaemon",
        ],
        run_dir=run_dir,
        files={
            yaml_path: configs.cassandra_yaml(
                host=listen.host,
                native_port=listen.port,
                storage_port=stack.cassandra_storage_port,
                data_dir=run_dir / "data",
            ),
            logback: configs.CASSANDRA_LOGBACK,
        },
        log_name="system.log",
    )


def registry_plan(settings: HeraldSettings, installed: Installed, run_dir: Path) -> ServerPlan:
    listen = registry_address(settings)
    broker = settings.kafka.first_broker
    properties = [
        f"-Dquarkus.http.host={listen.host}",
        f"-Dquarkus.http.port={listen.port}",
        # Schemas live in a Kafka topic, so their ids survive a registry restart and stay
        # valid for the records already on Herald's topics.
        "-Dapicurio.storage.kind=kafkasql",
        f"-Dapicurio.kafkasql.bootstrap.servers={broker.host}:{broker.port}",
        "-Dquarkus.log.console.color=false",
        f"-Dherald.stack.dir={run_dir}",  # marks the process as ours
    ]
    return ServerPlan(
        name="registry",
        listen=listen,
        extra_ports=(),
        argv=[
            *_java(settings, settings.stack.registry_heap),
            *properties,
            "-jar",
            str(installed.registry_jar),
        ],
        run_dir=run_dir,
        needs=("kafka",),
        log_name="stdout.log",  # Quarkus logs to the console
    )


def redis_plan(settings: HeraldSettings, installed: Installed, run_dir: Path) -> ServerPlan:
    listen = settings.redis.address
    return ServerPlan(
        name="redis",
        listen=listen,
        extra_ports=(),
        argv=[
            installed.redis_server,
            "--port",
            str(listen.port),
            "--bind",
            listen.host,
            "--dir",
            str(run_dir / "data"),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--daemonize",
            "no",
            "--set-proc-title",
            "no",
            "--logfile",
            str(run_dir / "logs" / "redis.log"),
        ],
        run_dir=run_dir,
        log_name="redis.log",
    )


def run_dir(settings: HeraldSettings, name: str) -> Path:
    """Where server ``name`` keeps its files and its pid file."""
    return settings.stack.home / "stack" / name


def plans(settings: HeraldSettings, installed: Installed) -> dict[str, ServerPlan]:
    """Every server's plan, in start order."""
    builders = {
        "kafka": kafka_plan,
        "cassandra": cassandra_plan,
        "registry": registry_plan,
        "redis": redis_plan,
    }
    return {
        name: build(settings, installed, run_dir(settings, name))
        for name, build in builders.items()
    }


def address_of(plan: ServerPlan) -> str:
    return f"{plan.listen.host}:{plan.listen.port}"
