"""Benchmark: customer search (U2) and a support line's user list (U3) through the whole system, on a tenant
seeded with 100,000 contacts in 10,000 accounts and a line of 5,000 users.

    .venv/bin/python -m benchmarks.customer_search [--contacts 100000] [--accounts 10000] [--line-users 5000]
        [--requests 500]

The whole system runs as processes (python -m shared.localstack) on a fresh mongod and broker. The data is
written straight into customer's database with the service's own document functions (adapters/store.py
to_doc, adapters/lines.py line_user_doc: the same documents its use cases write), after the service has
created its indexes; seeding 100,000 contacts through commands would only measure the seeding. Then one
client (an agent, signed in) asks the gateway, one request at a time, timed with the client's clock:
search by a name prefix, by e-mail and by tax id, and the first and a later page of the line list. Beside
them, in the same run, a plain indexed find_one from the same client process straight to mongod. Figures
and ratios, not a test; target p99 <= 50 ms each."""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from benchmarks.harness import BASELINE, measure, print_table, run_on_system
from services.customer.adapters.lines import (
    AGENT_TIES,
    LINE_USERS,
    LineUser,
    line_user_doc,
)
from services.customer.adapters.store import ACCOUNTS, CONTACTS, to_doc
from services.customer.domain.profiles import Account, Contact
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.contracts.customer.common import AccountFields, ContactFields
from shared.testing.system import System

TENANT, PASSWORD = "bench", "benchmark-password"
FIRST = ["Jānis", "Anna", "Pēteris", "Līga", "Oleksandr", "Olena", "Jiří", "Tereza", "João", "Maria", "Ivan",
         "Olga", "Tomasz", "Zofia", "Émile", "Chloé", "James", "Emily", "Lukas", "Sofia"]
LAST = ["Bērziņš", "Kalniņa", "Ozols", "Shevchenko", "Kovalenko", "Novák", "Svobodová", "Silva", "Santos",
        "Ivanov", "Petrova", "Kowalski", "Nowak", "Dubois", "Lefèvre", "Smith", "Brown", "Müller", "Schmidt",
        "Rossi", "Ferrari", "García", "Martínez", "Nielsen", "Jensen", "Virtanen", "Korhonen", "Tamm", "Saar"]
COMPANY = ["Holdings", "Logistics", "Foods", "Systems", "Partners", "Trade", "Energy", "Media", "Bank", "Motors"]


def seed_documents(args: argparse.Namespace, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = datetime.now(UTC)
    accounts = [to_doc(TENANT, Account(f"a{n}", AccountFields(
        name=f"{rng.choice(LAST)} {rng.choice(COMPANY)} {n}", tax_id=f"{40000000000 + n}", country=None),
        1, now, now)) for n in range(args.accounts)]
    contacts = [to_doc(TENANT, Contact(f"k{n}", ContactFields(
        full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", email=f"user{n}@example.com",
        phone=f"+3712{n:07d}", login_id=f"login{n}", account_id=f"a{n % args.accounts}"), 1, now, now))
        for n in range(args.contacts)]
    return accounts, contacts


async def seed(db: Any, args: argparse.Namespace, rng: random.Random) -> None:
    t0 = time.monotonic()
    accounts, contacts = seed_documents(args, rng)
    for coll, docs in ((ACCOUNTS, accounts), (CONTACTS, contacts)):
        for i in range(0, len(docs), 5000):
            await db[coll].insert_many(docs[i:i + 5000], ordered=False)
    start = datetime.now(UTC) - timedelta(days=30)
    rows = [line_user_doc(TENANT, LineUser(
        "support", f"visitor-{n}", f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        last_message_at=start + timedelta(seconds=rng.randrange(30 * 86400)), preview="Hello, about my order"))
        for n in range(args.line_users)]
    for i in range(0, len(rows), 5000):
        await db[LINE_USERS].insert_many([{**r, "version": 1} for r in rows[i:i + 5000]], ordered=False)
    ties = [{"_id": f"{TENANT}|alice|visitor-{n}", "tenant_id": TENANT, "agent_id": "alice",
             "customer_id": f"visitor-{n}", "added": n % 7 == 0, "favourite": n % 11 == 0,
             "last_worked_at": datetime.now(UTC) - timedelta(days=rng.randrange(120)), "version": 1}
            for n in range(0, args.line_users, 3)]
    await db[AGENT_TIES].insert_many(ties, ordered=False)
    print(f"seeded {len(contacts):,} contacts, {len(accounts):,} accounts, a line of {len(rows):,} users "
          f"(alice tied to {len(ties):,} of them) in {time.monotonic() - t0:.1f}s", flush=True)


async def run(system: System, args: argparse.Namespace) -> None:
    rng = random.Random(7)
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.mongo_url)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        admin = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "admin",
                                                           "password": PASSWORD})).json()["access_token"]
        auth = {"authorization": f"Bearer {admin}"}
        created = await http.post("/v1/admin/staff", headers=auth, json={"user_id": "alice", "password": PASSWORD})
        assert created.status_code == 200, created.text
        queued = await http.put("/v1/admin/queues/support", headers=auth, json={"name": "Support",
                                                                                 "members": {"alice": 1}})
        assert queued.status_code == 200, queued.text
        db = mongo["customer"]
        await seed(db, args, rng)
        token = (await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": "alice",
                                                           "password": PASSWORD})).json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}  # signed in after seeding: the token outlives the run

        async def get(path: str, **params: Any) -> dict[str, Any]:
            response = await http.get(path, params=params, headers=auth)
            assert response.status_code == 200, response.text
            return response.json()

        prefixes = [w[:3] for w in LAST]
        first_page = await get("/v1/lines/support/users", limit=50)
        assert first_page["streaming"] and first_page["next_cursor"], "the line should be in streaming mode"
        later = (await get("/v1/lines/support/users", limit=50, cursor=first_page["next_cursor"]))["next_cursor"]
        n = args.requests
        cases = {
            "search: name prefix": lambda i: get("/v1/customers/search", q=prefixes[i % len(prefixes)]),
            "search: e-mail": lambda i: get("/v1/customers/search", q=f"user{rng.randrange(args.contacts)}@example.com"),
            "search: tax id": lambda i: get("/v1/customers/search", q=str(40000000000 + rng.randrange(args.accounts))),
            "line list: first page": lambda i: get("/v1/lines/support/users", limit=50),
            "line list: a later page": lambda i: get("/v1/lines/support/users", limit=50, cursor=later),
        }
        baseline_query = lambda i: db[CONTACTS].find_one({"_id": f"{TENANT}|k{rng.randrange(args.contacts)}"})  # noqa: E731
        results = await measure(baseline_query, cases, n)
        hits = await get("/v1/customers/search", q="ber")
        print(f"(a name-prefix search returns {len(hits['hits'])} hits; the list page {len(first_page['rows'])} "
              f"rows of {first_page['line_size']:,})")
    await mongo.close()
    print_table(results, BASELINE, target_s=0.050, requests=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--line-users", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    run_on_system("bench-customer-", run, args)


if __name__ == "__main__":
    main()
