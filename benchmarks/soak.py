"""Benchmark (issue 16): a soak of the whole system. 100 conversations carry 20 customer messages/s (agents reply
now and then) while new chats keep arriving, each accepted, written in, ended by the customer and wrapped up by
its agent; every interval (a minute by default) it prints the messages' latency, every process's resident memory
and each service's consumer lag; at the end, each process's memory slope and every error.

    .venv/bin/python -m benchmarks.soak [--duration-s 600] [--interval-s 60] [--conversations 100] [--rate 20]
        [--new-chat-every-s 3] [--reply-every 10] [--slope-from-s 120] [--max-slope-mb-min 5]

Run it with nothing else busy on the machine (it is the issue's "slow" soak: a benchmark script, never part of
`./dev test`). Latency: the client's clock from just before the widget's POST of a customer message to the frame
carrying it on the agent's socket (and, for the agents' replies, from the desk's POST to the customer's socket).
Memory: VmRSS of each process of the stack (mongod, Kafka, the five services) every --sample-s; the slope is the
least-squares fit over --slope-from-s to the end (minutes 3-10 by default), in MB (10^6 bytes) per minute; the
five services must stay under --max-slope-mb-min, the broker and mongod are reported beside them. Lag: each
service's /metrics (consumer_lag_records summed over its subscriptions, consumer_lag_seconds the largest), the
largest seen in each interval. Errors: every non-2xx answer and transport error, every message that never reached
the other side's socket (after --settle-s), every new chat that did not go through to closed, every socket that
closed under the clients, dead letters; the service logs' warnings and errors are counted beside them.
Figures, not a test."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import time
from collections import defaultdict
from typing import Any

import httpx
import websockets

from benchmarks.broker_hop import pct
from benchmarks.harness import SERVICE_ENV, run_on_system
from benchmarks.load_tools import (
    SERVICE_NAMES,
    Agent,
    CustomerStream,
    Errors,
    admin_client,
    answered,
    configure,
    cpu_seconds,
    customer_message,
    latency_cells,
    open_files_limit,
    owner_of,
    raise_open_files,
    rss_mb,
    scrape,
    slope_per_minute,
    system_processes,
    widget_start,
)
from shared.testing.system import System

# the tables' columns: the five services, the infrastructure, and this benchmark's own process (its clients)
ROLES = [*SERVICE_NAMES, "kafka", "mongod", "client"]


class Sample:
    def __init__(self, t: float, rss: dict[str, float | None], cpu: dict[str, float | None],
                 metrics: dict[str, dict[str, float]]) -> None:
        self.t, self.rss, self.cpu, self.metrics = t, rss, cpu, metrics


class Soak:
    def __init__(self, system: System, args: argparse.Namespace, http: httpx.AsyncClient,
                 probe: httpx.AsyncClient) -> None:
        self.system, self.args, self.http, self.probe = system, args, http, probe
        self.errors = Errors()
        self.arrived: dict[str, float] = {}  # customer message id -> on the agent's socket
        self.reply_arrived: dict[str, float] = {}  # agent reply id -> on the customer's socket
        self.sent: dict[str, float] = {}  # customer message id -> POST began
        self.reply_sent: dict[str, float] = {}
        self.refused: set[str] = set()  # messages whose POST was refused (4xx): never on a socket, counted once
        self.warmup_errors: dict[str, int] = {}
        self.idle_cpu: dict[str, float] = {}  # % of one core each process used before the load
        self.log_offsets: dict[str, int] = {}  # where each service's log stood when the measured run began
        self.agents: list[Agent] = []
        self.customers: list[tuple[str, str, CustomerStream]] = []
        self.samples: list[Sample] = []
        self.processes = {**system_processes(system), "client": os.getpid()}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.churn: list[dict[str, Any]] = []  # one per new chat: started, active (s after start), closed
        self.start = 0.0

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # --- setting up -------------------------------------------------------------------------------------------

    async def set_up(self) -> None:
        args = self.args
        admin = await admin_client(self.system, self.http)
        names = [f"agent-{n}" for n in range(math.ceil(args.conversations / args.capacity) + args.spare_agents)]
        await configure(self.http, admin, agents=names, capacity=args.capacity, queues={"bench": names})
        for name in names:
            agent = Agent(self.http, self.system, name, self.errors, self.arrived)
            await agent.start()
            self.agents.append(agent)
        t0 = time.monotonic()
        for n in range(args.conversations):
            r = await widget_start(self.http, "bench", f"hello {n}")
            assert r.status_code == 200, r.text
            cid, token = r.json()["conversation_id"], r.json()["conversation_token"]
            stream = CustomerStream(self.system.gateway_url, token, after=0, on_frame=self.on_customer_frame)
            await stream.open()
            self.customers.append((cid, token, stream))
        wanted = {cid for cid, _, _ in self.customers}
        while not wanted <= set().union(*(a.active() for a in self.agents)):
            if time.monotonic() - t0 > 300:
                raise RuntimeError(f"only {len(wanted & set().union(*(a.active() for a in self.agents)))} of "
                                   f"{len(wanted)} conversations became active in 300 s")
            await asyncio.sleep(0.2)
        print(f"{args.conversations} conversations active with {len(names)} agents (capacity {args.capacity}) in "
              f"{time.monotonic() - t0:.1f} s; customer streams open with ?after=0", flush=True)

    def on_customer_frame(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "message" and frame.get("sender", {}).get("kind") == "agent":
            self.reply_arrived.setdefault(frame.get("client_message_id") or "", time.monotonic())

    # --- the load ---------------------------------------------------------------------------------------------

    async def customer_message(self, cid: str, token: str, cmid: str) -> None:
        await customer_message(self.http, self.errors, self.sent, self.refused, cid, token, cmid,
                               f"soak {cmid}: where is my order?")

    async def agent_reply(self, cid: str, rid: str) -> None:
        agent = owner_of(self.agents, cid)
        if agent is None:
            self.errors.add("agent-reply", f"no agent holds {cid}")
            return
        self.reply_sent[rid] = time.monotonic()
        try:
            r = await agent.request("POST", f"/v1/conversations/{cid}/messages",
                                    {"client_message_id": rid, "text": "Let me check that for you."})
            if not self.errors.http("agent-reply", r) and 400 <= r.status_code < 500:
                self.refused.add(rid)
        except httpx.HTTPError as exc:
            self.errors.add("agent-reply", repr(exc))

    async def send(self, rate: float, duration_s: float, prefix: str) -> list[str]:
        """Customer messages at `rate` over the conversations in turn for `duration_s`; every --reply-every'th
        is followed by a reply from that conversation's agent. Returns the message ids sent, in order."""
        ids = []
        begin = time.monotonic()
        for n in range(int(rate * duration_s)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.monotonic()))
            cid, token, _ = self.customers[n % len(self.customers)]
            cmid = f"{prefix}{n}"
            ids.append(cmid)
            self.spawn(self.customer_message(cid, token, cmid))
            if self.args.reply_every and n % self.args.reply_every == self.args.reply_every - 1:
                self.spawn(self.agent_reply(cid, f"r{cmid}"))
        return ids

    async def step(self, kind: str, path: str, body: Any, *, token: str | None = None,
                   agent: Agent | None = None) -> bool:
        """One command of a new chat, by the customer (its token) or the agent, the clients' way: a 504 counts
        as an error and its answer is then read at answer_url. True when it was accepted in the end."""
        if agent is not None:
            r = await agent.request("POST", path, body)
            headers = agent.auth
        else:
            headers = {"authorization": f"Bearer {token}"}
            r = await self.http.post(path, json=body, headers=headers)
        if self.errors.http(kind, r):
            return True
        if r.status_code == 504:
            r = await answered(self.http, r, headers)
            if r.status_code == 200:
                return True
            self.errors.add(f"{kind}-answer", f"{r.status_code} {r.text[:200]}")
        return False

    async def new_chat(self, k: int) -> None:
        """A customer starts a chat, an agent accepts it, both write, the customer ends it, the agent wraps up."""
        record: dict[str, Any] = {"started": time.monotonic(), "active_s": None, "closed": False}
        self.churn.append(record)
        try:
            r = await widget_start(self.http, "bench", f"new chat {k}: my parcel is late")
            if not self.errors.http("new-chat-start", r):
                return
            cid, token = r.json()["conversation_id"], r.json()["conversation_token"]
            stream = CustomerStream(self.system.gateway_url, token, after=0)
            await stream.open()
            try:
                timeout = self.args.new_chat_timeout_s
                deadline = time.monotonic() + timeout
                while (agent := owner_of(self.agents, cid)) is None:
                    if time.monotonic() > deadline:
                        self.errors.add("new-chat-not-accepted", cid)
                        return
                    await asyncio.sleep(0.05)
                record["active_s"] = time.monotonic() - record["started"]
                w = f"/v1/widget/conversations/{cid}"
                await self.step("new-chat-message", f"{w}/messages", {"client_message_id": f"k{k}",
                                                                      "text": "It was due on Monday."}, token=token)
                await self.step("new-chat-reply", f"/v1/conversations/{cid}/messages",
                                {"client_message_id": f"q{k}", "text": "It is on its way."}, agent=agent)
                await asyncio.sleep(self.args.new_chat_hold_s)
                if not await self.step("new-chat-end", f"{w}/end", {}, token=token):
                    return
                if not await agent.wait_state(cid, {"wrap_up", "closed"}, timeout):
                    self.errors.add("new-chat-not-ended", f"{cid} {agent.states.get(cid)}")
                    return
                if not await self.step("new-chat-wrap-up", f"/v1/conversations/{cid}/wrap-up", {}, agent=agent):
                    return
                if not await agent.wait_state(cid, {"closed"}, timeout):
                    self.errors.add("new-chat-not-closed", f"{cid} {agent.states.get(cid)}")
                    return
                record["closed"] = True
                # the agent closes its session, as one does: ten open sessions refuse the next accept
                await self.step("new-chat-close-session", f"/v1/agent/sessions/conversation:{cid}/close", {},
                                agent=agent)
            finally:
                if stream.closed is not None:
                    self.errors.add("customer-socket-closed", f"{cid} {stream.closed}")
                await stream.close()
        except httpx.HTTPError as exc:
            self.errors.add("new-chat", repr(exc))
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self.errors.add("new-chat-socket", repr(exc))

    async def new_chats(self, duration_s: float) -> None:
        begin = time.monotonic()
        for k in range(int(duration_s / self.args.new_chat_every_s)):
            await asyncio.sleep(max(0.0, begin + k * self.args.new_chat_every_s - time.monotonic()))
            self.spawn(self.new_chat(k))

    # --- watching -----------------------------------------------------------------------------------------------

    async def sample(self) -> None:
        rss = {role: rss_mb(pid) for role, pid in self.processes.items()}
        cpu = {role: cpu_seconds(pid) for role, pid in self.processes.items()}
        metrics = dict(zip(SERVICE_NAMES, await asyncio.gather(
            *(scrape(self.probe, self.system.service_url(name)) for name in SERVICE_NAMES)), strict=True))
        self.samples.append(Sample(time.monotonic() - self.start, rss, cpu, metrics))

    async def sampler(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.args.sample_s)

    def interval_samples(self, k: int) -> list[Sample]:
        iv, last = self.args.interval_s, math.ceil(self.args.duration_s / self.args.interval_s) - 1
        return [s for s in self.samples if min(last, int(s.t // iv)) == k] or self.samples[-1:]

    async def reporter(self, intervals: int) -> None:
        iv = self.args.interval_s
        for k in range(intervals):
            await asyncio.sleep(max(0.0, self.start + (k + 1) * iv - time.monotonic()))
            ids = [i for i, t in self.sent.items() if i.startswith("m") and k * iv <= t - self.start < (k + 1) * iv]
            took = [self.arrived[i] - self.sent[i] for i in ids if i in self.arrived]
            samples = self.interval_samples(k)
            rss = " ".join(f"{r} {samples[-1].rss.get(r) or 0:.0f}" for r in ROLES)
            lag = " ".join(f"{n} {max(s.metrics.get(n, {}).get('lag_records', 0) for s in samples):.0f}/"
                           f"{max(s.metrics.get(n, {}).get('lag_seconds', 0) for s in samples):.1f}s"
                           for n in SERVICE_NAMES)
            p = (f"p50 {pct(took, 50) * 1e3:.1f} ms p99 {pct(took, 99) * 1e3:.1f} ms" if took else "nothing arrived")
            print(f"[{(k + 1) * iv:5.0f} s] sent {len(ids)} arrived {len(took)} {p}; errors "
                  f"{self.errors.between(self.start + k * iv, self.start + (k + 1) * iv)}; new chats "
                  f"{sum(1 for c in self.churn if k * iv <= c['started'] - self.start < (k + 1) * iv)}\n"
                  f"          RSS MB: {rss}\n          lag records/seconds (max): {lag}", flush=True)

    # --- the run ----------------------------------------------------------------------------------------------

    async def run(self) -> None:
        args = self.args
        await self.set_up()
        first = {r: cpu_seconds(pid) or 0.0 for r, pid in self.processes.items()}
        began = time.monotonic()
        await asyncio.sleep(args.idle_s)
        span = time.monotonic() - began
        self.idle_cpu = {r: ((cpu_seconds(pid) or 0.0) - first[r]) / span * 100 for r, pid in self.processes.items()}
        if args.warmup_s:
            warm = await self.send(args.rate, args.warmup_s, "w")
            await self.settle(warm, [], 30)
            print(f"warm-up: {args.warmup_s:.0f} s at {args.rate:g}/s, {sum(i in self.arrived for i in warm)} of "
                  f"{len(warm)} arrived", flush=True)
            self.warmup_errors = self.errors.by_kind()
            self.errors.seen.clear()
            self.reply_sent.clear()
        intervals = math.ceil(args.duration_s / args.interval_s)
        before = {n: m.get("dead_letters", 0) for n, m in
                  zip(SERVICE_NAMES, await asyncio.gather(*(scrape(self.probe, self.system.service_url(n))
                                                            for n in SERVICE_NAMES)), strict=True)}
        self.log_offsets = {n: len(self.system.service_log(n)) for n in SERVICE_NAMES}
        self.start = time.monotonic()
        sampler = asyncio.create_task(self.sampler())
        reporter = asyncio.create_task(self.reporter(intervals))
        churn = asyncio.create_task(self.new_chats(args.duration_s))
        ids = await self.send(args.rate, args.duration_s, "m")
        await churn
        sent_done = time.monotonic()
        sampler.cancel()  # memory and lag under load only: the slope ends with the last send
        await self.sample()
        pending = [t for t in self.tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=args.new_chat_timeout_s * 3 + args.new_chat_hold_s)
        replies = [r for r in self.reply_sent if r.startswith("rm")]
        await self.settle(ids, replies, args.settle_s)
        drained = time.monotonic() - sent_done
        await reporter
        found = await asyncio.gather(*(scrape(self.probe, self.system.service_url(n)) for n in SERVICE_NAMES))
        after = {n: m.get("dead_letters", 0) for n, m in zip(SERVICE_NAMES, found, strict=True)}
        self.report(ids, replies, drained, {n: after[n] - before.get(n, 0) for n in SERVICE_NAMES})

    async def settle(self, ids: list[str], replies: list[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (any(i not in self.arrived for i in ids)
                                               or any(r not in self.reply_arrived for r in replies)):
            await asyncio.sleep(0.2)

    def report(self, ids: list[str], replies: list[str], drained: float, dead_letters: dict[str, float]) -> None:
        args, iv = self.args, self.args.interval_s
        intervals = math.ceil(args.duration_s / iv)
        by_interval: dict[int, list[str]] = defaultdict(list)
        for i in ids:
            by_interval[min(intervals - 1, int((self.sent[i] - self.start) // iv))].append(i)
        replies_by: dict[int, list[str]] = defaultdict(list)
        for r in replies:
            replies_by[min(intervals - 1, int((self.reply_sent[r] - self.start) // iv))].append(r)
        unit = "min" if iv == 60 else f"{iv:g}s"
        print(f"\n{args.rate:g} customer messages/s over {args.conversations} conversations for "
              f"{args.duration_s:.0f} s (agents reply to 1 in {args.reply_every or 'none'}), a new chat every "
              f"{args.new_chat_every_s:g} s held {args.new_chat_hold_s:g} s; drained {drained:.1f} s after the last "
              f"send\n")
        print(f"{unit:>5s}{'sent':>7s}{'arrived':>8s}{'missed':>7s}{'p50':>10s}{'p99':>10s}{'max':>10s}"
              f"{'replies':>8s}{'p50':>10s}{'p99':>10s}{'new':>5s}{'closed':>7s}{'to agent p50':>13s}{'errors':>7s}")
        total_missed = 0
        for k in range(intervals):
            group = by_interval.get(k, [])
            took = [self.arrived[i] - self.sent[i] for i in group if i in self.arrived]
            missed = sum(1 for i in group if i not in self.arrived and i not in self.refused)
            total_missed += missed
            rgroup = replies_by.get(k, [])
            rtook = [self.reply_arrived[r] - self.reply_sent[r] for r in rgroup if r in self.reply_arrived]
            total_missed += sum(1 for r in rgroup if r not in self.reply_arrived and r not in self.refused)
            chats = [c for c in self.churn if k * iv <= c["started"] - self.start < (k + 1) * iv]
            to_agent = [c["active_s"] for c in chats if c["active_s"] is not None]
            print(f"{k + 1:5d}{len(group):7d}{len(took):8d}{missed:7d}{latency_cells(took)}{len(rgroup):8d}"
                  f"{latency_cells(rtook, with_max=False)}{len(chats):5d}{sum(c['closed'] for c in chats):7d}"
                  f"{(f'{pct(to_agent, 50) * 1e3:9.0f} ms') if to_agent else '-':>13s}"
                  f"{self.errors.between(self.start + k * iv, self.start + (k + 1) * iv):7d}")
        took = [self.arrived[i] - self.sent[i] for i in ids if i in self.arrived]
        rtook = [self.reply_arrived[r] - self.reply_sent[r] for r in replies if r in self.reply_arrived]
        missing = sum(1 for i in ids if i not in self.arrived and i not in self.refused)
        print(f"{'all':>5s}{len(ids):7d}{len(took):8d}{missing:7d}{latency_cells(took)}{len(replies):8d}"
              f"{latency_cells(rtook, with_max=False)}{len(self.churn):5d}{sum(c['closed'] for c in self.churn):7d}")

        print(f"\nresident memory, MB (10^6 B), at the end of each {unit}:")
        print(f"{unit:>5s}" + "".join(f"{r:>10s}" for r in ROLES))
        print(f"{'start':>5s}" + "".join(f"{(self.samples[0].rss.get(r) or 0):10.1f}" for r in ROLES))
        for k in range(intervals):
            last = self.interval_samples(k)[-1]
            print(f"{k + 1:5d}" + "".join(f"{(last.rss.get(r) or 0):10.1f}" for r in ROLES))
        window = [s for s in self.samples if s.t >= args.slope_from_s]
        print(f"slope over {args.slope_from_s:g}-{self.samples[-1].t:.0f} s, least squares on {len(window)} samples "
              f"(every {args.sample_s:g} s), MB/min:")
        verdicts = []
        for role in ROLES:
            points = [(s.t, s.rss[role]) for s in window if s.rss.get(role) is not None]
            slope = slope_per_minute(points)
            if role in SERVICE_NAMES:
                ok = slope is not None and slope < args.max_slope_mb_min
                verdicts.append(ok)
                mark = "PASS" if ok else f"FAIL (limit {args.max_slope_mb_min:g} MB/min)"
            else:
                mark = {"kafka": "(the broker, reported separately)", "mongod": "(the database, reported separately)",
                        "client": "(this benchmark's clients)"}[role]
            print(f"{role:>10s}  {'-' if slope is None else f'{slope:+8.2f}'} MB/min  {mark}")

        print(f"\nCPU, % of one core, over each {unit} ({len(self.processes)} processes on {os.cpu_count()} cores):")
        print(f"{unit:>5s}" + "".join(f"{r:>10s}" for r in ROLES) + f"{'all':>10s}")
        print(f"{'idle':>5s}" + "".join(f"{self.idle_cpu.get(r, 0):10.0f}" for r in ROLES)
              + f"{sum(self.idle_cpu.values()):10.0f}")
        previous = self.samples[0]
        for k in range(intervals):
            last = self.interval_samples(k)[-1]
            span = max(1e-6, last.t - previous.t)
            used = {r: ((last.cpu.get(r) or 0) - (previous.cpu.get(r) or 0)) / span * 100 for r in ROLES}
            print(f"{k + 1:5d}" + "".join(f"{used[r]:10.0f}" for r in ROLES) + f"{sum(used.values()):10.0f}")
            previous = last
        first, last = self.samples[0], self.samples[-1]
        span = last.t - first.t
        per = {r: ((last.cpu.get(r) or 0) - (first.cpu.get(r) or 0) - self.idle_cpu.get(r, 0) / 100 * span)
               * 1e3 / max(1, len(ids)) for r in ROLES}
        print("CPU per customer message beyond idle, ms (the replies and new chats' work included): "
              + ", ".join(f"{r} {per[r]:.0f}" for r in sorted(per, key=lambda r: -per[r]))
              + f"; all {sum(per.values()):.0f}")

        print(f"\nconsumer lag, the largest seen in each {unit} (records / seconds):")
        print(f"{unit:>5s}" + "".join(f"{n:>16s}" for n in SERVICE_NAMES))
        for k in range(intervals):
            samples = self.interval_samples(k)
            print(f"{k + 1:5d}" + "".join(
                f"{max(s.metrics.get(n, {}).get('lag_records', 0) for s in samples):9.0f} /"
                f"{max(s.metrics.get(n, {}).get('lag_seconds', 0) for s in samples):5.1f}" for n in SERVICE_NAMES))

        sockets_closed = sum(a.closed_unexpectedly for a in self.agents) + sum(
            1 for _, _, s in self.customers if s.closed is not None)
        not_closed = sum(1 for c in self.churn if not c["closed"])
        logs = {n: self.log_counts(n) for n in SERVICE_NAMES}
        errors = len(self.errors) + total_missed + int(sum(dead_letters.values())) + (
            sum(1 for _, _, s in self.customers if s.closed is not None))
        print(f"\nerrors: {errors} = {len(self.errors)} seen by the clients {self.errors.by_kind()} + "
              f"{total_missed} messages missing on the other side's socket + "
              f"{int(sum(dead_letters.values()))} dead letters {dead_letters} + "
              f"{sum(1 for _, _, s in self.customers if s.closed is not None)} customer sockets closed")
        print(f"        ({sockets_closed} sockets closed under the clients in all, {not_closed} new chats not closed; "
              f"first few: {[d for _, _, d in self.errors.seen[:3]]})")
        print(f"        (warm-up, not counted: {self.warmup_errors or 'none'}; access tokens refreshed after a 401: "
              f"{sum(a.refreshes for a in self.agents)}; messages refused 4xx: {len(self.refused)})")
        print("service log lines during the run (warning / error): "
              + ", ".join(f"{n} {w}/{e}" for n, (w, e, _) in logs.items()))
        for name, (_, _, said) in logs.items():
            for text, count in said[:4]:
                print(f"  {name}: {count} x {text}")
        print(f"verdict: memory {'PASS' if all(verdicts) else 'FAIL'}, errors {'0: PASS' if errors == 0 else 'FAIL'}",
              flush=True)

    def log_counts(self, name: str) -> tuple[int, int, list[tuple[str, int]]]:
        """Warning and error lines a service logged during the measured run, and the most frequent ones."""
        warnings = errors = 0
        said: dict[str, int] = defaultdict(int)
        for line in self.system.service_log(name)[self.log_offsets.get(name, 0):].splitlines():
            try:
                entry = json.loads(line)
                level, text = str(entry.get("level", "")).lower(), str(entry.get("event", ""))
            except ValueError:  # the standard library's format: date time LEVEL logger message
                parts = line.split(" ", 3)
                level = parts[2].lower() if len(parts) == 4 else ("error" if line.startswith("Traceback") else "")
                text = parts[3] if len(parts) == 4 else line
            if level in ("error", "critical", "exception"):
                errors += 1
            elif level == "warning":
                warnings += 1
            else:
                continue
            said[f"{level}: {text[:100]}"] += 1
        return warnings, errors, sorted(said.items(), key=lambda kv: -kv[1])


async def benchmark(system: System, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with (httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as http,
                httpx.AsyncClient(timeout=5) as probe):
        soak = Soak(system, args, http, probe)
        print("processes: " + ", ".join(f"{role} {pid} (open files {open_files_limit(pid)})"
                                        for role, pid in sorted(soak.processes.items())), flush=True)
        try:
            await soak.run()
        finally:
            for agent in soak.agents:
                await agent.stop()
            for _, _, stream in soak.customers:
                await stream.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration-s", type=float, default=600.0)
    parser.add_argument("--interval-s", type=float, default=60.0, help="one row per interval (a minute)")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--capacity", type=int, default=10, help="chats per agent")
    parser.add_argument("--spare-agents", type=int, default=2, help="agents beyond those the conversations fill, "
                                                                    "for the new chats")
    parser.add_argument("--rate", type=float, default=20.0, help="customer messages per second")
    parser.add_argument("--reply-every", type=int, default=10, help="the agent replies after every Nth customer "
                                                                    "message (0: never)")
    parser.add_argument("--new-chat-every-s", type=float, default=3.0)
    parser.add_argument("--new-chat-hold-s", type=float, default=5.0, help="a new chat's life between its first "
                                                                           "exchange and the customer's end")
    parser.add_argument("--new-chat-timeout-s", type=float, default=60.0)
    parser.add_argument("--warmup-s", type=float, default=10.0, help="load before the measured run (not counted)")
    parser.add_argument("--idle-s", type=float, default=10.0, help="idle CPU measured this long before the load")
    parser.add_argument("--sample-s", type=float, default=5.0, help="memory and lag sampled this often")
    parser.add_argument("--slope-from-s", type=float, default=120.0, help="memory slope from here to the end "
                                                                          "(minutes 3-10)")
    parser.add_argument("--max-slope-mb-min", type=float, default=5.0)
    parser.add_argument("--settle-s", type=float, default=60.0, help="after the last send, how long a message may "
                                                                     "still arrive before it counts as missed")
    parser.add_argument("--access-ttl-s", type=int, help="the gateway's access-token lifetime (default: its own, "
                                                         "900 s); shorter exercises the desks' refresh")
    parser.add_argument("--log-level", default="WARNING", help="the services' LOG_LEVEL")
    args = parser.parse_args()
    soft, _ = raise_open_files()
    print(f"open-files limit {soft}", flush=True)
    env = {**SERVICE_ENV, "LOG_LEVEL": args.log_level}
    if args.access_ttl_s:
        env["ACCESS_TTL_S"] = str(args.access_ttl_s)
    run_on_system("omni-bench-soak-", benchmark, args, service_env=env)

if __name__ == "__main__":
    main()
