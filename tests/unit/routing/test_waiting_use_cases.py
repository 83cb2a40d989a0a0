"""Waiting customers' places through routing's real handlers on in-memory fakes: every use case that changes
a queue's line publishes QueuePositionChanged for those whose place or estimate changed (in the same
transaction as its other events), and the internal read API answers the same places from counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.routing.bootstrap import build
from services.routing.entrypoints.http import read_api
from services.routing.settings import RoutingSettings
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted
from tests.unit.routing.fakes import InMemoryDeadlines, InMemoryRoutingQueries, InMemoryRoutingRepository
from tests.unit.routing.test_use_cases import T0, Routing

pytestmark = pytest.mark.unit
BASE = "/internal/tenants/t1"


@pytest.fixture
def routing() -> Routing:
    return Routing()


class Places:
    """The QueuePositionChanged events published since the last look, as (conversation, queue, position, wait)."""

    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.seen = 0

    def new(self) -> list[tuple[str, str, int, int | None]]:
        found = self.routing.events(r.QueuePositionChanged)
        fresh, self.seen = found[self.seen:], len(found)
        return [(e.conversation_id, e.queue_id, e.position, e.estimated_wait_s) for e in fresh]


async def offer_of(routing: Routing, cid: str) -> r.OfferMade:
    return [e for e in routing.events(r.OfferMade) if e.conversation_id == cid][-1]


async def test_three_customers_move_up_as_the_one_agent_accepts_and_ends(routing):
    await routing.setup("a1")  # capacity 1
    places = Places(routing)
    for i, cid in enumerate(("c1", "c2", "c3")):
        routing.now = T0 + timedelta(seconds=i)
        await routing.send(r.RouteConversation(conversation_id=cid, queue_id="q1"))
    # c1 is offered at once (ringing: no wait); nobody has been assigned yet, so no pace to estimate from.
    assert places.new() == [("c1", "q1", 1, 0), ("c2", "q1", 2, None), ("c3", "q1", 3, None)]

    routing.now = T0 + timedelta(seconds=10)
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id=(await offer_of(routing, "c1"))
                                     .offer_id))
    # One assignment, spread over at least a minute: 60 s per place.
    assert places.new() == [("c2", "q1", 1, 60), ("c3", "q1", 2, 120)]

    routing.now = T0 + timedelta(seconds=70)
    await routing.send(r.EndConversation(conversation_id="c1"))
    assert places.new() == [("c2", "q1", 1, 0), ("c3", "q1", 2, 60)]  # c2 is offered now

    routing.now = T0 + timedelta(seconds=80)
    await routing.send(r.AcceptOffer(conversation_id="c2", agent_id="a1", offer_id=(await offer_of(routing, "c2"))
                                     .offer_id))
    assert places.new() == [("c3", "q1", 1, 35)]  # two assignments in 70 s: 35 s each


async def test_places_are_published_after_the_use_cases_events_in_the_same_transaction(routing):
    await routing.setup("a1")
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    before = len(routing.uow.outbox)
    await routing.send(r.RouteConversation(conversation_id="c2", queue_id="q1"))
    published = [env.payload for _, env in routing.uow.outbox[before:]]
    assert [type(p) for p in published] == [r.ConversationQueued, r.QueuePositionChanged, CommandAccepted]
    assert (published[1].conversation_id, published[1].position) == ("c2", 2)


async def test_nobody_online_makes_every_estimate_unknown_and_coming_back_restores_them(routing):
    await routing.setup("a1")
    places = Places(routing)
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id="id-1"))
    routing.now = T0 + timedelta(seconds=5)
    await routing.send(r.RouteConversation(conversation_id="c2", queue_id="q1"))
    assert places.new()[-1] == ("c2", "q1", 1, 60)

    await routing.send(r.SetPresence(agent_id="a1", presence="offline"))
    assert places.new() == [("c2", "q1", 1, None)]
    await routing.send(r.SetPresence(agent_id="a1", presence="busy"))  # online again, still full
    assert places.new() == [("c2", "q1", 1, 60)]


async def test_a_refused_command_publishes_no_places(routing):
    await routing.setup("a1")
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    places = Places(routing)
    places.new()
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id="wrong"))
    assert places.new() == []


async def test_a_declined_offer_keeps_its_place_and_a_transfer_joins_the_back_of_another_line(routing):
    await routing.setup("a1", "a2")
    await routing.send(r.ConfigureQueue(queue_id="q2", name="q2", members={"a2": 1}))
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    offer = await offer_of(routing, "c1")
    places = Places(routing)
    places.new()
    await routing.send(r.DeclineOffer(conversation_id="c1", agent_id=offer.agent_id, offer_id=offer.offer_id))
    # Declined by one, offered to the other at once: still first, still no wait; nothing to announce.
    assert places.new() == []

    again = await offer_of(routing, "c1")
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id=again.agent_id, offer_id=again.offer_id))
    await routing.send(r.ConfigureAgent(agent_id="a3", capacity={"chat": 1}))
    await routing.send(r.ConfigureQueue(queue_id="q2", name="q2", members={"a3": 1}))
    await routing.send(r.SetPresence(agent_id="a3", presence="busy"))
    await routing.send(r.RouteConversation(conversation_id="c9", queue_id="q2"))
    places.new()
    routing.now = T0 + timedelta(seconds=5)
    await routing.send(r.TransferConversation(conversation_id="c1", agent_id=again.agent_id, to_queue_id="q2"))
    assert places.new() == [("c1", "q2", 2, None)]  # behind c9; nobody in q2 has been assigned work yet


async def test_an_overflowed_conversation_gets_a_place_in_the_fallback_queue(routing):
    await routing.send(r.ConfigureAgent(agent_id="a1", capacity={"chat": 1}))
    await routing.send(r.ConfigureQueue(queue_id="fallback", name="fallback", members={"a1": 1}))
    await routing.send(r.ConfigureQueue(queue_id="q1", name="q1", overflow_queue_id="fallback", max_wait_s=60))
    places = Places(routing)
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    await routing.send(r.RouteConversation(conversation_id="c2", queue_id="q1"))
    assert places.new() == [("c1", "q1", 1, None), ("c2", "q1", 2, None)]  # q1 has nobody online

    routing.now = T0 + timedelta(seconds=61)
    await routing.handlers.run_due_timers()
    assert sorted(places.new()) == [("c1", "fallback", 1, None), ("c2", "fallback", 2, None)]


# --- the internal read API --------------------------------------------------------------------------------

@pytest.fixture
async def http(routing) -> AsyncIterator[httpx.AsyncClient]:
    """The read API on the documents the handlers stored, with the handlers' clock."""
    app = read_api(InMemoryRoutingQueries(routing.uow), clock=lambda: routing.now)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        yield client


async def test_the_service_serves_its_read_api_beside_health(routing):
    await routing.setup("a1")
    runtime, _ = build(RoutingSettings(), uow=routing.uow, deadlines=InMemoryDeadlines(routing.uow),
                       repositories=InMemoryRoutingRepository, queries=InMemoryRoutingQueries(routing.uow))
    transport = httpx.ASGITransport(app=runtime.asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        status = await client.get(f"{BASE}/queues/q1/status")
    await runtime.mongo.close()
    assert status.status_code == 200 and status.json()["agents_available"] == 1


async def test_queue_status_and_positions_read_back_what_was_announced(routing, http):
    await routing.setup("a1")
    status = (await http.get(f"{BASE}/queues/q1/status")).json()
    assert status == {"queue_id": "q1", "agents_online": 1, "agents_available": 1, "queued": 0,
                      "estimated_wait_s": 0}
    for cid in ("c1", "c2", "c3"):
        await routing.send(r.RouteConversation(conversation_id=cid, queue_id="q1"))
    await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id="id-1"))
    places = {e.conversation_id: (e.position, e.estimated_wait_s) for e in routing.events(r.QueuePositionChanged)}
    for cid in ("c2", "c3"):
        body = (await http.get(f"{BASE}/conversations/{cid}/position")).json()
        assert (body["state"], body["position"], body["estimated_wait_s"]) == ("queued", *places[cid])
    assert (await http.get(f"{BASE}/queues/q1/status")).json() == {
        "queue_id": "q1", "agents_online": 1, "agents_available": 0, "queued": 2, "estimated_wait_s": 180}
    done = (await http.get(f"{BASE}/conversations/c1/position")).json()
    assert (done["state"], done["position"], done["estimated_wait_s"]) == ("assigned", None, None)

    await routing.send(r.SetPresence(agent_id="a1", presence="offline"))
    status = (await http.get(f"{BASE}/queues/q1/status")).json()
    assert (status["agents_online"], status["estimated_wait_s"]) == (0, None)


async def test_unknown_queues_and_conversations_are_404_with_the_reason(routing, http):
    await routing.setup("a1")
    missing = await http.get(f"{BASE}/queues/nope/status")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert (await http.get(f"{BASE}/conversations/nope/position")).status_code == 404
    assert (await http.get("/internal/tenants/t2/queues/q1/status")).status_code == 404  # another tenant's
