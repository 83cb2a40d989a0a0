"""Routing's batch form (RoutingHandlers.handle_commands): a run of commands carried out in one transaction on
one Router gives the same state and the same answers and events as the same commands one by one; a request
answered before spoils the batch, and the consumer then handles its commands one by one."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from services.routing.handlers import RoutingHandlers
from shared.consumer import MessageDispatcher, Outcome, Record
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import ROUTING_COMMANDS
from shared.contracts.envelope import Envelope, encode, wrap
from shared.mongo import ANSWERS, DuplicateRecord
from tests.unit.routing.test_use_cases import Routing

pytestmark = pytest.mark.unit


def envelope(command: r.RoutingCommand, tenant: str = "t1") -> Envelope:
    return wrap(command, tenant_id=tenant, key=getattr(command, command.KEY), producer="test")


def each(env: Envelope) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


class FakeSide:
    """Routing's handlers on the in-memory fakes, seen as the batch scenario below sees a deployment."""

    def __init__(self) -> None:
        self.routing = Routing()

    async def deliver(self, env: Envelope) -> None:
        await self.routing.deliver(env)

    async def batch(self, envs: list[Envelope]) -> list[bool]:
        return await self.routing.handlers.handle_commands(envs, each)

    async def envelopes(self) -> list[Envelope]:
        return [env for _, env in self.routing.uow.outbox]

    async def documents(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.routing.uow.docs


def without_versions(docs: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Routing's stored state without what only says how often it was written (versions); answers apart."""
    return {name: {doc_id: {k: v for k, v in doc.items() if k != "version"} for doc_id, doc in coll.items()}
            for name, coll in docs.items() if name in ("queues", "agents", "work_items")}


def answer_of(envs: list[Envelope], command: Envelope) -> CommandAccepted | CommandRejected:
    (answer,) = [e.payload for e in envs if isinstance(e.payload, CommandAccepted | CommandRejected)
                 and e.payload.command_id == command.event_id]
    return answer


async def batch_equals_one_by_one(one_by_one: Any, batched: Any) -> None:
    """Send commands one by one to one deployment, written as clients would (each after seeing what the ones
    before did), then the same commands as one batch to another deployment set up the same way; both must end
    in the same state, with the same answers (stored and published) and the same events in the same order,
    apart from the waiting customers' places, of which a batch publishes the last ones only."""
    for side in (one_by_one, batched):
        for tenant, queue, agents in (("t1", "q1", ("a1", "a2")), ("t1", "q2", ("a3",)), ("t2", "q1", ("a1",))):
            for agent in agents:
                await side.deliver(envelope(r.ConfigureAgent(agent_id=agent, capacity={"chat": 1}), tenant))
            await side.deliver(envelope(r.ConfigureQueue(queue_id=queue, name=queue, offer_timeout_s=30,
                                                         members=dict.fromkeys(agents, 1)), tenant))
            for agent in agents:
                await side.deliver(envelope(r.SetPresence(agent_id=agent, presence="available"), tenant))
        # Work that exists before the batch, in a queue none of the batch's first commands names: the batch must
        # load it for the command about it.
        await side.deliver(envelope(r.RouteConversation(conversation_id="d0", queue_id="q2")))
        (offer,) = [e.payload for e in await side.envelopes() if isinstance(e.payload, r.OfferMade)]
        await side.deliver(envelope(r.AcceptOffer(conversation_id="d0", agent_id="a3", offer_id=offer.offer_id)))
    since = len(await batched.envelopes())
    sent: list[Envelope] = []

    async def send(command: r.RoutingCommand, tenant: str = "t1") -> None:
        env = envelope(command, tenant)
        sent.append(env)
        await one_by_one.deliver(env)

    async def offer_of(conversation_id: str, tenant: str = "t1") -> r.OfferMade:
        return [e.payload for e in await one_by_one.envelopes() if e.tenant_id == tenant
                and isinstance(e.payload, r.OfferMade) and e.payload.conversation_id == conversation_id][-1]

    for n in range(1, 5):  # two agents with one chat each: c1 and c2 are offered, c3 and c4 wait
        await send(r.RouteConversation(conversation_id=f"c{n}", queue_id="q1", customer_name=f"Customer {n}"))
    await send(r.RouteConversation(conversation_id="c9", queue_id="nowhere"))  # refused: no such queue
    await send(r.RouteConversation(conversation_id="x1", queue_id="q1"), tenant="t2")  # another tenant
    first = await offer_of("c1")
    await send(r.AcceptOffer(conversation_id="c1", agent_id="a2" if first.agent_id == "a1" else "a1",
                             offer_id=first.offer_id))  # not theirs: refused, changes nothing
    await send(r.AcceptOffer(conversation_id="c1", agent_id=first.agent_id, offer_id=first.offer_id))
    second = await offer_of("c2")
    await send(r.DeclineOffer(conversation_id="c2", agent_id=second.agent_id, offer_id=second.offer_id))
    await send(r.EndConversation(conversation_id="c1", agent_id=first.agent_id))  # frees a slot: c3 moves up
    await send(r.TransferConversation(conversation_id="d0", agent_id="a3", to_queue_id="q1"))  # joins q1's line
    await send(r.AcceptOffer(conversation_id="x1", agent_id="a1", offer_id=(await offer_of("x1", "t2")).offer_id),
               "t2")
    await send(r.SetPresence(agent_id=second.agent_id, presence="away"))
    expected = await one_by_one.envelopes()
    answers = [answer_of(expected, env) for env in sent]
    assert [type(a) for a in answers].count(CommandRejected) == 2  # the batch must carry on past refusals

    assert await batched.batch(sent) == [False] * len(sent)

    got = await batched.envelopes()
    assert without_versions(await batched.documents()) == without_versions(await one_by_one.documents())
    assert [answer_of(got, env) for env in sent] == answers

    def published(envs: list[Envelope]) -> list[Any]:
        return [env.payload for env in envs[since:] if not isinstance(env.payload, r.QueuePositionChanged)]

    def last_places(envs: list[Envelope]) -> dict[str, r.QueuePositionChanged]:
        return {env.payload.conversation_id: env.payload for env in envs
                if isinstance(env.payload, r.QueuePositionChanged)}
    assert published(got) == published(expected)
    waiting = {"c3", "c4"} & last_places(expected).keys()
    assert waiting and {c: last_places(got)[c] for c in waiting} == {c: last_places(expected)[c] for c in waiting}
    stored = {key: doc["answer"] for key, doc in (await batched.documents())[ANSWERS].items()}
    assert [stored[f"{env.tenant_id}:{env.payload.request_id}"] for env in sent] == [
        a.model_dump(mode="json") for a in answers]


async def test_a_batch_ends_where_the_same_commands_one_by_one_end_with_the_same_answers_and_events():
    await batch_equals_one_by_one(FakeSide(), FakeSide())


def state_of(routing: Routing) -> dict[str, Any]:
    return without_versions(routing.uow.docs)


async def test_a_request_sent_twice_in_one_batch_is_carried_out_once_and_answered_the_same_twice():
    routing = Routing()
    await routing.setup("a1")
    route = r.RouteConversation(conversation_id="c1", queue_id="q1", request_id="req-1")
    first, again = envelope(route), envelope(route)  # a client's retry: a new envelope, the same request id

    assert await routing.handlers.handle_commands([first, again], each) == [False, True]

    assert len(routing.events(r.OfferMade)) == 1
    answers = [e for e in routing.events() if isinstance(e, CommandAccepted)]
    assert answers[-2:] == [routing.answer(first)] * 2 and answers[-1].command_id == first.event_id


async def test_a_batch_holding_a_request_answered_before_changes_nothing_and_its_commands_go_one_by_one():
    routing = Routing()
    await routing.setup("a1", "a2")
    answered = envelope(r.RouteConversation(conversation_id="c1", queue_id="q1", request_id="req-1"))
    await routing.deliver(answered)
    before, emitted = state_of(routing), len(routing.uow.outbox)
    redelivered = envelope(r.RouteConversation(conversation_id="c1", queue_id="q1", request_id="req-1"))
    fresh = envelope(r.RouteConversation(conversation_id="c2", queue_id="q1"))

    with pytest.raises(DuplicateRecord):  # the batch form does not read answers first: the insert finds it
        await routing.handlers.handle_commands([fresh, redelivered], each)
    assert state_of(routing) == before and len(routing.uow.outbox) == emitted
    answers_before = len(routing.uow.docs[ANSWERS])

    # What the consumer does then: each command again through the single form.
    letters: list[Envelope] = []

    async def sink(env: Envelope) -> None:
        letters.append(env)
    dispatcher = MessageDispatcher(group="routing", handlers={r.RouteConversation: routing.handlers.commands},
                                   dead_letter=sink, group_commit=routing.uow)
    records = [Record(ROUTING_COMMANDS.name, 0, offset, env.key.encode(), encode(env))
               for offset, env in enumerate([fresh, redelivered])]
    assert await dispatcher.dispatch_batch(records) == [Outcome.HANDLED, Outcome.HANDLED] and letters == []
    assert isinstance(routing.answer(fresh), CommandAccepted)
    first_answer = routing.answer(answered)
    assert [e for e in routing.events() if e == first_answer] == [first_answer] * 2  # the first answer again
    assert [e.conversation_id for e in routing.events(r.OfferMade)] == ["c1", "c2"]
    assert len(routing.uow.docs[ANSWERS]) == answers_before + 1


def test_the_handlers_hand_the_consumer_one_pair_for_every_command():
    handlers = RoutingHandlers.__new__(RoutingHandlers)
    pair = RoutingHandlers.commands.fget(handlers)
    assert pair.one == handlers.handle_command and pair.many == handlers.handle_commands


async def test_a_batch_that_keeps_conflicting_is_carried_out_in_halves_and_ends_the_same():
    """Another instance committing to the same queues makes a big transaction conflict again and again: after
    BATCH_ATTEMPTS tries the batch is split in halves, down to single commands, and ends where one by one ends."""
    from services.routing.handlers import BATCH_ATTEMPTS
    from shared.mongo import ConcurrencyConflict
    from tests.unit.routing.fakes import InMemoryRoutingRepository

    class Busy(InMemoryRoutingRepository):
        """Every save of more than two conversations conflicts, as if another instance always got there first."""
        tries = 0

        async def save(self, router, *, touch_queues):
            if len(router.changed_items) > 2:
                Busy.tries += 1
                raise ConcurrencyConflict("work_items: changed since it was read")
            await super().save(router, touch_queues=touch_queues)

    one_by_one, batched = Routing(), Routing()
    batched.handlers.repositories = Busy
    for routing in (one_by_one, batched):
        await routing.setup("a1", "a2", "a3")
    envs = [envelope(r.RouteConversation(conversation_id=f"c{n}", queue_id="q1")) for n in range(6)]
    for env in envs:
        await one_by_one.deliver(env)

    assert await batched.handlers.handle_commands(envs, each) == [False] * 6

    def without_offer_ids(state):  # the attempts that conflicted drew offer ids too
        for item in state["work_items"].values():
            if item.get("offer"):
                item["offer"] = {**item["offer"], "offer_id": None}
        return state
    assert without_offer_ids(state_of(batched)) == without_offer_ids(state_of(one_by_one))
    assert [batched.answer(env) for env in envs] == [one_by_one.answer(env) for env in envs]
    # 6 conflicted, then 3 and 3 (each conflicted: three conversations), then 1 + 2 twice.
    assert batched.handlers.conflicted_batches == 3 and Busy.tries == 3 * BATCH_ATTEMPTS
