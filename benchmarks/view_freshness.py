"""Benchmark: freshness of the active-conversation view (G4), through the whole system: from the client action
that changes a view to the `view` frame on the agent's socket, client clocks, at a steady rate.

    .venv/bin/python -m benchmarks.view_freshness [--conversations 20] [--rate 10] [--duration-s 300]

Two actions, alternating, spread over the conversations: an agent's inline edit of the conversation's linked
case (PATCH /v1/cases/{id}: gateway -> cases.commands -> cases -> cases.events -> gateway -> view frame) and a
customer's message (widget POST: gateway -> chat.commands -> chat -> chat.events -> gateway -> view frame).
Beside them, in the same run and at the same rate, one broker hop (produce acks=all -> consume). Figures, not
a test; target p99 <= 150 ms."""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

import httpx

from benchmarks.broker_hop import broker_round_trip, pct
from benchmarks.conversation_latency import Desk, line
from benchmarks.harness import run_on_system
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import System

PASSWORD, TENANT = "benchmark-password", "bench"


class ViewDesk(Desk):
    """An agent desk that also timestamps view frames: a case's new title, a summary's message count."""

    def __init__(self, *args: Any, seen: dict[str, float]) -> None:
        super().__init__(*args)
        self.seen = seen
        self.my_cases: dict[str, str] = {}  # conversation -> its case

    def on_frame(self, frame: dict[str, Any]) -> None:
        super().on_frame(frame)
        if frame["type"] != "view":
            return
        data = frame["data"]
        if frame["section"] == "case" and (data.get("title") or "").startswith("edit "):
            self.seen.setdefault(data["title"], time.monotonic())
        elif frame["section"] == "summary":
            self.seen.setdefault(f"{frame['conversation_id']}#{data['customer_messages']}", time.monotonic())


async def benchmark(system: System, args: argparse.Namespace) -> None:
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60, limits=limits) as http:
        admin = {"authorization": "Bearer " + (await http.post("/v1/auth/sign-in", json={
            "tenant_id": TENANT, "username": "admin", "password": PASSWORD})).json()["access_token"]}
        agents = [f"agent-{n}" for n in range(math.ceil(args.conversations / 4))]
        for agent in agents:
            r = await http.post("/v1/admin/staff", json={"user_id": agent, "password": PASSWORD,
                                                         "capacity": {"chat": 4}}, headers=admin)
            assert r.status_code == 200, r.text
        r = await http.put("/v1/admin/queues/bench", json={"name": "bench", "members": dict.fromkeys(agents, 1),
                                                           "offer_timeout_s": 120}, headers=admin)
        assert r.status_code == 200, r.text
        seen: dict[str, float] = {}
        desks, auth = [], {}
        for agent in agents:
            token = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": agent,
                                                               "password": PASSWORD})).json()["access_token"]
            auth[agent] = {"authorization": f"Bearer {token}"}
            desk = ViewDesk(http, token, system.gateway_url, {}, seen=seen)
            await desk.open()
            assert (await http.put("/v1/agent/presence", json={"presence": "available"},
                                   headers=auth[agent])).status_code == 200
            desks.append((agent, desk))
        customers = []
        for n in range(args.conversations):
            r = await http.post(f"/v1/widget/{TENANT}/conversations", json={"queue_id": "bench",
                                                                           "message": f"hello {n}"})
            assert r.status_code == 200, r.text
            customers.append((r.json()["conversation_id"], r.json()["conversation_token"]))
        deadline = time.monotonic() + 300
        while sum(len(d.active) for _, d in desks) < args.conversations:
            assert time.monotonic() < deadline, "conversations did not become active"
            await asyncio.sleep(0.2)
        holder = {cid: agent for agent, d in desks for cid in d.active}
        cases: dict[str, list[Any]] = {}  # conversation -> [case id, version]
        for cid, _ in customers:
            r = await http.post("/v1/cases", json={"title": "start", "conversation_id": cid}, headers=auth[holder[cid]])
            assert r.status_code == 200, r.text
            cases[cid] = [r.json()["result_id"], 1]
        deadline = time.monotonic() + 60
        while sum(1 for k in seen if k.endswith("#1")) < args.conversations and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        print(f"{args.conversations} conversations active with {len(agents)} agents, each with a linked case",
              flush=True)

        hop = await broker_round_trip(system.kafka_bootstrap, args.rate, min(60, args.duration_s))
        sent: dict[str, tuple[str, float]] = {}  # key -> (kind, sent at)
        counts = {cid: 1 for cid, _ in customers}
        errors: list[str] = []

        async def edit(cid: str, n: int) -> None:
            case_id, version = cases[cid]
            title = f"edit {n}"
            sent[title] = ("case edit", time.monotonic())
            r = await http.patch(f"/v1/cases/{case_id}", json={"version": version, "title": title},
                                 headers=auth[holder[cid]])
            if r.status_code == 200:
                cases[cid][1] = version + 1
            else:
                errors.append(f"edit {r.status_code} {r.text[:80]}")

        async def message(cid: str, token: str, n: int) -> None:
            counts[cid] += 1
            sent[f"{cid}#{counts[cid]}"] = ("customer message", time.monotonic())
            r = await http.post(f"/v1/widget/conversations/{cid}/messages", json={
                "client_message_id": f"v{n}", "text": f"message {n}"}, headers={"authorization": f"Bearer {token}"})
            if r.status_code != 200:
                errors.append(f"message {r.status_code} {r.text[:80]}")

        busy: dict[str, asyncio.Task[Any]] = {}
        start = time.monotonic()
        for n in range(int(args.rate * args.duration_s)):
            await asyncio.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            cid, token = customers[(n // 2) % len(customers)]
            if cid in busy and not busy[cid].done():
                await busy[cid]  # one action at a time per conversation (an edit needs the version before it)
            busy[cid] = asyncio.create_task(edit(cid, n) if n % 2 == 0 else message(cid, token, n))
        await asyncio.gather(*busy.values())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(k not in seen for k in sent):
            await asyncio.sleep(0.1)
        for _, desk in desks:
            await desk.close()
    print(f"\n{args.rate}/s for {args.duration_s} s over {args.conversations} conversations, client clocks")
    print(line("broker hop", hop, 0))
    for kind in ("case edit", "customer message"):
        keys = [k for k, (what, _) in sent.items() if what == kind]
        took = [seen[k] - sent[k][1] for k in keys if k in seen]
        print(line(kind, took, len(keys) - len(took)),
              f" p99/hop {pct(took, 99) / pct(hop, 99):.1f}x" if took else "",
              "  met" if took and pct(took, 99) <= 0.150 else "  NOT met (p99 <= 150 ms)")
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration-s", type=float, default=300.0)
    args = parser.parse_args()
    run_on_system("bench-view-", benchmark, args)


if __name__ == "__main__":
    main()
