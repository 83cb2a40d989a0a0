"""The whole system as separate processes the harness can kill one by one: mongod, Apache Kafka, and each
service instance (two of routing and of the gateway), each restartable on the same data folder and port.

Unlike `./dev run`'s supervisor, nothing here stops the rest when one process dies: that is the point."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shared.broker import ensure_topics
from shared.contracts.catalogue import TOPICS
from shared.localstack.kafka import LocalKafka
from shared.localstack.processes import (
    LocalMongo,
    ManagedProcess,
    free_port,
    wait_for_ready,
)

# Two instances of routing and of the gateway (same consumer group, same database), one of the others.
INSTANCES: tuple[tuple[str, str], ...] = (
    ("routing", "a"), ("routing", "b"), ("chat", "a"), ("customer", "a"), ("cases", "a"),
    ("gateway", "a"), ("gateway", "b"))

# The services' settings in a chaos run: request limits out of reach (one harness client speaks for many
# people), cheap password hashing, a short session timeout (a killed instance's partitions move sooner).
SERVICE_ENV = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192", "RATE_LIMIT_PER_S": "1000000",
               "RATE_LIMIT_BURST": "1000000", "CHAT_STARTS_PER_MINUTE": "1000000", "ANSWER_TIMEOUT_S": "5"}


@dataclass
class Instance:
    service: str
    name: str
    port: int
    process: ManagedProcess
    restarts: int = 0
    ready_after_restart_s: list[float] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Cluster:
    def __init__(self, root: Path, extra_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.mongo = LocalMongo(root / "mongo", free_port())
        self.kafka = LocalKafka(root / "kafka", free_port())
        self.instances: dict[str, Instance] = {}
        self.extra_env = {**SERVICE_ENV, **(extra_env or {})}
        self.stopped_broker = False

    def start(self) -> None:
        self.mongo.start()
        self.kafka.start()
        asyncio.run(ensure_topics(self.kafka.bootstrap_servers, TOPICS))
        ports = {(s, n): free_port() for s, n in INSTANCES}
        first = {s: ports[(s, n)] for s, n in reversed(INSTANCES)}  # each service's instance a (reads go there)
        common = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers, "MONGO_URL": self.mongo.url,
                  "LOG_JSON": "true", **self.extra_env,
                  **{f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in first.items()}}
        for service, name in INSTANCES:
            port = ports[(service, name)]
            label = f"{service}-{name}"
            proc = ManagedProcess(label, [sys.executable, "-m", f"services.{service}"],
                                  self.root / "logs" / f"{label}.log", env={**common, "HTTP_PORT": str(port)})
            self.instances[label] = Instance(service, name, port, proc)
            proc.start()
        for instance in self.instances.values():
            wait_for_ready(instance.port, instance.process.alive, what=instance.label, timeout_s=180)

    def gateways(self) -> list[str]:
        return [i.url for i in self.instances.values() if i.service == "gateway"]

    # --- faults -----------------------------------------------------------------------------------------

    def kill(self, label: str) -> None:
        self.instances[label].process.kill()

    def restart(self, label: str) -> float:
        """Start a killed instance again; returns the seconds until it reported ready."""
        instance = self.instances[label]
        began = time.monotonic()
        instance.process.start()
        wait_for_ready(instance.port, instance.process.alive, what=label, timeout_s=180)
        took = time.monotonic() - began
        instance.restarts += 1
        instance.ready_after_restart_s.append(took)
        return took

    def kill_mongod(self) -> None:
        self.mongo.kill()

    def restart_mongod(self) -> None:
        self.mongo.start(timeout_s=120)

    def kill_broker(self) -> None:
        self.kafka.kill()

    def restart_broker(self) -> None:
        self.kafka.start(timeout_s=120)

    def pause_broker(self) -> None:
        assert self.kafka.pid is not None
        os.kill(self.kafka.pid, signal.SIGSTOP)
        self.stopped_broker = True

    def resume_broker(self) -> None:
        assert self.kafka.pid is not None
        os.kill(self.kafka.pid, signal.SIGCONT)
        self.stopped_broker = False

    def dead(self) -> list[str]:
        """Service instances that exited by themselves (not killed by the harness and not restarted)."""
        return [label for label, i in self.instances.items() if not i.process.alive()]

    def stop(self) -> None:
        if self.stopped_broker:
            self.resume_broker()
        for instance in reversed(self.instances.values()):
            instance.process.stop()
        self.kafka.stop()
        self.mongo.stop()
