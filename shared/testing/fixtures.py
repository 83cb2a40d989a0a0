"""pytest plugin (tests/conftest.py loads it): one real mongod and one real broker per test session.

TEST_INFRA=local  start mongod from its PyPI wheel and Apache Kafka from Maven Central's jars, in a fresh
                  temporary folder (the default when no Docker engine answers);
TEST_INFRA=docker use testcontainers with the official MongoDB and Apache Kafka images (the default
                  when a Docker engine answers; skipped cleanly when none does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.broker import ensure_topics
from shared.contracts.catalogue import TOPICS
from shared.localstack.kafka import LocalKafka, kafka_version
from shared.localstack.processes import LocalMongo, free_port, mongod_parameter_args, run_blocking


@dataclass(frozen=True)
class Infrastructure:
    mongo_url: str
    kafka_bootstrap: str
    kind: str


def docker_engine_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _local() -> Iterator[Infrastructure]:
    workdir = Path(tempfile.mkdtemp(prefix="omni-test-"))
    mongo = LocalMongo(workdir / "mongo", free_port())
    kafka = LocalKafka(workdir / "kafka", free_port())
    try:
        mongo.start()
        kafka.start()
        yield Infrastructure(mongo.url, kafka.bootstrap_servers, "local")
    finally:
        kafka.stop()
        mongo.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _docker() -> Iterator[Infrastructure]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    # testcontainers' KafkaContainer drives Confluent's image; the official apache/kafka image is configured
    # through KAFKA_* variables (as in docker-compose.yml). The client must reach the advertised address,
    # so the broker listens on the same port inside and outside the container.
    kafka_port = free_port()
    kafka = DockerContainer(f"apache/kafka:{kafka_version()}").with_bind_ports(kafka_port, kafka_port)
    for name, value in {
        "NODE_ID": "1", "PROCESS_ROLES": "broker,controller", "CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "LISTENERS": f"PLAINTEXT://:{kafka_port},CONTROLLER://:9093",
        "ADVERTISED_LISTENERS": f"PLAINTEXT://localhost:{kafka_port}",
        "LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "CONTROLLER_LISTENER_NAMES": "CONTROLLER", "INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "OFFSETS_TOPIC_REPLICATION_FACTOR": "1", "TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "TRANSACTION_STATE_LOG_MIN_ISR": "1", "SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1", "GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "AUTO_CREATE_TOPICS_ENABLE": "false",
    }.items():
        kafka = kafka.with_env(f"KAFKA_{name}", value)
    with kafka, \
            DockerContainer("mongo:6.0").with_command(["--replSet", "rs0", "--bind_ip_all", *mongod_parameter_args()]
                                                      ).with_exposed_ports(27017) as mongo:
        wait_for_logs(kafka, "Kafka Server started", timeout=120)
        wait_for_logs(mongo, "Waiting for connections")
        host, port = mongo.get_container_host_ip(), mongo.get_exposed_port(27017)
        mongo.exec(["mongosh", "--quiet", "--eval",
                    f"rs.initiate({{_id:'rs0',members:[{{_id:0,host:'{host}:{port}'}}]}})"])
        yield Infrastructure(f"mongodb://{host}:{port}/?directConnection=true", f"localhost:{kafka_port}", "docker")


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    kind = os.environ.get("TEST_INFRA", "auto")
    if kind == "local":
        infra_iter = _local()
    elif docker_engine_available():
        infra_iter = _docker()
    elif kind == "docker":
        pytest.skip("TEST_INFRA=docker but no Docker engine answers")
    else:
        infra_iter = _local()
    infra = next(infra_iter)
    run_blocking(ensure_topics(infra.kafka_bootstrap, TOPICS))  # may be requested from an async fixture
    yield infra
    next(infra_iter, None)


@pytest.fixture
def unique() -> str:
    """A short unique suffix for databases and topics, so tests never see each other's data."""
    return uuid.uuid4().hex[:10]


def service_env(infra: Infrastructure, **extra: str) -> dict[str, str]:
    """Environment for a service process pointed at the test infrastructure."""
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap, "MONGO_URL": infra.mongo_url,
            "LOG_JSON": "true", **extra}
