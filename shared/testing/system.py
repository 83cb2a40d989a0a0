"""The whole system as `./dev run` starts it (mongod, Apache Kafka, every service as a process), in a
temporary directory on free ports, and the clients a frontend would use: HTTP (httpx) and WebSockets.
Used by the end-to-end tests (tests/e2e) and the conversation benchmark."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets

from shared.localstack.processes import ManagedProcess, free_port, wait_for_ready
from shared.registry import SERVICES

Frame = dict[str, Any]
REPLAY_WINDOW_S = 45  # the gateway's replay window in these tests (24 h by default): resync can be seen in a test,
# and a slow run (a loaded CI machine) still replays what a test wrote a while ago


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _free_offset(avoid: set[int]) -> int:
    """A port offset at which every service's port is free (and none is in `avoid`: ports chosen for mongod
    and Kafka, not bound yet). Tried in random order: a stack started moments ago by another test run binds
    its services' ports only after mongod and Kafka are up, so the first free offset in a fixed order is often
    the one it already chose (its gateway then answered our clients). All below the kernel's ephemeral range
    (32768 and up here), where outgoing connections take their local ports (see processes.free_port)."""
    import random
    import socket
    offsets = list(range(2_000, 24_000, 137))
    random.shuffle(offsets)
    for offset in offsets:
        ports = [s.http_port + offset for s in SERVICES]
        if avoid & set(ports):
            continue
        try:
            for port in ports:
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return offset
    raise RuntimeError("no free port range for the services")


class System:
    def __init__(self, root: Path, service_env: dict[str, str] | None = None) -> None:
        self.root = root
        self.mongo_port, self.kafka_port, self.controller_port = free_port(), free_port(), free_port()
        self.offset = _free_offset({self.mongo_port, self.kafka_port, self.controller_port})
        self.gateway_url = self.service_url("gateway")
        self.mongo_url = f"mongodb://127.0.0.1:{self.mongo_port}/?replicaSet=rs0"
        self.proc: subprocess.Popen[str] | None = None
        # the gateway's settings in these tests: a short replay window (so resync can be seen), cheap argon2;
        # every process traces into a file of its own in traces/ (spans exported every 200 ms), read by spans()
        self.service_env = service_env if service_env is not None else {
            "ANSWER_TIMEOUT_S": "10", "REPLAY_WINDOW_S": str(REPLAY_WINDOW_S),
            "ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "8192",
            "OTEL_TRACES_FILE": str(self.traces_dir / "{service}-{pid}.jsonl"), "OTEL_BSP_SCHEDULE_DELAY": "200"}
        self.output: list[str] = []

    def service_url(self, name: str) -> str:
        """Where a service listens (the gateway's public API; the others' internal read APIs)."""
        return f"http://127.0.0.1:{next(s.http_port for s in SERVICES if s.name == name) + self.offset}"

    def start(self, timeout_s: float = 240.0) -> None:
        # The stack runs in a session of its own (so Ctrl-C reaches it once, through stop()). A benchmark or test
        # run killed with SIGTERM then left it running, loading the machine for the next measurement: make
        # SIGTERM an exit, so the caller's finally (or pytest's fixture teardown) stops it.
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.log = open(self.root / "stack.out", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.localstack", "--dir", str(self.root), "--mongo-port", str(self.mongo_port),
             "--kafka-port", str(self.kafka_port), "--kafka-controller-port", str(self.controller_port),
             "--port-offset", str(self.offset), "--no-demo"],
            stdout=self.log, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "LOG_JSON": "true", **self.service_env})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = (self.root / "stack.out").read_text()
            if "gateway listens on" in text:
                return
            if self.proc.poll() is not None or "failed:" in text:
                break
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the system did not start:\n{(self.root / 'stack.out').read_text()[-4000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def extra_instance(self, name: str, instance: str) -> tuple[ManagedProcess, str]:
        """One more instance of a service beside the stack's (same database, same consumer group), as a second
        replica; the test stops or kills it. Returns the process and its base URL."""
        port = free_port()
        ports = {s.name: s.http_port + self.offset for s in SERVICES}
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{self.kafka_port}", "MONGO_URL": self.mongo_url,
               "HTTP_PORT": str(port), "LOG_JSON": "true", **self.service_env,
               **{f"{n.upper()}_URL": f"http://127.0.0.1:{p}" for n, p in ports.items()}}
        proc = ManagedProcess(f"{name}-{instance}", [sys.executable, "-m", f"services.{name}"],
                              self.root / "logs" / f"{name}-{instance}.log", env=env)
        proc.start()
        wait_for_ready(port, proc.alive, what=f"{name}-{instance}")
        return proc, f"http://127.0.0.1:{port}"

    def pids(self) -> list[int]:
        """The stack's processes (mongod, Kafka, every service), as its supervisor recorded them."""
        path = self.root / "stack.pids"
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def traces_dir(self) -> Path:
        return self.root / "traces"

    def spans(self) -> list[dict[str, Any]]:
        """Every span the processes exported so far (shared.tracing's JSON lines), all files together; a line
        being written as this reads is left for the next read."""
        found = []
        for path in sorted(self.traces_dir.glob("*.jsonl")) if self.traces_dir.is_dir() else []:
            for line in path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    found.append(json.loads(line))
        return found

    def service_log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text() if path.exists() else ""


class Api:
    """One frontend's HTTP client of the gateway (an agent's desktop, an admin, a customer's widget)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=30)
        self.base_url = base_url
        self.token = token

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    async def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body if body is not None else {}, headers=self._headers(headers))

    async def put(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.put(path, json=body, headers=self._headers(headers))

    async def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.patch(path, json=body, headers=self._headers(headers))

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=self._headers(None))

    async def get(self, path: str, **params: Any) -> httpx.Response:
        """A query in `path` is kept when no `params` are given (httpx drops it for any params, even empty)."""
        return await self.http.get(path, params=params or None, headers=self._headers(None))

    async def close(self) -> None:
        await self.http.aclose()


class Stream:
    """A WebSocket stream as a frontend holds it: every frame kept, waits poll with a deadline."""

    def __init__(self, url: str, on_frame: Callable[[Frame], None] | None = None) -> None:
        self.url = url
        self.on_frame = on_frame  # called for every frame as it arrives (benchmarks timestamp them)
        self.frames: list[Frame] = []
        self.closed: tuple[int, str] | None = None
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def open(self) -> Stream:
        self._socket = await websockets.connect(self.url, open_timeout=15)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self._socket:
                frame = json.loads(raw)
                self.frames.append(frame)
                if self.on_frame is not None:
                    self.on_frame(frame)
                self._changed.set()
        except websockets.ConnectionClosed:
            pass
        self.closed = (self._socket.close_code, self._socket.close_reason)
        self._changed.set()

    @property
    def last_position(self) -> int:
        positions = [f["position"] for f in self.frames if "position" in f and f.get("type") != "resync"]
        return max(positions, default=-1)

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout_s: float = 20.0,
                       what: str = "a frame") -> Frame:
        deadline = asyncio.get_running_loop().time() + timeout_s
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if predicate(frame):
                    return frame
            seen = len(self.frames)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"no {what} within {timeout_s} s on {self.url.split('?')[0]} "
                                     f"(closed={self.closed}); frames: {self.frames[-10:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_closed(self, timeout_s: float = 20.0) -> tuple[int, str]:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self.closed is None:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"the socket stayed open for {timeout_s} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.closed

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def ws_url(http_url: str, path: str, **params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{http_url.replace('http://', 'ws://')}{path}?{query}"
