"""Routing's cache of the queues and agents its process committed last (adapters/state_cache.py), on the real
MongoDB: a deployment with it ends exactly where one without it ends; a commit by anything else (another
instance, a reset database) is read, never the stale copy; and a warm cache saves the reads it is for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.repository import CLAIMS, RoutingRepository
from services.routing.adapters.state_cache import StateCache
from services.routing.handlers import RoutingHandlers
from shared.contracts import routing as r
from shared.contracts.answers import CommandRejected
from shared.mongo import MongoUnitOfWork
from tests.integration.routing.test_batches_on_mongo import MongoSide
from tests.unit.routing.test_batches import answer_of, batch_equals_one_by_one, envelope
from tests.unit.routing.test_use_cases import T0

pytestmark = pytest.mark.integration


class Commands(monitoring.CommandListener):
    """The commands a client sent, by name and collection."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        self.seen.append((event.command_name, target if isinstance(target, str) else ""))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


class CachedSide(MongoSide):
    """MongoSide's handlers with the service's repositories: a StateCache of their own (one process)."""

    def __init__(self, url: str, database: str, *, listener: Commands | None = None) -> None:
        super().__init__(url, database)
        if listener is not None:  # the service's client, and a listener
            self.client = AsyncMongoClient(url, tz_aware=True, event_listeners=[listener])
            self.uow = MongoUnitOfWork(self.client, database)
        self.cache = StateCache()
        ids = iter(range(1, 10_000))
        self.handlers = RoutingHandlers(self.uow, RoutingDeadlines(self.uow.db), clock=lambda: T0,
                                        new_id=lambda: f"id-{next(ids)}",
                                        repositories=partial(RoutingRepository, cache=self.cache))

    async def offers(self, conversation_id: str) -> list[r.OfferMade]:
        return [e.payload for e in await self.envelopes()
                if isinstance(e.payload, r.OfferMade) and e.payload.conversation_id == conversation_id]


@pytest.fixture
async def made(infrastructure, unique) -> AsyncIterator[list[MongoSide]]:
    sides: list[MongoSide] = []
    yield sides
    for side in sides:
        await side.client.drop_database(side.uow.db.name)
        await side.client.close()


async def started(made: list[MongoSide], side: MongoSide) -> Any:
    made.append(side)
    await side.start()
    return side


@pytest.mark.parametrize("cached", ["one by one", "batched"])
async def test_with_the_cache_routing_ends_where_it_ends_without(made, infrastructure, unique, cached):
    """The scenario of the batch tests, with the cache on one side: the same stored state, answers and events.
    One by one, most commands find their tenant's queues and agents in the cache."""
    plain = await started(made, MongoSide(infrastructure.mongo_url, f"routing-plain-{unique}"))
    warm = await started(made, CachedSide(infrastructure.mongo_url, f"routing-cached-{unique}"))
    if cached == "one by one":
        await batch_equals_one_by_one(warm, plain)
        assert warm.cache.hits > 10, (warm.cache.hits, warm.cache.misses)
    else:
        await batch_equals_one_by_one(plain, warm)
        assert warm.cache.hits > 0, (warm.cache.hits, warm.cache.misses)


async def _agent_and_queue(side: CachedSide, tenant: str = "t1") -> None:
    await side.deliver(envelope(r.ConfigureAgent(agent_id="a1", capacity={"chat": 1}), tenant))
    await side.deliver(envelope(r.ConfigureQueue(queue_id="q1", name="q1", offer_timeout_s=30, members={"a1": 1}),
                                tenant))
    await side.deliver(envelope(r.SetPresence(agent_id="a1", presence="available"), tenant))


async def test_another_instances_commit_is_read_not_the_stale_copy(made, infrastructure, unique):
    """Instance A's cache holds a1 available; instance B (same database) sets a1 away; A must then not offer a
    conversation to a1. With a cache that trusted its copy regardless of the claim, A would."""
    database = f"routing-two-{unique}"
    a = await started(made, CachedSide(infrastructure.mongo_url, database))
    b = await started(made, CachedSide(infrastructure.mongo_url, database))
    await _agent_and_queue(a)
    await a.deliver(envelope(r.RouteConversation(conversation_id="warm", queue_id="q1")))  # a1 offered, ...
    (offer,) = await a.offers("warm")
    await a.deliver(envelope(r.AcceptOffer(conversation_id="warm", agent_id="a1", offer_id=offer.offer_id)))
    await a.deliver(envelope(r.EndConversation(conversation_id="warm", agent_id="a1")))  # ... and free again
    assert a.cache.hits >= 3
    await b.deliver(envelope(r.SetPresence(agent_id="a1", presence="away")))
    misses = a.cache.misses
    await a.deliver(envelope(r.RouteConversation(conversation_id="c1", queue_id="q1")))
    assert a.cache.misses == misses + 1
    assert await a.offers("c1") == []
    await b.deliver(envelope(r.SetPresence(agent_id="a1", presence="available")))
    await a.deliver(envelope(r.RouteConversation(conversation_id="c2", queue_id="q1")))
    assert [o.agent_id for o in await a.offers("c1")] == ["a1"]  # the first in line, once a1 is back


async def test_a_reset_database_is_read_even_when_its_claim_counter_lines_up(made, infrastructure, unique):
    """The database is dropped while A's cache is warm, and B's commands bring the new claim counter to just
    below A's: only the claim's epoch tells A that its copy is of another database. A must then refuse a
    conversation for a queue that no longer exists."""
    database = f"routing-reset-{unique}"
    a = await started(made, CachedSide(infrastructure.mongo_url, database))
    b = await started(made, CachedSide(infrastructure.mongo_url, database))
    await _agent_and_queue(a)
    stamp = (await a.uow.db[CLAIMS].find_one({"_id": "t1"}))["n"]
    await a.client.drop_database(database)
    await a.start()
    for n in range(stamp):
        await b.deliver(envelope(r.ConfigureAgent(agent_id=f"b{n}", capacity={"chat": 1})))
    assert (await a.uow.db[CLAIMS].find_one({"_id": "t1"}))["n"] == stamp
    command = envelope(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    await a.deliver(command)
    assert isinstance(answer_of(await a.envelopes(), command), CommandRejected)
    assert await a.offers("c1") == []


async def test_a_warm_cache_reads_no_queues_and_no_agents(made, infrastructure, unique):
    """What it is for: a route with the tenant's queues and agents cached sends no find to either collection
    (two round trips of a routing transaction's eleven); a cold one reads both."""
    listener = Commands()
    warm = await started(made, CachedSide(infrastructure.mongo_url, f"routing-reads-{unique}", listener=listener))
    await _agent_and_queue(warm)
    listener.seen.clear()
    await warm.deliver(envelope(r.RouteConversation(conversation_id="c1", queue_id="q1")))
    assert ("find", "queues") not in listener.seen and ("find", "agents") not in listener.seen, listener.seen
    assert [o.agent_id for o in await warm.offers("c1")] == ["a1"]
    warm.cache = StateCache()  # a new process: nothing cached
    warm.handlers.repositories = partial(RoutingRepository, cache=warm.cache)
    listener.seen.clear()
    await warm.deliver(envelope(r.RouteConversation(conversation_id="c2", queue_id="q1")))
    assert ("find", "queues") in listener.seen and ("find", "agents") in listener.seen, listener.seen
