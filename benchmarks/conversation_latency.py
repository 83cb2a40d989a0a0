"""Benchmark: a customer's message to the agent's screen, through the whole system (gateway -> chat.commands ->
chat -> chat.events -> gateway -> change stream -> WebSocket), on a fresh broker and database.

    .venv/bin/python -m benchmarks.conversation_latency [--conversations 100] [--rate 20] [--duration-s 300]
        [--ramp 100,200,300,400] [--ramp-s 60] [--fetch-max-wait-ms 500]

Latency is taken with the client's clock from just before the widget's POST to the agent's socket frame that
carries that message (with its sequence number). Beside it, in the same run: one broker hop (produce acks=all ->
consume) and raw aiokafka throughput, and the whole system's idle CPU. Then each ramp rate for --ramp-s: the
highest rate held with p99 under --target-ms, nothing missing and no backlog. Figures, not a test."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from benchmarks.broker_hop import broker_round_trip, descendants, pct, process_usage
from benchmarks.harness import SERVICE_ENV
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.broker import ensure_topics, producer_config
from shared.contracts.catalogue import Topic
from shared.settings import ServiceSettings
from shared.testing.system import Stream, System, ws_url

PASSWORD = "benchmark-password"
TENANT = "bench"


class Desk:
    """An agent that accepts every offer and timestamps every benchmark message that reaches its screen."""

    def __init__(self, http: httpx.AsyncClient, token: str, url: str, arrived: dict[str, float]) -> None:
        self.http, self.arrived = http, arrived
        self.auth = {"authorization": f"Bearer {token}"}
        self.stream = Stream(ws_url(url, "/v1/agent/stream", access_token=token), on_frame=self.on_frame)
        self.active: set[str] = set()
        self.accepting: set[asyncio.Task[Any]] = set()

    def on_frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "message" and (frame.get("client_message_id") or "").startswith("b"):
            self.arrived.setdefault(frame["client_message_id"], time.monotonic())
        elif frame["type"] == "offer":
            task = asyncio.create_task(self.http.post(f"/v1/conversations/{frame['conversation_id']}/accept",
                                                      json={"offer_id": frame["offer_id"]}, headers=self.auth))
            self.accepting.add(task)
            task.add_done_callback(self.accepting.discard)
        elif frame["type"] == "conversation_state" and frame["state"] == "active":
            self.active.add(frame["conversation_id"])

    async def open(self) -> None:
        await self.stream.open()

    async def close(self) -> None:
        await self.stream.close()


async def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += process_usage(pid)[1]
    return total


def process_name(pid: int) -> str:
    """mongod, java (Kafka) or the service's module (`services.chat` -> chat)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return str(pid)
    service = next((a.rsplit(".", 1)[1] for a in args if a.startswith("services.")), None)
    return service or Path(args[0]).name


def cpu_by_process(pids: list[int]) -> dict[str, float]:
    """CPU seconds used so far by each process, by name, its descendants' included (a descendant that ended
    during the run is not counted: a side-work child replaced meanwhile makes the figure too low)."""
    used: dict[str, float] = defaultdict(float)
    for pid, tree in descendants(pids).items():
        for each in (pid, *tree):
            with contextlib.suppress(OSError, StopIteration):  # gone, or a zombie (no VmRSS line)
                used[process_name(pid)] += process_usage(each)[1]
    return used


def cpu_per_message(cpu_used: dict[str, float], messages: int) -> str:
    """'CPU per message: chat 36.1 ms, ...; total 134.2 ms' from cpu_by_process's differences over a run."""
    by_use = sorted(cpu_used.items(), key=lambda x: -x[1])
    return ("CPU per message: " + ", ".join(f"{name} {1e3 * used / messages:.1f} ms" for name, used in by_use)
            + f"; total {1e3 * sum(cpu_used.values()) / messages:.1f} ms")


async def mongod_operations(mongo_url: str) -> int:
    """Operations mongod counted so far (serverStatus opcounters: inserts, queries, updates, deletes, getMores,
    commands; each statement of a bulk write counts)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        counters = (await client.admin.command("serverStatus"))["opcounters"]
    finally:
        await client.close()
    return sum(v for k, v in counters.items() if k in ("insert", "query", "update", "delete", "getmore", "command"))


async def idle_cpu(system: System, seconds: float = 20.0) -> float:
    pids = system.pids()
    before = await cpu_seconds(pids)
    await asyncio.sleep(seconds)
    return 100 * (await cpu_seconds(pids) - before) / seconds


async def raw_throughput(bootstrap: str, count: int = 50_000) -> float:
    """Records per second through one producer and one consumer, as fast as aiokafka goes (1 KiB values)."""
    topic = Topic(name=f"bench.raw.{time.monotonic_ns()}", partitions=8, key="n", producer="bench", consumers=(),
                  description="")
    await ensure_topics(bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_config(ServiceSettings()))
    consumer = AIOKafkaConsumer(topic.name, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await producer.start()
    await consumer.start()
    value = b"x" * 1024
    start = time.monotonic()
    delivered = [await producer.send(topic.name, value, key=str(n).encode()) for n in range(count)]  # buffer space
    await asyncio.gather(*delivered)  # acks
    received = 0
    while received < count:
        got = await consumer.getmany(timeout_ms=1000)
        received += sum(len(v) for v in got.values())
    elapsed = time.monotonic() - start
    await producer.stop()
    await consumer.stop()
    return count / elapsed


class Load:
    def __init__(self, http: httpx.AsyncClient, customers: list[tuple[str, str]], arrived: dict[str, float]) -> None:
        self.http, self.customers, self.arrived = http, customers, arrived
        self.sent: dict[str, float] = {}
        self.errors: list[str] = []
        self.ids = itertools.count()

    async def _send(self, cid: str, token: str, cmid: str) -> None:
        self.sent[cmid] = time.monotonic()
        try:
            response = await self.http.post(f"/v1/widget/conversations/{cid}/messages",
                                            json={"client_message_id": cmid, "text": f"benchmark {cmid}"},
                                            headers={"authorization": f"Bearer {token}"})
            if response.status_code != 200:
                self.errors.append(f"{response.status_code} {response.text[:100]}")
        except httpx.HTTPError as exc:
            self.errors.append(repr(exc))

    async def run(self, rate: float, duration_s: float) -> list[str]:
        """Send at `rate` for `duration_s`; returns the ids sent, in order."""
        ids: list[str] = []
        tasks = []
        start = time.monotonic()
        for n in range(int(rate * duration_s)):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            cid, token = self.customers[n % len(self.customers)]
            cmid = f"b{next(self.ids)}"
            ids.append(cmid)
            tasks.append(asyncio.create_task(self._send(cid, token, cmid)))
        await asyncio.gather(*tasks)
        return ids

    async def settle(self, ids: list[str], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(i not in self.arrived for i in ids):
            await asyncio.sleep(0.1)

    def latencies(self, ids: list[str]) -> tuple[list[float], int]:
        took = [self.arrived[i] - self.sent[i] for i in ids if i in self.arrived and i in self.sent]
        return took, len(ids) - len(took)


def line(name: str, took: list[float], missed: int) -> str:
    if not took:
        return f"{name:>14s}  nothing arrived (missed {missed})"
    return (f"{name:>14s}  n={len(took):6d}  p50 {pct(took, 50) * 1e3:7.1f} ms  p99 {pct(took, 99) * 1e3:7.1f} ms  "
            f"max {max(took) * 1e3:7.1f} ms  missed {missed}")


async def benchmark(system: System, args: argparse.Namespace) -> None:
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as http:
        token = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "admin",
                                                           "password": PASSWORD})).json()["access_token"]
        admin = {"authorization": f"Bearer {token}"}
        agents = [f"agent-{n}" for n in range(math.ceil(args.conversations / args.capacity))]
        for agent in agents:
            r = await http.post("/v1/admin/staff", json={"user_id": agent, "password": PASSWORD,
                                                         "capacity": {"chat": args.capacity}}, headers=admin)
            assert r.status_code == 200, r.text
        r = await http.put("/v1/admin/queues/bench", json={"name": "bench", "members": dict.fromkeys(agents, 1),
                                                           "offer_timeout_s": 120}, headers=admin)
        assert r.status_code == 200, r.text
        arrived: dict[str, float] = {}
        desks = []
        for agent in agents:
            signed = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": agent,
                                                                "password": PASSWORD})).json()
            desk = Desk(http, signed["access_token"], system.gateway_url, arrived)
            await desk.open()
            r = await http.put("/v1/agent/presence", json={"presence": "available"},
                               headers={"authorization": f"Bearer {signed['access_token']}"})
            assert r.status_code == 200, r.text
            desks.append(desk)
        customers = []
        t0 = time.monotonic()
        for n in range(args.conversations):
            r = await http.post(f"/v1/widget/{TENANT}/conversations", json={"queue_id": "bench",
                                                                           "message": f"hello {n}"})
            assert r.status_code == 200, r.text
            customers.append((r.json()["conversation_id"], r.json()["conversation_token"]))
        while sum(len(d.active) for d in desks) < args.conversations:
            if time.monotonic() - t0 > 300:
                raise RuntimeError(f"only {sum(len(d.active) for d in desks)} conversations became active")
            await asyncio.sleep(0.2)
        print(f"{args.conversations} conversations active with {len(agents)} agents in "
              f"{time.monotonic() - t0:.1f} s (fetch_max_wait_ms={args.fetch_max_wait_ms})", flush=True)

        print(f"whole system idle CPU: {await idle_cpu(system):.1f}% of one core (20 s, {len(system.pids())} "
              f"processes: mongod, Kafka, five services)", flush=True)
        hop = await broker_round_trip(system.kafka_bootstrap, args.rate, 20)
        print(line("broker hop", hop, 0), f"(one produce -> consume at {args.rate}/s)", flush=True)
        print(f"raw aiokafka throughput: {await raw_throughput(system.kafka_bootstrap):,.0f} records/s "
              f"(1 KiB, one producer, one consumer)", flush=True)

        load = Load(http, customers, arrived)
        warm = await load.run(args.rate, 10)
        await load.settle(warm)
        cpu_before, ops_before = cpu_by_process(system.pids()), await mongod_operations(system.mongo_url)
        ids = await load.run(args.rate, args.duration_s)
        await load.settle(ids)
        took, missed = load.latencies(ids)
        cpu_used = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_by_process(system.pids()).items()}
        operations = await mongod_operations(system.mongo_url) - ops_before
        print(f"\n{args.rate}/s over {args.conversations} conversations for {args.duration_s:.0f} s:")
        by_minute: dict[int, list[str]] = defaultdict(list)
        first = load.sent[ids[0]]
        for i in ids:
            by_minute[int((load.sent[i] - first) // 60)].append(i)
        for minute, group in sorted(by_minute.items()):
            print(line(f"minute {minute + 1}", *load.latencies(group)))
        print(line("overall", took, missed))
        if took and hop:
            print(f"{'':>14s}  p50 {pct(took, 50) / pct(hop, 50):.1f}x and p99 {pct(took, 99) / pct(hop, 99):.1f}x "
                  f"the broker hop (two hops on the way)")
        print(f"{'':>14s}  HTTP errors: {len(load.errors)} {load.errors[:3]}", flush=True)
        if ids:  # CPU per message sent, idle share included (a run that fell behind also counts its drain)
            print(f"{'':>14s}  {cpu_per_message(cpu_used, len(ids))}", flush=True)
            print(f"{'':>14s}  MongoDB operations per message: {operations / len(ids):.1f}", flush=True)

        best = None
        for rate in args.ramp:
            ids = await load.run(rate, args.ramp_s)
            sent_done = time.monotonic()
            await load.settle(ids)
            took, missed = load.latencies(ids)
            # falling behind: the last 5 s of sends waited clearly longer than the first 5 s (or than the target)
            head = [load.arrived[i] - load.sent[i] for i in ids[: int(rate * 5)] if i in load.arrived]
            tail = [load.arrived[i] - load.sent[i] for i in ids[-int(rate * 5):] if i in load.arrived]
            backlog = bool(tail) and pct(tail, 50) > max(2 * pct(head or tail, 50), args.target_ms / 1e3)
            ok = bool(took) and pct(took, 99) * 1e3 <= args.target_ms and missed == 0 and not backlog
            print(line(f"{rate:.0f}/s", took, missed), f"backlog={'yes' if backlog else 'no'}",
                  f"drained {time.monotonic() - sent_done:.1f} s after the last send", "OK" if ok else "", flush=True)
            if ok:
                best = rate
            else:
                break
        print(f"highest rate held for {args.ramp_s:.0f} s with p99 <= {args.target_ms} ms: "
              f"{best if best is not None else 'none of ' + str(args.ramp)}")
        for desk in desks:
            await desk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--capacity", type=int, default=10, help="chats per agent")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--ramp", type=lambda s: [float(x) for x in s.split(",") if x], default=[100, 200, 300, 400])
    parser.add_argument("--ramp-s", type=float, default=60.0)
    parser.add_argument("--target-ms", type=float, default=150.0)
    parser.add_argument("--fetch-max-wait-ms", type=int, default=500)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="omni-bench-conv-"))
    system = System(root, service_env={**SERVICE_ENV,
                                       "KAFKA_FETCH_MAX_WAIT_MS": str(args.fetch_max_wait_ms), "LOG_LEVEL": "WARNING"})
    try:
        started = time.monotonic()
        system.start()
        print(f"system started in {time.monotonic() - started:.1f} s (fresh broker and database in {root})",
              flush=True)
        asyncio.run(benchmark(system, args))
    finally:
        system.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
