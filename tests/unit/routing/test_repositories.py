"""The in-memory repositories (fakes.py) keep the MongoDB ones' contract: one per aggregate, each refusing a
stale write with ConcurrencyConflict, composed by RoutingRepository's save (what changed, plus the touched
queues)."""

from datetime import UTC, datetime

import pytest

from services.routing.adapters.agents import AGENTS
from services.routing.adapters.queues import QUEUES
from services.routing.adapters.repository import Scope
from services.routing.adapters.work_items import ITEMS
from services.routing.domain.model import Agent, QueueConfig, WorkItem
from services.routing.domain.router import Router
from shared.mongo import ConcurrencyConflict
from shared.testing.fakes import FakeTransaction
from tests.unit.routing.fakes import InMemoryAgents, InMemoryQueues, InMemoryRoutingRepository, InMemoryWorkItems

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

AGGREGATES = [
    pytest.param(InMemoryQueues, lambda: QueueConfig("q1", "Q"), lambda repo, q: repo.save([q]), id="queues"),
    pytest.param(InMemoryAgents, lambda: Agent("a1"), lambda repo, a: repo.save([a]), id="agents"),
    pytest.param(InMemoryWorkItems, lambda: WorkItem(conversation_id="c1", queue_id="q1", enqueued_at=T0,
                                                     created_at=T0),
                 lambda repo, i: repo.save([i], now=T0), id="work_items"),
]


@pytest.mark.parametrize(("repository", "new", "save"), AGGREGATES)
async def test_each_aggregate_is_saved_at_the_version_it_was_read_and_a_stale_write_conflicts(repository, new, save):
    tx = FakeTransaction({})
    await save(repository(tx, "t1"), new())
    with pytest.raises(ConcurrencyConflict):
        await save(repository(tx, "t1"), new())  # created by another since this one looked

    mine, theirs = repository(tx, "t1"), repository(tx, "t1")
    (read_by_me,), (read_by_them,) = (await mine.all()).values(), (await theirs.all()).values()
    await save(theirs, read_by_them)
    with pytest.raises(ConcurrencyConflict):
        await save(mine, read_by_me)
    assert read_by_them.version == 2

    again = repository(tx, "t1")
    (fresh,) = (await again.all()).values()
    await save(again, fresh)
    await save(again, fresh)  # its own earlier write is not a stale read
    assert fresh.version == 4


async def test_a_queue_is_removed_only_at_the_version_read():
    tx = FakeTransaction({})
    await InMemoryQueues(tx, "t1").save([QueueConfig("q1", "Q")])
    mine, theirs = InMemoryQueues(tx, "t1"), InMemoryQueues(tx, "t1")
    await mine.all()
    (queue,) = (await theirs.all()).values()
    await theirs.save([queue])
    with pytest.raises(ConcurrencyConflict):
        await mine.save([], removed=["q1"])
    await theirs.save([], removed=["q1"])
    assert tx.collection(QUEUES) == {}


async def test_tenants_are_apart_in_every_repository():
    tx = FakeTransaction({})
    await InMemoryAgents(tx, "t1").save([Agent("a1")])
    await InMemoryAgents(tx, "t2").save([Agent("a1")])  # the same id in another tenant is another document
    assert sorted(tx.collection(AGENTS)) == ["t1|a1", "t2|a1"]
    assert list(await InMemoryAgents(tx, "t2").all()) == ["a1"]


async def test_the_composed_save_writes_what_the_router_changed_and_bumps_the_touched_queues():
    tx = FakeTransaction({})
    repo = InMemoryRoutingRepository(tx, "t1")
    snap = await repo.load(Scope())
    router = Router(snap.queues, snap.agents, snap.items, now=T0, new_id=lambda: "o1")
    router.configure_queue(QueueConfig("q1", "Q", members={"a1": 1}))
    router.configure_queue(QueueConfig("q2", "Q"))
    router.configure_agent("a1", {"chat": 1})
    router.set_presence("a1", "available")
    router.enqueue("c1", "q1")
    await repo.save(router, touch_queues=set())
    assert {d["_id"]: d["version"] for d in tx.collection(QUEUES).values()} == {"t1|q1": 1, "t1|q2": 1}
    assert tx.collection(ITEMS)["t1|c1"]["state"] == "offered"

    repo = InMemoryRoutingRepository(tx, "t1")
    snap = await repo.load(Scope(queues={"q2"}))
    router = Router(snap.queues, snap.agents, snap.items, now=T0, new_id=lambda: "o2")
    router.end("c1")
    await repo.save(router, touch_queues={"q2"})  # q2 bumped though unchanged: the serialisation point
    assert {d["_id"]: d["version"] for d in tx.collection(QUEUES).values()} == {"t1|q1": 1, "t1|q2": 2}
    assert tx.collection(AGENTS)["t1|a1"]["load"] == {"chat": 0}
    assert tx.collection(ITEMS)["t1|c1"]["ended_at"] == T0
