"""One service run as its own process against the test infrastructure, with its own database, consumer group and
port: for integration tests that kill it (SIGKILL, as a crash would) and start it again."""

from __future__ import annotations

import sys
from pathlib import Path

from shared.localstack.processes import ManagedProcess, free_port, wait_for_ready
from shared.testing.fixtures import Infrastructure, service_env


class ServiceProcess:
    """`python -m services.<service>` with MONGO_DB and SERVICE_NAME (its consumer group) `<service>-<unique>`."""

    def __init__(self, service: str, infra: Infrastructure, unique: str, log_dir: Path) -> None:
        self.port = free_port()
        self.db_name = f"{service}-{unique}"
        self.log = log_dir / f"{service}.log"
        env = service_env(infra, MONGO_DB=self.db_name, SERVICE_NAME=f"{service}-{unique}", HTTP_PORT=str(self.port))
        self.process = ManagedProcess(service, [sys.executable, "-m", f"services.{service}"], self.log, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 120) -> None:
        """Start it and wait until it is ready (connected to MongoDB and Kafka, consuming)."""
        self.process.start()
        wait_for_ready(self.port, self.process.alive, what=f"{self.process.name} (log {self.log})",
                       timeout_s=timeout_s)

    def kill(self) -> None:
        """SIGKILL: whatever it handled but had not committed the offsets of is delivered again."""
        self.process.kill()

    def stop(self) -> None:
        self.process.stop(timeout_s=30)
