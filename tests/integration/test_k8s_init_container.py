"""The Kubernetes services' init container (deploy/k8s/service-base/deployment.yaml, `wait-for-deps`) is Python
inside YAML that only a cluster would otherwise run: here it runs as written, against a real mongod and a fresh
Kafka with no topic, as the first pod of a new install meets them. It must wait for both and leave every topic
of the catalogue in place, since nothing orders the topics Job before the services."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.catalogue import TOPICS
from shared.localstack.kafka import LocalKafka
from shared.localstack.processes import free_port
from shared.testing.fixtures import Infrastructure, service_env

pytestmark = pytest.mark.integration

DEPLOYMENT = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "service-base" / "deployment.yaml"


def init_container() -> dict:
    spec = yaml.safe_load(DEPLOYMENT.read_text())["spec"]["template"]["spec"]
    (container,) = [c for c in spec["initContainers"] if c["name"] == "wait-for-deps"]
    return container


async def topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_the_init_container_waits_for_kafka_and_creates_the_missing_topics(infrastructure, tmp_path):
    command = init_container()["command"]
    assert command[:2] == ["python", "-c"]
    kafka = LocalKafka(tmp_path / "kafka", free_port())
    env = service_env(Infrastructure(infrastructure.mongo_url, kafka.bootstrap_servers, "local"))
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", command[2], stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT, env=env)
    seen: list[str] = []

    async def read_until(text: str, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not any(text in line for line in seen):
                line = await proc.stdout.readline()
                if not line:
                    raise AssertionError(f"exited ({await proc.wait()}) before saying {text!r}: {seen}")
                seen.append(line.decode(errors="replace"))

    try:
        # MongoDB answers, the broker is not there yet: it must wait for it, not fail
        await read_until("broker not ready", timeout_s=60)
        await asyncio.to_thread(kafka.start)
        await read_until("Kafka has every topic", timeout_s=180)
        assert await asyncio.wait_for(proc.wait(), 30) == 0, seen
        assert not any("created here: none" in line for line in seen), seen  # a new broker: it made them
        assert {t.name for t in TOPICS} <= await topic_names(kafka.bootstrap_servers)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await asyncio.to_thread(kafka.stop)
