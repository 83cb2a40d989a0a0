"""Routing's use cases through its real handlers, on in-memory fakes (no broker, no database): commands
in, answers and events out, as the consumer and the clock drive them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from services.routing.handlers import RoutingHandlers
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted, CommandRejected, http_status
from shared.contracts.catalogue import ROUTING_EVENTS
from shared.contracts.envelope import Envelope, wrap
from shared.mongo import ANSWERS, consuming
from shared.testing.fakes import FakeUnitOfWork
from tests.unit.routing.fakes import InMemoryDeadlines, InMemoryRoutingRepository

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Routing:
    """The handlers wired to fakes, a settable clock, and helpers to send as the consumer does."""

    def __init__(self) -> None:
        self.uow = FakeUnitOfWork()
        self.now = T0
        ids = count(1)
        self.handlers = RoutingHandlers(self.uow, InMemoryDeadlines(self.uow), repositories=InMemoryRoutingRepository,
                                        clock=lambda: self.now, new_id=lambda: f"id-{next(ids)}")

    async def send(self, command: r.RoutingCommand, tenant: str = "t1") -> Envelope:
        env = wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="test")
        await self.deliver(env)
        return env

    async def deliver(self, env: Envelope) -> None:
        with consuming(env.event_id):  # what shared.consumer does around a handler
            await self.handlers.handle_command(env)

    def events(self, type_: type | None = None, tenant: str = "t1") -> list:
        return [e.payload for e in self.uow.emitted(ROUTING_EVENTS.name)
                if e.tenant_id == tenant and (type_ is None or isinstance(e.payload, type_))]

    def answer(self, env: Envelope) -> CommandAccepted | CommandRejected:
        found = [e for e in self.events(tenant=env.tenant_id) if isinstance(e, CommandAccepted | CommandRejected)
                 and e.command_id == env.event_id]
        assert found, f"no answer to {env.type}"
        return found[0]

    async def setup(self, *agents: str, queue: str = "q1", tenant: str = "t1", **queue_kw) -> None:
        for agent in agents:
            await self.send(r.ConfigureAgent(agent_id=agent, capacity={"chat": 1}), tenant)
        await self.send(r.ConfigureQueue(queue_id=queue, name=queue, members=dict.fromkeys(agents, 1),
                                         offer_timeout_s=30, **queue_kw), tenant)
        for agent in agents:
            await self.send(r.SetPresence(agent_id=agent, presence="available"), tenant)


@pytest.fixture
def routing() -> Routing:
    return Routing()


async def test_a_conversation_is_offered_accepted_and_assigned(routing):
    await routing.setup("a1")
    route = await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1", customer_name="Ann"))
    assert isinstance(routing.answer(route), CommandAccepted)
    (offer,) = routing.events(r.OfferMade)
    assert (offer.agent_id, offer.customer_name, offer.expires_at) == ("a1", "Ann", T0 + timedelta(seconds=30))

    accept = await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id=offer.offer_id))
    assert isinstance(routing.answer(accept), CommandAccepted)
    (assigned,) = routing.events(r.ConversationAssigned)
    assert (assigned.agent_id, assigned.how) == ("a1", "offer")
    # The agent's only chat slot is full: busy by itself.
    assert routing.events(r.PresenceChanged)[-1].presence == "busy"


async def test_a_redelivered_command_changes_nothing_and_only_its_first_answer_is_published_again(routing):
    await routing.setup("a1")
    route = await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    before, state = list(routing.uow.outbox), copy.deepcopy(routing.uow.docs)
    await routing.deliver(route)  # the same envelope again (the consumer re-read it after a crash)
    assert routing.uow.docs == state
    assert [env.payload for _, env in routing.uow.outbox[len(before):]] == [routing.answer(route)]


async def test_a_refused_command_is_answered_with_its_reason_and_changes_nothing(routing):
    await routing.setup("a1")
    state = copy.deepcopy(routing.uow.docs)
    wrong = await routing.send(r.AcceptOffer(conversation_id="nope", agent_id="a1", offer_id="o1"))
    rejected = routing.answer(wrong)
    assert isinstance(rejected, CommandRejected) and rejected.code == "unknown_conversation"
    assert rejected.request_id == wrong.payload.request_id and http_status(rejected.code) == 404
    answers = routing.uow.docs.pop(ANSWERS)  # the answer is kept for a retry; nothing else changed
    assert set(answers) - set(state.pop(ANSWERS)) == {f"{wrong.tenant_id}:{wrong.payload.request_id}"}
    assert routing.uow.docs == state


async def test_a_retried_request_id_is_carried_out_once_and_gets_the_first_answer_again(routing):
    await routing.setup("a1")
    route = r.RouteConversation(conversation_id="c1", queue_id="q1", request_id="req-1")
    first = await routing.send(route)
    (offer,) = [e for e in routing.events() if isinstance(e, r.OfferMade)]
    emitted = len(routing.uow.outbox)
    again = await routing.send(route)  # the client's retry: a new envelope, the same request id
    assert again.event_id != first.event_id
    repeated = [env.payload for _, env in routing.uow.outbox[emitted:]]
    assert repeated == [routing.answer(first)]  # only the first answer, published again
    assert isinstance(repeated[0], CommandAccepted) and repeated[0].command_id == first.event_id
    assert [e for e in routing.events() if isinstance(e, r.OfferMade)] == [offer]


async def test_an_unanswered_offer_puts_the_agent_in_rona_and_goes_to_the_next_agent(routing):
    await routing.setup("a1", "a2")
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    (first,) = routing.events(r.OfferMade)

    routing.now = T0 + timedelta(seconds=31)
    assert await routing.handlers.run_due_timers() > 0

    (expired,) = routing.events(r.OfferExpired)
    assert expired.agent_id == first.agent_id
    assert [(p.agent_id, p.presence) for p in routing.events(r.PresenceChanged)][-1] == (first.agent_id, "rona")
    second = routing.events(r.OfferMade)[-1]
    assert second.agent_id != first.agent_id and second.conversation_id == "c1"
    assert await routing.handlers.run_due_timers() == 0  # nothing else is due


async def test_a_conversation_waiting_too_long_overflows_by_timer(routing):
    await routing.setup("a1", queue="fallback")
    await routing.send(r.ConfigureQueue(queue_id="q1", name="q1", overflow_queue_id="fallback", max_wait_s=60))
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    assert not routing.events(r.OfferMade)  # q1 has no members

    routing.now = T0 + timedelta(seconds=61)
    await routing.handlers.run_due_timers()
    (moved,) = routing.events(r.ConversationOverflowed)
    assert (moved.from_queue_id, moved.to_queue_id, moved.waited_s) == ("q1", "fallback", 61.0)
    assert routing.events(r.OfferMade)[-1].agent_id == "a1"


async def test_tenants_do_not_see_each_other(routing):
    await routing.setup("a1", tenant="t1")
    await routing.setup("a1", tenant="t2")
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"), tenant="t1")
    assert len(routing.events(r.OfferMade, tenant="t1")) == 1
    assert routing.events(r.OfferMade, tenant="t2") == []
    other = await routing.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id="id-1"), tenant="t2")
    assert routing.answer(other).code == "unknown_conversation"


async def test_two_admins_changing_one_queues_members_at_once_both_keep_their_change(routing):
    """Both changes were made from the same list (a1, a2); the second does not undo the first, and the queue's
    other settings stay as configured. A member added this way is offered work like any other."""
    await routing.setup("a1", "a2", max_declines=3)
    await routing.send(r.ConfigureAgent(agent_id="a3", capacity={"chat": 1}))
    first = await routing.send(r.ChangeQueueMembers(queue_id="q1", add={"a3": 2}))
    second = await routing.send(r.ChangeQueueMembers(queue_id="q1", remove=["a1"]))
    assert isinstance(routing.answer(first), CommandAccepted) and isinstance(routing.answer(second), CommandAccepted)
    configured = routing.events(r.QueueConfigured)[-1]
    assert configured.members == {"a2": 1, "a3": 2} and configured.max_declines == 3

    await routing.send(r.SetPresence(agent_id="a2", presence="offline"))
    await routing.send(r.SetPresence(agent_id="a3", presence="available"))
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1", customer_name="Ann"))
    assert [o.agent_id for o in routing.events(r.OfferMade)] == ["a3"]


async def test_changing_the_members_of_an_unknown_queue_or_adding_and_removing_one_agent_is_refused(routing):
    await routing.setup("a1")
    unknown = await routing.send(r.ChangeQueueMembers(queue_id="nope", add={"a1": 1}))
    both = await routing.send(r.ChangeQueueMembers(queue_id="q1", add={"a1": 1}, remove=["a1"]))
    assert (routing.answer(unknown).code, routing.answer(both).code) == ("unknown_queue", "invalid_config")
    assert routing.events(r.QueueConfigured)[-1].members == {"a1": 1}


async def test_many_agents_are_configured_by_one_command_all_or_none(routing):
    done = await routing.send(r.ConfigureAgents(batch_id="team", agents={
        f"a{n}": r.AgentSettings(capacity={"chat": 2}, skills={"billing": n + 1}) for n in range(3)}))
    assert isinstance(routing.answer(done), CommandAccepted)
    assert sorted(e.agent_id for e in routing.events(r.CapacityChanged)) == ["a0", "a1", "a2"]
    await routing.send(r.ConfigureQueue(queue_id="q1", name="q1", members={"a1": 1}))
    await routing.send(r.SetPresence(agent_id="a1", presence="available"))
    await routing.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    assert [o.agent_id for o in routing.events(r.OfferMade)] == ["a1"]

    before = len(routing.events())
    refused = await routing.send(r.ConfigureAgents(batch_id="team2", agents={
        "a7": r.AgentSettings(capacity={"chat": 2}), "a8": r.AgentSettings(skills={"billing": 99})}))
    assert routing.answer(refused).code == "invalid_config"
    assert [type(e) for e in routing.events()[before:]] == [CommandRejected]  # a7 was not created either
