"""History search's scope in the gateway (history_search.py) on the real mongod: the conversations a staff
member may read the messages of, from the gateway's projection, by the permission table; too many for one
search means the tenant's newest matches, each hit checked; every query on an index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from services.gateway import history_search
from services.gateway.adapters.favourites import FAVOURITES
from services.gateway.adapters.store import CONVERSATIONS, QUEUES, ensure_indexes
from services.gateway.auth.permissions import Role
from services.gateway.identity import Staff
from services.gateway.projection import new_view
from shared.contracts.chat.privacy import MAX_SEARCH_CONVERSATIONS

pytestmark = pytest.mark.integration
T = "t1"


def view(cid: str, **fields: Any) -> dict[str, Any]:
    return {**new_view(T, cid), "state": "closed", "queue_id": "q1", "customer_id": "cu-x", **fields}


@pytest.fixture
async def db(infrastructure, unique) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infrastructure.mongo_url)
    database = client[f"gateway-{unique}"]
    await ensure_indexes(database, replay_window_s=60)
    await database[CONVERSATIONS].insert_many([
        view("served", served_by=["alice"]),
        view("held", state="active", agents=["alice"], served_by=["alice"]),
        view("conference", state="active", agents=["bob", "alice"], served_by=["bob", "alice"]),
        view("transferred-away", state="active", agents=["bob"], served_by=["alice", "bob"]),  # not alice's now
        view("offline", offline=True, queue_id="q2"),
        view("queued-in-her-queue", state="queued", queue_id="q2"),  # read_preview, not read_messages
        view("favourite", served_by=["bob"], customer_id="cu-fav"),
        view("bobs", served_by=["bob"]),
        view("other-tenant", served_by=["alice"], tenant_id="t2", _id="t2:other-tenant"),
    ])
    await database[QUEUES].insert_one({"_id": f"{T}:q2", "tenant_id": T, "queue_id": "q2", "members": ["alice"]})
    await database[FAVOURITES].insert_one({"_id": f"{T}:cu-fav", "tenant_id": T, "customer_id": "cu-fav",
                                           "agents": ["alice"]})
    yield database
    await client.drop_database(database.name)
    await client.close()


ALICE = Staff(T, "alice", Role.AGENT, "s1")


async def test_an_agent_searches_what_she_may_read_and_nothing_else(db):
    readable = await history_search.callers_conversations(db, ALICE)
    assert sorted(readable) == ["conference", "favourite", "held", "offline", "served"]
    assert await history_search.customers_conversations(db, ALICE, ["cu-fav"]) == ["favourite"]
    assert await history_search.customers_conversations(db, ALICE, ["cu-x", "nobody"]) != []
    hits = [{"conversation_id": cid} for cid in ("bobs", "served", "other-tenant", "transferred-away", "gone")]
    assert await history_search.readable_hits(db, ALICE, hits) == [{"conversation_id": "served"}]


async def test_a_supervisor_of_busy_queues_searches_the_tenants_newest_matches_checked(db):
    await db[CONVERSATIONS].insert_many([view(f"busy{n}", queue_id="busy") for n in range(MAX_SEARCH_CONVERSATIONS + 1)])
    sue = Staff(T, "sue", Role.SUPERVISOR, "s2", queues=("busy",))
    assert await history_search.callers_conversations(db, sue) is None
    small = Staff(T, "sam", Role.SUPERVISOR, "s3", queues=("q2",))
    assert sorted(await history_search.callers_conversations(db, small)) == ["offline", "queued-in-her-queue"]
    hits = [{"conversation_id": cid} for cid in ("busy7", "served", "offline")]
    assert await history_search.readable_hits(db, sue, hits) == [{"conversation_id": "busy7"}]
    agent_in_busy = Staff(T, "ann", Role.AGENT, "s4", queues=("busy",))  # an agent's supervision grants nothing
    assert await history_search.readable_hits(db, agent_in_busy, hits) == []


async def test_an_agent_who_served_more_than_one_search_takes_searches_the_tenants_newest_matches(db):
    await db[CONVERSATIONS].insert_many([view(f"old{n}", served_by=["alice"])
                                         for n in range(MAX_SEARCH_CONVERSATIONS - 7)])
    # candidates: 1 + N - 7 served and closed (by id), 5 more from the other branches (one of them not readable)
    readable = await history_search.callers_conversations(db, ALICE)
    assert len(readable) == MAX_SEARCH_CONVERSATIONS - 2 and "transferred-away" not in readable
    await db[CONVERSATIONS].insert_many([view(f"older{n}", served_by=["alice"]) for n in range(2)])
    assert await history_search.callers_conversations(db, ALICE) is None  # served by id, and the rest: one too many
    await db[CONVERSATIONS].insert_many([view(f"oldest{n}", served_by=["alice"]) for n in range(5)])
    assert await history_search.callers_conversations(db, ALICE) is None  # served by id alone: too many


async def test_the_scope_queries_use_indexes(db):
    served = await db[CONVERSATIONS].find({"tenant_id": T, "served_by": "alice", "state": "closed"}).explain()
    assert "closed_list" in str(served["queryPlanner"]["winningPlan"]), served  # taken by id alone
    branches = [{"agents": "alice"}, {"served_by": "alice", "state": {"$ne": "closed"}}, {"queue_id": {"$in": ["q1"]}},
                {"queue_id": {"$in": ["q2"]}, "state": "closed", "offline": True}, {"customer_id": {"$in": ["cu-fav"]}}]
    explained = await db[CONVERSATIONS].find({"$or": [{"tenant_id": T, **b} for b in branches]}).explain()
    plan = str(explained["queryPlanner"]["winningPlan"])
    assert "COLLSCAN" not in plan and plan.count("IXSCAN") >= 4, plan
    favourites = str((await db[FAVOURITES].find({"tenant_id": T, "agents": "alice"}).explain())["queryPlanner"])
    assert "of_agent" in favourites and "COLLSCAN" not in favourites
