"""Benchmark: case search (K1) and a contact's recent cases through the whole system, on a tenant seeded with
50,000 cases of 10,000 contacts.

    .venv/bin/python -m benchmarks.case_search [--cases 50000] [--contacts 10000] [--requests 500]

The whole system runs as processes on a fresh mongod and broker. The cases are written straight into cases'
database with the service's own document function (adapters/store.py case_doc: the documents its use cases
write), after the service has created its indexes. Then one signed-in agent asks the gateway, one request at
a time, timed with the client's clock: search by number, by a title word's prefix, by a customer's name, and
a contact's recent cases. Beside them, in the same run, a plain indexed find_one from the same client straight
to mongod. Figures and ratios, not a test; target p99 <= 50 ms each."""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from benchmarks.customer_search import FIRST, LAST, PASSWORD, TENANT
from benchmarks.harness import BASELINE, measure, print_table, run_on_system
from services.cases.adapters.store import CASES, NUMBERS, case_doc
from services.cases.domain.cases import Case, case_number
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.contracts.cases.common import CaseFields
from shared.testing.system import System

TOPICS = ["Printer", "Invoice", "Delivery", "Password", "Refund", "Router", "Contract", "Login", "Payment",
          "Warranty", "Installation", "Upgrade", "Roaming", "Account", "Parcel", "Subscription"]
TROUBLE = ["jams", "missing", "late", "reset", "overcharged", "broken", "not working", "question", "declined",
           "expired", "duplicate", "blocked", "slow", "wrong address", "cancelled", "renewal"]


async def seed(db: Any, args: argparse.Namespace, rng: random.Random) -> list[str]:
    t0 = time.monotonic()
    names = [f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(args.contacts)]
    start = datetime.now(UTC) - timedelta(days=365)
    docs = []
    for n in range(args.cases):
        contact = rng.randrange(args.contacts)
        at = start + timedelta(seconds=rng.randrange(365 * 86400))
        case = Case(f"c{n}", case_number(n + 1), CaseFields(
            title=f"{rng.choice(TOPICS)} {rng.choice(TROUBLE)}", priority=rng.choice(["low", "normal", "high"]),
            status=rng.choice(["new", "active", "on_hold", "resolved", "resolved", "cancelled"]),
            contact_id=f"k{contact}"), "agent", 1, at, at)
        docs.append(case_doc(TENANT, case, names[contact]))
    for i in range(0, len(docs), 5000):
        await db[CASES].insert_many(docs[i:i + 5000], ordered=False)
    await db[NUMBERS].insert_one({"_id": TENANT, "tenant_id": TENANT, "last": args.cases, "version": args.cases})
    print(f"seeded {len(docs):,} cases of {args.contacts:,} contacts in {time.monotonic() - t0:.1f}s", flush=True)
    return names


async def run(system: System, args: argparse.Namespace) -> None:
    rng = random.Random(11)
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.mongo_url)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        admin = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "admin",
                                                           "password": PASSWORD})).json()["access_token"]
        created = await http.post("/v1/admin/staff", headers={"authorization": f"Bearer {admin}"},
                                  json={"user_id": "alice", "password": PASSWORD})
        assert created.status_code == 200, created.text
        db = mongo["cases"]
        names = await seed(db, args, rng)
        token = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "alice",
                                                           "password": PASSWORD})).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}

        async def get(path: str, **params: Any) -> dict[str, Any]:
            response = await http.get(path, params=params, headers=auth)
            assert response.status_code == 200, response.text
            return response.json()

        n = args.requests
        words = [t.lower()[:4] for t in TOPICS]
        # contacts are not in customer's database here: recent cases are read from cases' API directly
        cases_api = system.service_url("cases")
        checks = {
            "search: number": lambda i: get("/v1/cases", q=case_number(rng.randrange(args.cases) + 1)),
            "search: title word prefix": lambda i: get("/v1/cases", q=words[i % len(words)]),
            "search: customer name": lambda i: get("/v1/cases", q=rng.choice(names)),
        }
        async with httpx.AsyncClient(base_url=cases_api, timeout=30) as internal:
            async def recent(i: int) -> None:
                response = await internal.get(f"/internal/tenants/{TENANT}/contacts/k{rng.randrange(args.contacts)}"
                                              f"/cases", params={"limit": 10})
                assert response.status_code == 200, response.text
            checks["recent cases (cases' read API)"] = recent
            baseline = lambda i: db[CASES].find_one({"_id": f"{TENANT}|c{rng.randrange(args.cases)}"})  # noqa: E731
            results = await measure(baseline, checks, n)
        hits = await get("/v1/cases", q=words[0])
        print(f"(a title-prefix search returns {len(hits['hits'])} hits, the default limit)")
    await mongo.close()
    print_table(results, BASELINE, target_s=0.050, requests=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    run_on_system("bench-cases-", run, args)


if __name__ == "__main__":
    main()
