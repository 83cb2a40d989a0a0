"""Benchmark: a team set up through the gateway's admin API (issue 19): 1,000 agents' routing settings and 20
queues of 50 members, on a fresh system.

    .venv/bin/python -m benchmarks.agent_setup [--agents 1000] [--queues 20]

Times, with the client's clock, until every answer is back (each request waits for routing's answer, and for
chat's for a queue's chat settings):
- bulk: one `PUT /v1/admin/agents` with every agent, then the 20 queues (`PUT /v1/admin/queues/{id}`), sent
  together;
- baseline, in the same run: the same agents one command each (`PUT /v1/admin/agents` with one agent, 50 at a
  time), as setting them up one by one through Kafka was.
Target: bulk under 3 s. Figures, not a test; run it with nothing else busy."""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from benchmarks.harness import run_on_system
from benchmarks.load_tools import answered as final_answer
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import System

TENANT, PASSWORD = "bench", "benchmark-password"


def team(prefix: str, agents: int) -> dict[str, dict]:
    return {f"{prefix}-{n}": {"capacity": {"chat": 4}, "skills": {"billing": 1 + n % 10}} for n in range(agents)}


async def answered(http: httpx.AsyncClient, response: httpx.Response) -> None:
    """The command's answer, read from its answer_url the clients' way when the gateway's wait ran out (504)."""
    response = await final_answer(http, response, {})
    assert response.status_code == 200, response.text


async def bulk(http: httpx.AsyncClient, agents: dict[str, dict], queues: int, split: dict[str, float] | None = None
               ) -> float:
    """The agents' command, then the queues together; `split` gets the agents' part."""
    split = {} if split is None else split
    ids = sorted(agents)
    per_queue = max(1, len(ids) // queues)
    t0 = time.perf_counter()
    await answered(http, await http.put("/v1/admin/agents", json={"agents": agents}))
    split["agents"] = time.perf_counter() - t0
    for response in await asyncio.gather(*(
            http.put(f"/v1/admin/queues/{ids[0]}-q{q}", json={
                "name": f"queue {q}", "members": dict.fromkeys(ids[q * per_queue:(q + 1) * per_queue], 1)})
            for q in range(queues))):
        await answered(http, response)
    return time.perf_counter() - t0


async def one_by_one(http: httpx.AsyncClient, agents: dict[str, dict], parallel: int = 50) -> float:
    gate = asyncio.Semaphore(parallel)

    async def one(agent: str) -> None:
        async with gate:
            await answered(http, await http.put("/v1/admin/agents", json={"agents": {agent: agents[agent]}}))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(a) for a in agents))
    return time.perf_counter() - t0


async def benchmark(system: System, args: argparse.Namespace) -> None:
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=120, limits=limits) as http:
        signed = await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "admin",
                                                           "password": PASSWORD})
        http.headers["authorization"] = "Bearer " + signed.json()["access_token"]
        await bulk(http, team("warm", 20), 2)  # first requests: connections, indexes, consumers' first fetch
        results = {}
        for run in range(args.runs):
            split: dict[str, float] = {}
            results.setdefault("bulk", []).append(await bulk(http, team(f"bulk{run}", args.agents), args.queues,
                                                             split))
            results.setdefault("baseline", []).append(await one_by_one(http, team(f"one{run}", args.agents)))
            print(f"run {run + 1}: bulk {results['bulk'][-1]:.2f} s (agents {split['agents']:.2f} s, queues "
                  f"{results['bulk'][-1] - split['agents']:.2f} s), one by one {results['baseline'][-1]:.2f} s",
                  flush=True)
    best_bulk, best_base = min(results["bulk"]), min(results["baseline"])
    print(f"\n{args.agents} agents + {args.queues} queues through the gateway, best of {args.runs}:")
    print(f"  bulk (one command for the agents, queues together): {best_bulk:.2f} s"
          f"  {'met' if best_bulk < 3 else 'NOT met'} (< 3 s)")
    print(f"  baseline, one command per agent (50 at a time):     {best_base:.2f} s"
          f"  (bulk is {best_base / best_bulk:.1f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    run_on_system("bench-setup-", benchmark, parser.parse_args())


if __name__ == "__main__":
    main()
