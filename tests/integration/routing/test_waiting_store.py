"""Waiting places on the real mongod: the handlers load queued and offered items in queue order (offered ones
as bystanders), publish QueuePositionChanged through the outbox, never publish a place behind the part of a
long line they loaded, and the read API counts exact positions at any depth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.routing.adapters import repository
from services.routing.adapters.deadlines import RoutingDeadlines
from services.routing.adapters.queries import MongoRoutingQueries
from services.routing.adapters.repository import RoutingRepository, Scope, ensure_indexes
from services.routing.entrypoints.http import read_api
from services.routing.handlers import RoutingHandlers
from shared.contracts import routing as r
from shared.contracts.envelope import decode, wrap
from shared.mongo import OUTBOX, MongoUnitOfWork, consuming, ensure_runtime_indexes, make_mongo_client
from shared.settings import ServiceSettings

pytestmark = pytest.mark.integration
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Routing:
    def __init__(self, client: Any, db_name: str) -> None:
        self.db = client[db_name]
        self.uow = MongoUnitOfWork(client, db_name)
        self.now = T0
        self.handlers = RoutingHandlers(self.uow, RoutingDeadlines(self.db), clock=lambda: self.now)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(
            app=read_api(MongoRoutingQueries(self.db), clock=lambda: self.now)), base_url="http://routing")

    async def send(self, command: r.RoutingCommand) -> None:
        env = wrap(command, tenant_id="t1", key=getattr(command, command.KEY), producer="test")
        with consuming(env.event_id):
            await self.handlers.handle_command(env)

    async def places(self) -> list[tuple[str, int, int | None]]:
        rows = await self.db[OUTBOX].find({"type": r.QueuePositionChanged.TYPE}).sort("_id", 1).to_list()
        return [(e.conversation_id, e.position, e.estimated_wait_s) for e in (decode(x["value"]).payload
                                                                               for x in rows)]

    async def position(self, cid: str) -> tuple[str, int | None]:
        body = (await self.http.get(f"/internal/tenants/t1/conversations/{cid}/position")).json()
        return body["state"], body["position"]


@pytest.fixture
async def routing(infrastructure, unique) -> AsyncIterator[Routing]:
    client = make_mongo_client(ServiceSettings(mongo_url=infrastructure.mongo_url))
    service = Routing(client, f"routing-waiting-{unique}")
    await ensure_indexes(service.db)
    await ensure_runtime_indexes(service.db)
    await service.send(r.ConfigureAgent(agent_id="a1", capacity={"chat": 1}))
    await service.send(r.ConfigureQueue(queue_id="q1", name="q1", members={"a1": 1}))
    await service.send(r.SetPresence(agent_id="a1", presence="available"))
    yield service
    await service.http.aclose()
    await client.close()


async def arrive(routing: Routing, *cids: str) -> None:
    for cid in cids:
        routing.now += timedelta(seconds=1)
        await routing.send(r.RouteConversation(conversation_id=cid, queue_id="q1"))


async def test_an_offered_conversation_counts_and_everyone_moves_up_when_it_is_accepted(routing):
    await arrive(routing, "c1", "c2", "c3")
    assert await routing.places() == [("c1", 1, 0), ("c2", 2, None), ("c3", 3, None)]
    offer = await routing.db["work_items"].find_one({"conversation_id": "c1"})
    routing.now += timedelta(seconds=1)
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id=offer["offer"]["offer_id"]))
    assert (await routing.places())[3:] == [("c2", 1, 60), ("c3", 2, 120)]
    assert [await routing.position(c) for c in ("c1", "c2", "c3")] == [("assigned", None), ("queued", 1),
                                                                         ("queued", 2)]


async def test_behind_the_loaded_part_of_a_long_line_no_place_is_published_and_the_read_api_counts(
        routing, monkeypatch):
    monkeypatch.setattr(repository, "QUEUED_ITEMS_PER_LOAD", 3)
    await arrive(routing, "c1", "c2", "c3")  # c1 offered; the line is c1 (offered), c2, c3: three loaded
    published = len(await routing.places())
    await arrive(routing, "c4", "c5")
    assert (await routing.places())[published:] == []  # their place is behind what a use case loads

    async def snapshot() -> repository.Snapshot:
        async def load(tx: Any) -> repository.Snapshot:
            return await RoutingRepository(tx, "t1").load(Scope(queues={"q1"}))
        return await routing.uow.run(load)

    snap = await snapshot()
    assert set(snap.bystanders) == {"c1"} and "c1" not in snap.items  # offered: only its place matters
    assert snap.known_before is not None and {"c2", "c3"} <= set(snap.items)
    assert [await routing.position(c) for c in ("c4", "c5")] == [("queued", 4), ("queued", 5)]
    status = (await routing.http.get("/internal/tenants/t1/queues/q1/status")).json()
    assert (status["queued"], status["agents_online"], status["agents_available"]) == (5, 1, 0)
