"""Benchmark: history search (C6) through the whole system over 1,000,000 stored messages.

    .venv/bin/python -m benchmarks.history_search [--messages 1000000] [--per-conversation 10]
        [--conversations-per-customer 10] [--agents 50] [--requests 300]

The whole system runs as processes (python -m shared.localstack) on a fresh mongod and broker. The messages and
their conversations are written straight into chat's database with chat's own document functions
(adapters/documents.py conversation_to_doc, message_to_doc: the same documents, words index included, that its
use cases write), after chat has made its indexes; the gateway's projection of the same conversations with its
own (projection.new_view), closed, each served by one of --agents agents in one of three queues. Seeding a
million messages through commands would only measure the seeding.

Texts are 5-20 words drawn from a vocabulary of 5,000 with Zipf frequencies (a few words in most messages, most
words rare), so queries of common, middling and rare words are asked alike. Then, one request at a time, timed
with the client's clock:
  - a customer's whole history (a supervisor of every queue, customer_id=...),
  - within one conversation (the agent who served it, conversation_id=...),
  - tenant-wide for an agent (everything they served: about messages / per-conversation / agents conversations),
  - tenant-wide for a supervisor of every queue (more than one search takes: the tenant's newest matches),
each a one- or two-word query (the last word as typed, a prefix). Beside them, in the same run, a plain indexed
find_one from the same client process straight to mongod. Figures, not a test; target p99 <= 100 ms each."""

from __future__ import annotations

import argparse
import itertools
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from benchmarks.harness import BASELINE, measure, print_table, run_on_system
from services.chat.adapters.documents import (
    CONVERSATIONS,
    MESSAGES,
    conversation_to_doc,
    message_to_doc,
)
from services.chat.domain.conversation import Conversation
from services.chat.domain.lifecycle import State
from services.chat.domain.messages import Message
from services.gateway.adapters.store import CONVERSATIONS as GATEWAY_CONVERSATIONS
from services.gateway.projection import new_view
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.contracts.chat.common import Customer, Sender
from shared.testing.system import System

TENANT, PASSWORD = "bench", "benchmark-password"
QUEUES = ("q0", "q1", "q2")
VOCABULARY = 5000
COMMON = ["order", "delivery", "refund", "account", "password", "invoice", "parcel", "payment", "card", "help",
          "please", "thanks", "hello", "today", "again", "problem", "charged", "twice", "address", "tracking"]
SYLLABLES = ["ka", "lo", "mi", "ra", "te", "su", "ven", "dor", "pil", "nax", "qua", "zen", "bro", "fli", "gar"]
BATCH = 5000


def vocabulary() -> list[str]:
    """COMMON first (the most frequent), then made-up words of 2-4 syllables, all distinct."""
    made = ("".join(p) for n in (2, 3, 4) for p in itertools.product(SYLLABLES, repeat=n))
    words = list(COMMON)
    seen = set(words)
    for w in made:
        if w not in seen:
            words.append(w)
            seen.add(w)
        if len(words) == VOCABULARY:
            return words
    raise AssertionError("not enough made-up words")


class Corpus:
    """Deterministic conversations and messages (ids, customers, agents, texts) for a given size."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.words = vocabulary()
        self.weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(VOCABULARY)))  # Zipf, s=1
        self.conversations = args.messages // args.per_conversation
        self.customers = max(1, self.conversations // args.conversations_per_customer)

    def customer_of(self, n: int) -> str:
        return f"cu{n % self.customers}"

    def agent_of(self, n: int) -> str:
        return f"agent{n % self.args.agents}"

    def queue_of(self, n: int) -> str:
        return QUEUES[n % len(QUEUES)]

    def text(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, cum_weights=self.weights, k=rng.randint(5, 20)))

    def band(self, name: str) -> list[str]:
        """Query words by frequency: common (ranks 1-20), middling (100-500), rare (2000-5000)."""
        return {"common": self.words[:20], "middling": self.words[100:500], "rare": self.words[2000:]}[name]


async def seed(chat_db: Any, gateway_db: Any, corpus: Corpus) -> None:
    t0 = time.monotonic()
    rng = random.Random(11)
    start = datetime.now(UTC) - timedelta(days=365)
    per = corpus.args.per_conversation
    conversations, views, messages = [], [], []
    written = 0

    async def flush(final: bool = False) -> None:
        nonlocal conversations, views, messages, written
        if len(messages) >= BATCH * per or final:
            if conversations:
                await chat_db[CONVERSATIONS].insert_many(conversations, ordered=False)
                await gateway_db[GATEWAY_CONVERSATIONS].insert_many(views, ordered=False)
            if messages:
                await chat_db[MESSAGES].insert_many(messages, ordered=False)
            written += len(messages)
            conversations, views, messages = [], [], []
            print(f"  {written:,} messages", end="\r", flush=True)

    for n in range(corpus.conversations):
        cid, customer, agent, queue = f"conv{n}", corpus.customer_of(n), corpus.agent_of(n), corpus.queue_of(n)
        began = start + timedelta(seconds=n * 365 * 86400 // corpus.conversations)
        conversations.append(conversation_to_doc(TENANT, Conversation(
            conversation_id=cid, queue_id=queue, customer=Customer(customer_id=customer, name=f"Visitor {customer}"),
            started_at=began, state=State.CLOSED, assignee=agent, closed_at=began + timedelta(minutes=20),
            seq=per, message_count=per)))
        views.append({**new_view(TENANT, cid), "queue_id": queue, "customer_id": customer,
                      "customer_name": f"Visitor {customer}", "state": "closed", "served_by": [agent],
                      "started_at": began, "updated_at": began + timedelta(minutes=20), "offline": False})
        for seq in range(1, per + 1):
            sender = Sender(kind="customer", id=customer) if seq % 2 else Sender(kind="agent", id=agent)
            messages.append(message_to_doc(TENANT, Message(
                message_id=f"{cid}-{seq}", conversation_id=cid, seq=seq, sender=sender, text=corpus.text(rng),
                private=False, client_message_id=None, sent_at=began + timedelta(minutes=seq))))
        await flush()
    await flush(final=True)
    print(f"seeded {written:,} messages in {corpus.conversations:,} conversations of {corpus.customers:,} "
          f"customers, served by {corpus.args.agents} agents, in {time.monotonic() - t0:.0f}s", flush=True)


def query(rng: random.Random, corpus: Corpus, n: int) -> str:
    """One or two words of a band (by turns), the last cut to a prefix of at least 3 letters now and then."""
    band = corpus.band(("common", "middling", "rare")[n % 3])
    words = rng.sample(band, 1 + n % 2)
    if n % 4 == 3 and len(words[-1]) > 4:
        words[-1] = words[-1][:max(3, len(words[-1]) - 2)]
    return " ".join(words)


async def run(system: System, args: argparse.Namespace) -> None:
    corpus = Corpus(args)
    rng = random.Random(7)
    await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1, argon2_memory_kib=8192),
                        TENANT, "admin", PASSWORD)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.mongo_url)
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as http:
        async def sign_in(user: str) -> dict[str, str]:
            signed = await http.post("/v1/auth/sign-in", json={"tenant_id": TENANT, "username": user,
                                                               "password": PASSWORD})
            assert signed.status_code == 200, signed.text
            return {"authorization": f"Bearer {signed.json()['access_token']}"}

        admin = await sign_in("admin")
        for queue in QUEUES:
            made = await http.put(f"/v1/admin/queues/{queue}", headers=admin, json={"name": queue, "members": {}})
            assert made.status_code == 200, made.text
        for user, body in (("agent0", {}), ("sue", {"role": "supervisor", "supervises": list(QUEUES)})):
            made = await http.post("/v1/admin/staff", headers=admin, json={"user_id": user, "password": PASSWORD,
                                                                            **body})
            assert made.status_code == 200, made.text
        await seed(mongo["chat"], mongo["gateway"], corpus)
        agent, supervisor = await sign_in("agent0"), await sign_in("sue")  # after seeding: tokens outlive the run

        seen: dict[str, list[tuple[float, str, int, bool]]] = {}  # kind -> (seconds, q, hits, complete)

        async def search(headers: dict[str, str], kind: str = "", **params: Any) -> dict[str, Any]:
            start = time.perf_counter()
            response = await http.get("/v1/agent/search", params=params, headers=headers)
            assert response.status_code == 200, response.text
            found = response.json()
            seen.setdefault(kind, []).append((time.perf_counter() - start, params["q"], len(found["hits"]),
                                              found["complete"]))
            return found

        agents_conversations = range(0, corpus.conversations, args.agents)  # agent0's
        cases = {
            "a customer's whole history": lambda i: search(
                supervisor, "customer", q=query(rng, corpus, i), customer_id=f"cu{rng.randrange(corpus.customers)}"),
            "within one conversation": lambda i: search(
                agent, "conversation", q=query(rng, corpus, i),
                conversation_id=f"conv{rng.choice(agents_conversations)}"),
            "tenant-wide, an agent": lambda i: search(agent, "agent", q=query(rng, corpus, i)),
            "tenant-wide, a supervisor of all": lambda i: search(supervisor, "supervisor", q=query(rng, corpus, i)),
        }
        chat_db = mongo["chat"]
        baseline_query = lambda i: chat_db[MESSAGES].find_one(  # noqa: E731
            {"_id": f"{TENANT}|conv{rng.randrange(corpus.conversations)}-1"})
        n = args.requests
        results = await measure(baseline_query, cases, n)
        sample = {name: await search(headers, q="refund", **scope) for name, headers, scope in (
            ("customer", supervisor, {"customer_id": "cu1"}), ("agent", agent, {}), ("supervisor", supervisor, {}))}
        print("(q=refund: " + ", ".join(f"{name} {len(found['hits'])} hits, complete={found['complete']}"
                                        for name, found in sample.items()) + ")")
        ranks = {w: n for n, w in enumerate(corpus.words, 1)}
        for kind in ("agent", "supervisor"):  # the tenant-wide tails: which queries they are
            print(f"slowest tenant-wide searches, {kind} (ms, query with each word's frequency rank, hits, complete):")
            for took, q, hits, complete in sorted(seen.get(kind, []), reverse=True)[:6]:
                ranked = " ".join(f"{w}#{ranks.get(w, 'prefix')}" for w in q.split())
                print(f"  {took * 1000:7.1f}  {ranked:40s} {hits:3d} {complete}")
    await mongo.close()
    print_table(results, BASELINE, target_s=0.100, requests=n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-conversation", type=int, default=10)
    parser.add_argument("--conversations-per-customer", type=int, default=10)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    run_on_system("bench-history-", run, args)


if __name__ == "__main__":
    main()
