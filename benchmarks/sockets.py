"""Benchmark (issue 16): one gateway process holds 5,000 open customer sockets, idle, while 100 other conversations
carry 20 messages/s; beside it, in the same run, a bare WebSocket echo server (uvicorn + a trivial Starlette app, in
a process of its own) holding as many sockets, as the baseline.

    .venv/bin/python -m benchmarks.sockets [--sockets 5000] [--duration-s 120] [--conversations 100] [--rate 20]
        [--start-concurrency 50] [--connect-concurrency 100] [--idle-queues 50] [--sockets-per-chat 1]

1. Baseline: the echo server alone; its resident memory before and with --sockets sockets open (one echo each to
   prove they work).
2. The whole system (as `./dev run`). --sockets chats started through the widget API the widget's way
   (`POST /v1/widget/{tenant}/conversations` with an Idempotency-Key, sent again on 504), --start-concurrency at
   a time, into --idle-queues queues with no members (nobody is offered them: they wait, and stay idle); then each
   customer's stream opened the way the widget resumes one (`/v1/widget/stream?token=...&after=<last position
   seen>`: 0, as a page that saw nothing yet), --connect-concurrency at a time. Both timed. Each start costs
   about a quarter of a CPU-second over the system (printed), so 5,000 take minutes on 2 cores; with
   --sockets-per-chat N each chat's stream is opened N times (the widget open in N tabs) and N times fewer
   chats are started.
3. Meanwhile --conversations conversations (agents accepting the offers) carry --rate customer messages/s for
   --duration-s: latency with the client's clock from the widget's POST to the agent's socket frame, p50/p99
   against --target-ms (50). The gateway's resident memory is sampled every 2 s (must stay within --max-rss-gib,
   1.5), its sockets counted at the end from both sides (the clients' still open, the gateway's
   websocket_streams_open).

The open-files limit is raised to the hard limit here first; the stack and every service inherit it (printed).
Figures, not a test: run it with nothing else busy."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import time
from typing import Any

import httpx
import websockets

from benchmarks.broker_hop import pct
from benchmarks.harness import SERVICE_ENV, run_on_system
from benchmarks.load_tools import (
    MB,
    Agent,
    CustomerStream,
    Errors,
    admin_client,
    bounded,
    configure,
    cpu_seconds,
    customer_message,
    latency_cells,
    open_files,
    open_files_limit,
    raise_open_files,
    rss_mb,
    scrape,
    system_processes,
    widget_start,
)
from shared.localstack.processes import free_port, wait_for_port
from shared.testing.system import System

GIB = 1024 ** 3


# --- the baseline: a bare echo server ----------------------------------------------------------------------------

def echo_server(port: int) -> None:
    """A WebSocket echo server with nothing else: uvicorn with the gateway's uvicorn settings (shared/runtime.py)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket, WebSocketDisconnect

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[WebSocketRoute("/echo", echo)])
    uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None,
                                  access_log=False, timeout_keep_alive=5)).run()


async def baseline(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.sockets", "--echo-server", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    sockets: list[Any] = []
    try:
        wait_for_port(port, 30, proc)  # type: ignore[arg-type]
        await asyncio.sleep(1.0)
        idle = rss_mb(proc.pid) or 0.0

        async def connect(_: int) -> Any:
            socket = await websockets.connect(f"ws://127.0.0.1:{port}/echo", open_timeout=60, ping_interval=None)
            sockets.append(socket)
            return socket

        t0 = time.monotonic()
        results = await bounded(list(range(args.sockets)), connect, args.connect_concurrency)
        took = time.monotonic() - t0
        failed = [r for r in results if isinstance(r, BaseException)]

        async def echo_once(socket: Any) -> bool:
            await socket.send("ping")
            return await asyncio.wait_for(socket.recv(), 30) == "ping"

        echoed = await bounded(sockets, echo_once, args.connect_concurrency)
        await asyncio.sleep(2.0)
        held = rss_mb(proc.pid) or 0.0
        found = {"idle": idle, "held": held, "open": len(sockets), "failed": len(failed),
                 "echoed": sum(1 for e in echoed if e is True), "open_s": took,
                 "limit": open_files_limit(proc.pid), "fds": open_files(proc.pid)}
        print(f"baseline echo server (pid {proc.pid}, open-files limit {found['limit']}): {found['open']} sockets "
              f"open in {took:.1f} s ({found['failed']} failed, {found['echoed']} echoed); resident {idle:.0f} MB "
              f"idle -> {held:.0f} MB holding them ({(held - idle) * MB / 1024 / max(1, found['open']):.1f} KiB "
              f"per socket)", flush=True)
        return found
    finally:
        await bounded(sockets, lambda s: s.close(), args.connect_concurrency)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the gateway --------------------------------------------------------------------------------------------------

class Run:
    def __init__(self, system: System, args: argparse.Namespace, http: httpx.AsyncClient,
                 probe: httpx.AsyncClient) -> None:
        self.system, self.args, self.http, self.probe = system, args, http, probe
        self.errors = Errors()
        self.arrived: dict[str, float] = {}
        self.sent: dict[str, float] = {}
        self.refused: set[str] = set()  # messages refused 4xx: an error once, not also missing
        self.agents: list[Agent] = []
        self.idle: list[CustomerStream] = []
        self.processes = {**system_processes(system), "client": os.getpid()}
        self.gateway_pid = self.processes["gateway"]
        self.rss: list[tuple[str, float]] = []  # (phase, MB) every sample

    def cpu(self) -> dict[str, float]:
        return {role: cpu_seconds(pid) or 0.0 for role, pid in self.processes.items()}

    def cpu_used(self, before: dict[str, float], per: int, what: str, idle: dict[str, float] | None = None,
                 seconds: float = 0.0) -> str:
        """CPU each process used since `before`, in ms per `what` (largest first); less what it uses idle (per
        second, `idle`) over `seconds` when given."""
        now = self.cpu()
        used = sorted(((now[r] - before.get(r, 0.0) - (idle or {}).get(r, 0.0) * seconds) * 1e3 / max(1, per), r)
                      for r in now)
        return (f"CPU per {what}{' beyond idle' if idle else ''}: "
                + ", ".join(f"{r} {ms:.0f} ms" for ms, r in reversed(used))
                + f"; all {sum(ms for ms, _ in used):.0f} ms")

    async def idle_cpu(self, seconds: float) -> dict[str, float]:
        """CPU seconds per second each process uses with nothing sent (the sockets open)."""
        before = self.cpu()
        await asyncio.sleep(seconds)
        now = self.cpu()
        return {r: (now[r] - before.get(r, 0.0)) / seconds for r in now}

    def gateway_rss(self, phase: str) -> float:
        value = rss_mb(self.gateway_pid) or 0.0
        self.rss.append((phase, value))
        return value

    async def watch_rss(self, phase: str) -> None:
        while True:
            self.gateway_rss(phase)
            await asyncio.sleep(2.0)

    async def set_up(self) -> list[tuple[str, str]]:
        args = self.args
        admin = await admin_client(self.system, self.http)
        names = [f"agent-{n}" for n in range(math.ceil(args.conversations / args.capacity))]
        queues = {"bench": names, **{f"idle-{q}": [] for q in range(args.idle_queues)}}
        await configure(self.http, admin, agents=names, capacity=args.capacity, queues=queues)
        for name in names:
            agent = Agent(self.http, self.system, name, self.errors, self.arrived)
            await agent.start()
            self.agents.append(agent)
        customers = []
        t0 = time.monotonic()
        for n in range(args.conversations):
            r = await widget_start(self.http, "bench", f"hello {n}")
            assert r.status_code == 200, r.text
            customers.append((r.json()["conversation_id"], r.json()["conversation_token"]))
        wanted = {cid for cid, _ in customers}
        while not wanted <= set().union(*(a.active() for a in self.agents)):
            if time.monotonic() - t0 > 300:
                raise RuntimeError("the conversations did not all become active in 300 s")
            await asyncio.sleep(0.2)
        print(f"{args.conversations} conversations active with {len(names)} agents in {time.monotonic() - t0:.1f} s",
              flush=True)
        return customers

    async def start_idle_chats(self) -> list[str]:
        """--sockets chats started the widget's way, --start-concurrency at a time; their conversation tokens."""
        args = self.args
        retries: list[int] = []
        took: list[float] = []

        async def start(n: int) -> str | None:
            t0 = time.monotonic()
            try:
                r = await widget_start(self.http, f"idle-{n % args.idle_queues}", f"idle visitor {n}: hello",
                                       retries=retries)
            except httpx.HTTPError as exc:
                self.errors.add("idle-start", repr(exc))
                return None
            took.append(time.monotonic() - t0)
            if not self.errors.http("idle-start", r):
                return None
            return str(r.json()["conversation_token"])

        chats = math.ceil(args.sockets / args.sockets_per_chat)
        t0, cpu = time.monotonic(), self.cpu()
        tokens = await bounded(list(range(chats)), start, args.start_concurrency)
        elapsed = time.monotonic() - t0
        good = [t for t in tokens if isinstance(t, str)]
        print(f"{len(good)} of {chats} chats started in {elapsed:.1f} s ({len(good) / elapsed:.0f}/s, "
              f"{args.start_concurrency} at a time; per start p50 {pct(took, 50) * 1e3:.0f} ms, p99 "
              f"{pct(took, 99) * 1e3:.0f} ms; {len(retries)} answered 504 first and were sent again)\n  "
              f"{self.cpu_used(cpu, len(good), 'chat started')} (answered; work still queued is not in it)",
              flush=True)
        return good

    async def open_idle_sockets(self, tokens: list[str]) -> None:
        args = self.args

        async def connect(token: str) -> None:
            stream = CustomerStream(self.system.gateway_url, token, after=0)
            try:
                await stream.open()
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                self.errors.add("idle-connect", repr(exc))
                return
            self.idle.append(stream)

        t0 = time.monotonic()
        await bounded([t for t in tokens for _ in range(args.sockets_per_chat)][:args.sockets], connect,
                      args.connect_concurrency)
        elapsed = time.monotonic() - t0
        await asyncio.sleep(3.0)  # the replays (?after=0) arrive
        frames = sum(s.frames for s in self.idle)
        print(f"{len(self.idle)} customer sockets open in {elapsed:.1f} s ({args.connect_concurrency} at a time, "
              f"{args.sockets_per_chat} per chat; "
              f"resumed with ?after=0, {frames} frames replayed, {frames / max(1, len(self.idle)):.1f} each)",
              flush=True)

    async def customer_message(self, cid: str, token: str, cmid: str) -> None:
        await customer_message(self.http, self.errors, self.sent, self.refused, cid, token, cmid,
                               f"sockets {cmid}: where is my order?")

    async def send(self, customers: list[tuple[str, str]], rate: float, duration_s: float, prefix: str) -> list[str]:
        ids, tasks = [], []
        begin = time.monotonic()
        for n in range(int(rate * duration_s)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
            cid, token = customers[n % len(customers)]
            ids.append(f"{prefix}{n}")
            tasks.append(asyncio.create_task(self.customer_message(cid, token, ids[-1])))
        await asyncio.gather(*tasks)
        return ids

    async def settle(self, ids: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(i not in self.arrived for i in ids):
            await asyncio.sleep(0.1)

    async def run(self) -> dict[str, Any]:
        args = self.args
        found: dict[str, Any] = {"started": self.gateway_rss("started")}
        customers = await self.set_up()
        tokens = await self.start_idle_chats()
        found["chats"] = self.gateway_rss("chats started")
        await self.open_idle_sockets(tokens)
        await asyncio.sleep(2.0)
        found["sockets"] = self.gateway_rss("sockets open")
        found["fds"] = open_files(self.gateway_pid)
        print(f"gateway (pid {self.gateway_pid}, open-files limit {open_files_limit(self.gateway_pid)}, "
              f"{found['fds']} open now): resident {found['started']:.0f} MB after its start, {found['chats']:.0f} MB "
              f"after the starts, {found['sockets']:.0f} MB holding {len(self.idle)} idle sockets", flush=True)
        idle = await self.idle_cpu(args.idle_s)
        print(f"idle CPU ({args.idle_s:g} s, sockets open, nothing sent): "
              + ", ".join(f"{r} {v * 100:.0f}%" for r, v in sorted(idle.items(), key=lambda kv: -kv[1]))
              + f"; all {sum(idle.values()) * 100:.0f}% of one core", flush=True)
        warm = await self.send(customers, args.rate, args.warmup_s, "w")
        await self.settle(warm, 30)
        self.errors.seen = [e for e in self.errors.seen if not e[1].startswith("customer-message")]
        watcher = asyncio.create_task(self.watch_rss("load"))
        t0, cpu = time.monotonic(), self.cpu()
        ids = await self.send(customers, args.rate, args.duration_s, "m")
        sent_done = time.monotonic()
        await self.settle(ids, args.settle_s)
        drained = time.monotonic() - sent_done
        watcher.cancel()
        cpu_line = self.cpu_used(cpu, len(ids), "message", idle, time.monotonic() - t0)
        found["end"] = self.gateway_rss("end")
        took = [self.arrived[i] - self.sent[i] for i in ids if i in self.arrived]
        missed = sum(1 for i in ids if i not in self.arrived and i not in self.refused)
        load_rss = [v for phase, v in self.rss if phase in ("load", "end")]
        metrics = await scrape(self.probe, self.system.gateway_url)
        still_open = sum(1 for s in self.idle if s.is_open)
        agents_open = sum(1 for a in self.agents if a.closed_unexpectedly == 0)
        limit_mb = args.max_rss_gib * GIB / MB
        peak = max([v for _, v in self.rss])
        met = bool(took) and pct(took, 99) * 1e3 <= args.target_ms
        errors = len(self.errors) + missed + (len(self.idle) - still_open)  # failed starts and connects: in errors
        print(f"\n{args.rate:g} messages/s over {args.conversations} conversations for {args.duration_s:.0f} s beside "
              f"{len(self.idle)} idle customer sockets (drained {drained:.1f} s after the last send, "
              f"{time.monotonic() - t0:.0f} s in all)")
        print(f"{'':28s}{'sent':>7s}{'arrived':>8s}{'missed':>7s}{'p50':>10s}{'p99':>10s}{'max':>10s}  target")
        print(f"{'widget POST -> agent frame':28s}{len(ids):7d}{len(took):8d}{missed:7d}{latency_cells(took)}  "
              f"p99 <= {args.target_ms:g} ms: {'met' if met else 'NOT met'}")
        print(f"gateway resident memory: {found['sockets']:.0f} MB with the sockets open, "
              f"{min(load_rss):.0f}-{max(load_rss):.0f} MB under load, {found['end']:.0f} MB at the end; peak "
              f"{peak:.0f} MB of {limit_mb:.0f} MB ({args.max_rss_gib:g} GiB): "
              f"{'within' if peak <= limit_mb else 'OVER'}; "
              f"{(found['sockets'] - found['chats']) * MB / 1024 / max(1, len(self.idle)):.1f} KiB per idle socket")
        print(cpu_line)
        return {**found, "peak": peak, "still_open": still_open, "agents_open": agents_open, "errors": errors,
                "streams_metric": metrics.get("streams_open"), "met": met, "limit_mb": limit_mb,
                "missed": missed}


async def benchmark(system: System, args: argparse.Namespace, echo: dict[str, Any]) -> None:
    limits = httpx.Limits(max_connections=max(300, args.start_concurrency * 2),
                          max_keepalive_connections=max(300, args.start_concurrency * 2))
    async with (httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as http,
                httpx.AsyncClient(timeout=10) as probe):
        run = Run(system, args, http, probe)
        try:
            found = await run.run()
            print(f"sockets at the end: {found['still_open']} of {len(run.idle)} idle customer sockets still open, "
                  f"{found['agents_open']} of {len(run.agents)} agent sockets; the gateway counts "
                  f"{found['streams_metric']:.0f} streams open (websocket_streams_open)" if found['streams_metric']
                  is not None else "sockets at the end: gateway metric not read")
            per_gw = (found["sockets"] - found["chats"]) * MB / 1024 / max(1, len(run.idle))
            per_echo = (echo["held"] - echo["idle"]) * MB / 1024 / max(1, echo["open"])
            print(f"\n{'':34s}{'sockets':>9s}{'idle MB':>9s}{'held MB':>9s}{'KiB/socket':>11s}")
            print(f"{'bare echo server (uvicorn)':34s}{echo['open']:9d}{echo['idle']:9.0f}{echo['held']:9.0f}"
                  f"{per_echo:11.1f}")
            print(f"{'gateway (+ chats started first)':34s}{len(run.idle):9d}{found['chats']:9.0f}"
                  f"{found['sockets']:9.0f}{per_gw:11.1f}")
            print(f"\nerrors: {found['errors']} ({run.errors.by_kind()}, {found['missed']} messages missing, "
                  f"{len(run.idle) - found['still_open']} idle sockets closed; first few: "
                  f"{[d for _, _, d in run.errors.seen[:3]]})")
            print(f"verdict: p99 {'met' if found['met'] else 'NOT met'}, memory "
                  f"{'within' if found['peak'] <= found['limit_mb'] else 'OVER'} {args.max_rss_gib:g} GiB, "
                  f"errors {found['errors']}", flush=True)
        finally:
            for agent in run.agents:
                await agent.stop()
            await bounded(run.idle, lambda s: s.close(), args.connect_concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=5000, help="idle customer sockets (and echo sockets)")
    parser.add_argument("--duration-s", type=float, default=120.0)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--capacity", type=int, default=10, help="chats per agent")
    parser.add_argument("--rate", type=float, default=20.0, help="customer messages per second")
    parser.add_argument("--warmup-s", type=float, default=10.0)
    parser.add_argument("--idle-s", type=float, default=10.0, help="idle CPU measured this long before the load")
    parser.add_argument("--target-ms", type=float, default=50.0, help="the message p99 target")
    parser.add_argument("--max-rss-gib", type=float, default=1.5, help="the gateway's memory limit")
    parser.add_argument("--start-concurrency", type=int, default=50, help="chat starts in flight at once")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="socket handshakes in flight at once")
    parser.add_argument("--sockets-per-chat", type=int, default=1,
                        help="sockets per started chat (the widget open in several tabs): fewer, cheaper starts")
    parser.add_argument("--idle-queues", type=int, default=50, help="queues without members the idle chats wait in")
    parser.add_argument("--settle-s", type=float, default=60.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--echo-server", type=int, help=argparse.SUPPRESS)  # the baseline's child process
    args = parser.parse_args()
    if args.echo_server:
        echo_server(args.echo_server)
        return
    soft, hard = raise_open_files()
    need = args.sockets + args.conversations + 1000
    print(f"open-files limit {soft} (hard {hard}); this client needs about {need}", flush=True)
    if soft < need:
        raise SystemExit(f"the open-files limit ({soft}) is below what {args.sockets} sockets need ({need})")
    echo = ({"idle": 0.0, "held": 0.0, "open": 0} if args.skip_baseline else asyncio.run(baseline(args)))
    run_on_system("omni-bench-sockets-", lambda system, a: benchmark(system, a, echo), args,
                  service_env={**SERVICE_ENV, "LOG_LEVEL": "WARNING"})

if __name__ == "__main__":
    main()
