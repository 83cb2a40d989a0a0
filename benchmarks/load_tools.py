"""What the load benchmarks (benchmarks.soak, benchmarks.sockets) share: the processes of a System by role with
their resident memory and open-files limit, each service's /metrics (consumer lag, dead letters, sockets open),
a team of agents who accept every offer, and the widget's own way to start a chat and hold its stream.

Everything goes through the gateway's public API as the desk and the widget do (services/gateway/web); the
clock is the client's (time.monotonic)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.broker_hop import descendants, pct, process_usage
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.registry import SERVICES
from shared.testing.system import System, ws_url

TENANT, PASSWORD = "bench", "benchmark-password"
SERVICE_NAMES = [s.name for s in SERVICES]
MB = 1e6  # memory is printed in MB (10^6 bytes), as the issue states its limits


# --- processes ---------------------------------------------------------------------------------------------------

def raise_open_files() -> tuple[int, int]:
    """Raise this process's soft open-files limit to its hard limit (the system's processes inherit it: System
    starts the stack from here, and the stack starts every service). Returns (soft, hard) after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard_value = max(soft, 1_048_576)
    else:
        hard_value = hard
    if soft < hard_value:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard_value, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def open_files_limit(pid: int) -> str:
    """The soft open-files limit of a running process, from /proc/PID/limits."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return line.split()[3]
    return "?"


def open_files(pid: int) -> int | None:
    """File descriptors a process holds now."""
    try:
        return len(list(Path(f"/proc/{pid}/fd").iterdir()))
    except OSError:
        return None


def role_of(pid: int) -> str | None:
    """'mongod', 'kafka' or a service's name, from the process's command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    if argv and Path(argv[0]).name == "mongod":
        return "mongod"
    if "kafka.Kafka" in argv:
        return "kafka"
    for arg in argv:
        if arg.startswith("services."):
            return arg.removeprefix("services.")
    return None


def system_processes(system: System) -> dict[str, int]:
    """Role -> PID of every process the stack runs (mongod, kafka, the five services)."""
    found = {}
    for pid in system.pids():
        role = role_of(pid)
        if role is not None:
            found[role] = pid
    return found


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process and its living descendants in MB (VmRSS from /proc: chat's sentiment model
    is a child process of chat's, and counts in chat's memory as in its pod's); None once it is gone."""
    total = None
    for each in (pid, *descendants([pid])[pid]):
        try:
            with open(f"/proc/{each}/status") as f:
                kib = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None)
        except OSError:
            kib = None
        if kib is not None:
            total = (total or 0.0) + kib * 1024 / MB
        elif each == pid:
            return None
    return total


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) a process and its living descendants have used so far (chat's sentiment
    model included; a descendant that ended meanwhile is no longer counted); None once it is gone."""
    try:
        total = process_usage(pid)[1]
    except (OSError, StopIteration):
        return None
    for each in descendants([pid])[pid]:
        with contextlib.suppress(OSError, StopIteration):
            total += process_usage(each)[1]
    return total


def slope_per_minute(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute; None with fewer than 2 distinct times."""
    if len({t for t, _ in points}) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    num = sum((t - mean_t) * (v - mean_v) for t, v in points)
    den = sum((t - mean_t) ** 2 for t, _ in points)
    return num / den * 60


# --- /metrics ----------------------------------------------------------------------------------------------------

async def scrape(http: httpx.AsyncClient, base_url: str) -> dict[str, float]:
    """A service's consumer lag (records summed over its subscriptions, seconds as the largest), dead letters
    (summed) and, on the gateway, streams open. Empty when the scrape failed."""
    try:
        response = await http.get(f"{base_url}/metrics", timeout=5)
        response.raise_for_status()
    except httpx.HTTPError:
        return {}
    found = {"lag_records": 0.0, "lag_seconds": 0.0, "dead_letters": 0.0}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "consumer_lag_records":
                found["lag_records"] += sample.value
            elif sample.name == "consumer_lag_seconds":
                found["lag_seconds"] = max(found["lag_seconds"], sample.value)
            elif sample.name == "dead_letters_total":
                found["dead_letters"] += sample.value
            elif sample.name == "websocket_streams_open":
                found["streams_open"] = sample.value
    return found


# --- the team -----------------------------------------------------------------------------------------------------

async def admin_client(system: System, http: httpx.AsyncClient) -> dict[str, str]:
    """A tenant with its admin; the admin's authorization header."""
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    signed = await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "admin",
                                                        "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    return {"authorization": f"Bearer {signed.json()['access_token']}"}


async def configure(http: httpx.AsyncClient, admin: dict[str, str], *, agents: list[str], capacity: int,
                    queues: dict[str, list[str]], offer_timeout_s: int = 120) -> None:
    """Agents with a chat capacity, and queues with their members (a queue with none: nobody is offered its
    chats, they wait)."""
    for agent in agents:
        r = await http.post("/v1/admin/staff", json={"user_id": agent, "password": PASSWORD,
                                                     "capacity": {"chat": capacity}}, headers=admin)
        assert r.status_code == 200, r.text
    for queue, members in queues.items():
        r = await http.put(f"/v1/admin/queues/{queue}", json={"name": queue, "members": dict.fromkeys(members, 1),
                                                              "offer_timeout_s": offer_timeout_s}, headers=admin)
        assert r.status_code == 200, r.text


class Errors:
    """Every failure the client saw, with when (monotonic) and what, counted by kind."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, str]] = []

    def add(self, kind: str, detail: str) -> None:
        self.seen.append((time.monotonic(), kind, detail[:300]))

    def http(self, kind: str, response: httpx.Response) -> bool:
        """Record a non-2xx answer; True when the answer was 2xx."""
        if 200 <= response.status_code < 300:
            return True
        self.add(kind, f"{response.status_code} {response.text[:200]}")
        return False

    def between(self, start: float, end: float) -> int:
        return sum(1 for t, _, _ in self.seen if start <= t < end)

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for _, kind, detail in self.seen:
            counts[f"{kind} {detail.split()[0] if detail else ''}".strip()] += 1
        return dict(counts)

    def __len__(self) -> int:
        return len(self.seen)


async def customer_message(http: httpx.AsyncClient, errors: Errors, sent: dict[str, float], refused: set[str],
                           cid: str, token: str, cmid: str, text: str) -> None:
    """A customer's message from the widget, its send time kept by client message id (`sent`), a refusal (4xx)
    in `refused` (it never reaches a socket), every failure in `errors`."""
    sent[cmid] = time.monotonic()
    try:
        r = await http.post(f"/v1/widget/conversations/{cid}/messages", json={"client_message_id": cmid, "text": text},
                            headers={"authorization": f"Bearer {token}"})
        if not errors.http("customer-message", r) and 400 <= r.status_code < 500:
            refused.add(cmid)
    except httpx.HTTPError as exc:
        errors.add("customer-message", repr(exc))


class Agent:
    """A desk: signed in, its stream open, Available, accepting every offer, and timestamping the customers'
    message frames (client_message_id -> monotonic arrival). Like the desktop (web/desk.js), it refreshes its
    access token when a request is refused 401 (POST /v1/auth/refresh, one refresh at a time) and sends that
    request once more; its socket, authorised when it opened, stays open."""

    def __init__(self, http: httpx.AsyncClient, system: System, user_id: str, errors: Errors,
                 arrived: dict[str, float]) -> None:
        self.http, self.system, self.user_id, self.errors, self.arrived = http, system, user_id, errors, arrived
        self.access = ""
        self.refresh_token = ""
        self.refreshing = asyncio.Lock()
        self.refreshes = 0
        self.states: dict[str, str] = {}  # conversation -> its latest state on this desk
        self.changed: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.socket: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.closed_unexpectedly = 0
        self.stopping = False

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.access}"}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def start(self) -> None:
        signed = await self.http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": self.user_id,
                                                                 "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        self.access, self.refresh_token = signed.json()["access_token"], signed.json()["refresh_token"]
        self.socket = await websockets.connect(
            ws_url(self.system.gateway_url, "/v1/agent/stream", access_token=self.access), open_timeout=30)
        self.reader = asyncio.create_task(self._read())
        r = await self.request("PUT", "/v1/agent/presence", {"presence": "available"})
        assert r.status_code == 200, r.text

    async def _refresh(self, stale: str) -> None:
        async with self.refreshing:
            if self.access != stale:  # another request refreshed it meanwhile
                return
            r = await self.http.post("/v1/auth/refresh", json={"refresh_token": self.refresh_token})
            if self.errors.http("refresh", r):
                self.access, self.refresh_token = r.json()["access_token"], r.json()["refresh_token"]
                self.refreshes += 1

    async def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A request with the access token; on 401 the token is refreshed and the request sent once more."""
        token = self.access
        r = await self.http.request(method, path, json=body, headers={"authorization": f"Bearer {token}"})
        if r.status_code == 401:
            await self._refresh(token)
            r = await self.http.request(method, path, json=body, headers=self.auth)
        return r

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                self.on_frame(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        if not self.stopping:
            self.closed_unexpectedly += 1
            self.errors.add("agent-socket-closed", f"{self.socket.close_code} {self.socket.close_reason}")

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind, cid = frame.get("type"), frame.get("conversation_id")
        if kind == "message":
            cmid = frame.get("client_message_id") or ""
            if frame.get("sender", {}).get("kind") == "customer":
                self.arrived.setdefault(cmid, time.monotonic())
        elif kind == "offer":
            self._spawn(self._accept(cid, frame["offer_id"]))
        elif kind == "conversation_state":
            self.states[cid] = frame["state"]
            self.changed[cid].set()
        elif kind == "conversation_closed":
            self.states[cid] = "closed"
            self.changed[cid].set()

    async def _accept(self, cid: str, offer_id: str) -> None:
        try:
            r = await self.request("POST", f"/v1/conversations/{cid}/accept", {"offer_id": offer_id})
            self.errors.http("accept", r)
        except httpx.HTTPError as exc:
            self.errors.add("accept", repr(exc))

    async def wait_state(self, cid: str, states: set[str], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.states.get(cid) not in states:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event = self.changed[cid]
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)
        return True

    def active(self) -> set[str]:
        return {cid for cid, state in self.states.items() if state == "active"}

    async def stop(self) -> None:
        self.stopping = True
        for task in self.tasks:
            task.cancel()
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


def owner_of(agents: list[Agent], cid: str) -> Agent | None:
    for agent in agents:
        if agent.states.get(cid) in ("active", "wrap_up"):
            return agent
    return None


async def answered(http: httpx.AsyncClient, response: httpx.Response, headers: dict[str, str],
                   deadline_s: float = 30.0) -> httpx.Response:
    """A command's final answer the clients' way (common.js Api.call): a 504 names an answer_url, read every
    0.5 s (202: not yet) for at most 30 s; any other answer is returned as it is."""
    if response.status_code != 504:
        return response
    try:
        url = response.json()["answer_url"]
    except (ValueError, KeyError, TypeError):
        return response
    began = time.monotonic()
    while time.monotonic() - began < deadline_s:
        await asyncio.sleep(0.5)
        polled = await http.get(url, headers=headers)
        if polled.status_code != 202:
            return polled
    return response


# --- the widget ---------------------------------------------------------------------------------------------------

async def widget_start(http: httpx.AsyncClient, queue: str, message: str | None, *, name: str | None = None,
                       retries: list[int] | None = None, deadline_s: float = 30.0) -> httpx.Response:
    """A chat start as the widget sends it (widget.js / common.js postOnce): with an Idempotency-Key, sent again
    with the same key while the gateway answers 504 (for at most 30 s). `retries` counts each 504 seen."""
    key = str(uuid.uuid4())
    body: dict[str, Any] = {"queue_id": queue, "prechat": {}}
    if message:
        body["message"] = message
    if name:
        body["name"] = name
    began = time.monotonic()
    while True:
        response = await http.post(f"/v1/widget/{TENANT}/conversations", json=body, headers={"Idempotency-Key": key})
        if response.status_code == 504 and time.monotonic() - began < deadline_s:
            if retries is not None:
                retries.append(504)
            await asyncio.sleep(1.0)
            continue
        return response


class CustomerStream:
    """The widget's live stream (common.js LiveStream): `?token=...&after=<last position seen>`; every frame's
    position is kept, so a reconnect resumes where it stopped. Reconnection is the caller's (the benchmarks count
    a close as an error instead of hiding it)."""

    def __init__(self, system_url: str, token: str, after: int = 0,
                 on_frame: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.url, self.token, self.position, self.on_frame = system_url, token, after, on_frame
        self.frames = 0
        self.socket: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.closed: tuple[int | None, str] | None = None
        self.stopping = False

    async def open(self, **connect: Any) -> None:
        # A browser sends no pings of its own (the server's, every 20 s, are answered): ping_interval=None.
        self.socket = await websockets.connect(ws_url(self.url, "/v1/widget/stream", token=self.token,
                                                      after=self.position),
                                               open_timeout=60, ping_interval=None, **connect)
        self.closed = None
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                frame = json.loads(raw)
                self.frames += 1
                if isinstance(frame.get("position"), int) and frame.get("type") != "resync":
                    self.position = max(self.position, frame["position"])
                if self.on_frame is not None:
                    self.on_frame(frame)
        except websockets.ConnectionClosed:
            pass
        self.closed = (self.socket.close_code, self.socket.close_reason or "")

    @property
    def is_open(self) -> bool:
        return self.socket is not None and self.closed is None

    async def close(self) -> None:
        self.stopping = True
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


async def bounded(items: list[Any], work: Callable[[Any], Any], concurrency: int) -> list[Any]:
    """`work(item)` for every item, at most `concurrency` at once; results in order (exceptions returned)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(item: Any) -> Any:
        async with gate:
            return await work(item)

    return await asyncio.gather(*(one(i) for i in items), return_exceptions=True)


def latency_cells(took: list[float], with_max: bool = True) -> str:
    """p50, p99 (and max) in ms, each 10 characters wide."""
    if not took:
        return "".join(f"{'-':>10s}" for _ in range(3 if with_max else 2))
    cells = f"{pct(took, 50) * 1e3:8.1f}ms{pct(took, 99) * 1e3:8.1f}ms"
    return cells + (f"{max(took) * 1e3:8.0f}ms" if with_max else "")
