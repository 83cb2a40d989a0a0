"""The local broker's set-up says clearly what is missing (Java 17+, Maven, Maven Central) and the two
ways on; its generated configuration is what a single node needs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from shared.localstack import kafka

pytestmark = pytest.mark.unit


def _script(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def bare_path(tmp_path, monkeypatch) -> Path:
    """A PATH with only the folder the test fills, no JAVA_HOME, and an empty jar cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(kafka, "JARS_CACHE", tmp_path / "jars")
    return bin_dir


def _says_ways_on(message: str) -> None:
    assert "Java 17+" in message and "Maven" in message and "docker compose up" in message


def test_no_java_is_one_clear_message(bare_path):
    with pytest.raises(kafka.KafkaUnavailable) as raised:
        kafka.java_binary()
    assert "no `java`" in str(raised.value)
    _says_ways_on(str(raised.value))


def test_java_older_than_17_is_refused_with_its_version(bare_path):
    _script(bare_path, "java", 'echo \'openjdk version "11.0.21" 2023-10-17\' >&2')
    with pytest.raises(kafka.KafkaUnavailable) as raised:
        kafka.java_binary()
    assert "Java 11" in str(raised.value)
    _says_ways_on(str(raised.value))


def test_java_17_is_accepted(bare_path):
    _script(bare_path, "java", 'echo \'openjdk version "17.0.15" 2025-04-15\' >&2')
    assert kafka.java_binary() == str(bare_path / "java")


def test_no_maven_for_the_first_fetch_is_one_clear_message(bare_path):
    with pytest.raises(kafka.KafkaUnavailable) as raised:
        kafka.broker_jars()
    assert "no `mvn`" in str(raised.value)
    _says_ways_on(str(raised.value))


def test_maven_central_unreachable_shows_mavens_error_and_leaves_no_half_copy(bare_path):
    _script(bare_path, "mvn", 'echo "[ERROR] Could not transfer artifact org.apache.kafka:kafka_2.13:pom:4.4.0"; exit 1')
    with pytest.raises(kafka.KafkaUnavailable) as raised:
        kafka.broker_jars()
    assert "Maven Central reachable" in str(raised.value) and "Could not transfer artifact" in str(raised.value)
    _says_ways_on(str(raised.value))
    assert list(kafka.JARS_CACHE.iterdir()) == []


def test_a_completed_fetch_is_reused_without_maven(bare_path):
    # Shell built-ins only: the PATH holds nothing else.
    _script(bare_path, "mvn", 'for a in "$@"; do case "$a" in -DoutputDirectory=*) out="${a#*=}";; esac; done; '
                              ': > "$out/kafka_2.13.jar"; echo run >> "${out%/*}/mvn-runs"')
    first = kafka.broker_jars()
    assert (first / "kafka_2.13.jar").exists() and first.name.startswith(kafka.kafka_version())
    (bare_path / "mvn").unlink()
    assert kafka.broker_jars() == first
    assert (kafka.JARS_CACHE / "mvn-runs").read_text().count("run") == 1


def test_server_properties_are_those_of_a_single_node(tmp_path):
    text = kafka._server_properties(port=19092, controller_port=19093, log_dir=tmp_path)
    props = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "share.coordinator.state.topic.replication.factor", "default.replication.factor"):
        assert props[key] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "false"
    assert int(props["log.retention.hours"]) > 0 and int(props["log.retention.bytes"]) > 0
