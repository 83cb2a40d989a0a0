"""Routing features over Kafka, as the gateway sees them on routing.events: overflow, persistent chat,
transfer, conference, declines, manual take/open, and a malformed command in the dead-letter topic."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.routing.adapters.repository import AGENTS, ITEMS
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted, CommandRejected
from shared.contracts.catalogue import DEAD_LETTERS, ROUTING_COMMANDS
from shared.contracts.envelope import encode, wrap
from shared.testing.kafka import TopicReader, produce
from tests.integration.routing.conftest import of
from tests.integration.routing.test_routing_service import configure, settled

pytestmark = pytest.mark.integration

ANSWERS = ("platform.CommandAccepted", "platform.CommandRejected")


async def prepare(commands, events, *, agents: dict[str, int], queues: dict[str, dict],
                  presence: dict[str, str]) -> None:
    """Agents (chat capacity), then queues in the given order (overflow targets first), then presences."""
    await settled(commands, events, *(r.ConfigureAgent(agent_id=a, capacity={"chat": c}) for a, c in agents.items()))
    for queue_id, kw in queues.items():
        await settled(commands, events, r.ConfigureQueue(queue_id=queue_id, name=queue_id, **kw))
    await settled(commands, events, *(r.SetPresence(agent_id=a, presence=p) for a, p in presence.items()))


async def answer(events, tenant: str, command) -> object:
    """Routing's answer (CommandAccepted or CommandRejected payload) to a sent command envelope."""
    found = await events.wait_for(lambda envs: [e.payload for e in envs if e.tenant_id == tenant and e.type in ANSWERS
                                                and e.payload.command_id == command.event_id])
    return found[0]


def history(events, tenant: str, conversation_id: str) -> list[str]:
    """What happened to one conversation, in order (command answers and its places in line left out)."""
    return [e.type.removeprefix("routing.") for e in events.envelopes
            if e.tenant_id == tenant and e.key == conversation_id and e.type not in ANSWERS
            and e.type != "routing.QueuePositionChanged"]  # places: test_waiting_store.py


async def test_overflow_moves_a_waiting_conversation_to_the_overflow_queue_by_timer(routing, commands, events,
                                                                                      unique):
    tenant = f"t-{unique}"
    await routing.start()
    await prepare(commands, events, agents={"a1": 1, "a2": 1},
                  queues={"q2": {"members": {"a2": 1}},
                          "q1": {"members": {"a1": 1}, "overflow_queue_id": "q2", "max_wait_s": 2}},
                  presence={"a2": "available"})  # a1, q1's only member, stays offline

    await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    queued = (await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationQueued",
                                                    conversation_id="c1")))[0]
    assert queued.queue_id == "q1"

    offer = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1"),
                                   timeout_s=20))[0]
    assert (offer.agent_id, offer.queue_id) == ("a2", "q2")
    assert offer.waited_s >= 2  # the customer's wait counts from arrival, across the overflow

    (overflowed,) = [e for e in events.envelopes if e.tenant_id == tenant
                     and e.type == "routing.ConversationOverflowed"]
    assert (overflowed.payload.from_queue_id, overflowed.payload.to_queue_id) == ("q1", "q2")
    assert overflowed.payload.waited_s >= 2
    assert overflowed.occurred_at - queued.enqueued_at >= timedelta(seconds=2)
    assert overflowed.causation_id is None  # the timer loop did it, not a command
    assert history(events, tenant, "c1") == ["ConversationQueued", "ConversationOverflowed", "OfferMade"]


async def test_persistent_chat_returns_to_the_same_agent_after_waiting(routing, commands, events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    # Round robin: a fresh routing round would pick the other agent next.
    await configure(commands, events, agents={"a1": 1, "a2": 1}, method="round_robin")

    await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    offer = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1")))[0]
    await commands.send(r.AcceptOffer(conversation_id="c1", agent_id=offer.agent_id, offer_id=offer.offer_id))
    await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationAssigned", conversation_id="c1"))

    park = await commands.send(r.CloseToWaiting(conversation_id="c1", agent_id=offer.agent_id))
    waiting = (await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationWaiting",
                                                     conversation_id="c1")))[0]
    assert waiting.agent_id == offer.agent_id
    parked_at = next(e.occurred_at for e in events.envelopes if e.causation_id == park.event_id)
    assert abs(waiting.waiting_until - (parked_at + timedelta(days=28))) < timedelta(minutes=1)

    again = await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1", preview="me again"))
    assert isinstance(await answer(events, tenant, again), CommandAccepted)
    assigned = of(events.envelopes, tenant, "routing.ConversationAssigned", conversation_id="c1")
    assert [(a.agent_id, a.how) for a in assigned] == [(offer.agent_id, "offer"),
                                                       (offer.agent_id, "returned_from_waiting")]
    assert history(events, tenant, "c1") == ["ConversationQueued", "OfferMade", "OfferAccepted",
                                             "ConversationAssigned", "ConversationWaiting", "ConversationAssigned"]


async def test_transfer_to_an_agent_and_to_a_queue_and_to_an_away_agent(routing, commands, events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    # a2 is in no queue: only a transfer naming a2 can offer it work. a3 is q2's only member.
    await prepare(commands, events, agents={"a1": 3, "a2": 1, "a3": 1, "a4": 1},
                  queues={"q1": {"members": {"a1": 1}}, "q2": {"members": {"a3": 1}}},
                  presence={"a1": "available", "a2": "available", "a3": "available", "a4": "away"})
    await settled(commands, events, *(r.OpenConversation(conversation_id=c, agent_id="a1", queue_id="q1")
                                      for c in ("c1", "c2", "c3")))

    await commands.send(r.TransferConversation(conversation_id="c1", agent_id="a1", to_agent_id="a2",
                                               reason="speaks Dutch"))
    await commands.send(r.TransferConversation(conversation_id="c2", agent_id="a1", to_queue_id="q2",
                                               reason="needs second line"))
    refused = await commands.send(r.TransferConversation(conversation_id="c3", agent_id="a1", to_agent_id="a4",
                                                         reason="friend of the customer"))

    to_agent = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1")))[0]
    assert (to_agent.agent_id, to_agent.queue_id) == ("a2", "q1")
    (moved,) = of(events.envelopes, tenant, "routing.ConversationTransferred", conversation_id="c1")
    assert (moved.from_agent_id, moved.to_agent_id, moved.to_queue_id, moved.reason) == ("a1", "a2", None,
                                                                                        "speaks Dutch")
    assert history(events, tenant, "c1")[-2:] == ["ConversationTransferred", "OfferMade"]

    to_queue = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c2")))[0]
    assert (to_queue.agent_id, to_queue.queue_id) == ("a3", "q2")
    (moved,) = of(events.envelopes, tenant, "routing.ConversationTransferred", conversation_id="c2")
    assert (moved.from_agent_id, moved.to_agent_id, moved.to_queue_id, moved.reason) == ("a1", None, "q2",
                                                                                        "needs second line")
    assert history(events, tenant, "c2")[-2:] == ["ConversationTransferred", "OfferMade"]

    rejected = await answer(events, tenant, refused)
    assert isinstance(rejected, CommandRejected)
    assert rejected.code == "agent_unavailable" and rejected.command_type == "routing.TransferConversation"
    assert "a4" in rejected.reason and "away" in rejected.reason
    assert history(events, tenant, "c3") == ["ConversationAssigned"]  # still a1's, nothing else happened


async def test_conference_invite_accept_leave_and_end_in_order(routing, commands, events, unique):
    tenant = f"t-{unique}"
    rt = await routing.start()
    await prepare(commands, events, agents={"a1": 2, "a2": 2, "a3": 2}, queues={"q1": {"members": {"a1": 1}}},
                  presence={"a1": "available", "a2": "available", "a3": "available"})
    await settled(commands, events, r.OpenConversation(conversation_id="c1", agent_id="a1", queue_id="q1"))

    # All keyed by c1, so routing handles them in the order sent.
    for cmd in (r.InviteToConference(conversation_id="c1", agent_id="a1", invitee_id="a2"),
                r.AcceptConferenceInvite(conversation_id="c1", agent_id="a2"),
                r.InviteToConference(conversation_id="c1", agent_id="a1", invitee_id="a3"),
                r.AcceptConferenceInvite(conversation_id="c1", agent_id="a3"),
                r.LeaveConference(conversation_id="c1", agent_id="a3"),
                r.EndConference(conversation_id="c1", agent_id="a1")):
        last = await commands.send(cmd)
    assert isinstance(await answer(events, tenant, last), CommandAccepted)

    conference = [e.payload for e in events.envelopes if e.tenant_id == tenant and e.key == "c1"
                  and e.type.startswith("routing.Conference")]
    assert [(type(p).__name__, getattr(p, "invitee_id", None) or getattr(p, "agent_id", None)) for p in conference] \
        == [("ConferenceInviteSent", "a2"), ("ConferenceInviteAccepted", "a2"),
            ("ConferenceInviteSent", "a3"), ("ConferenceInviteAccepted", "a3"),
            ("ConferenceLeft", "a3"), ("ConferenceEnded", None)]
    assert conference[0].inviter_id == "a1"

    # Everyone who left or was removed has their capacity back; the assignee still holds the conversation.
    loads = {a["agent_id"]: a["load"].get("chat", 0) for a in await rt.db[AGENTS].find({"tenant_id": tenant}).to_list()}
    assert loads == {"a1": 1, "a2": 0, "a3": 0}
    item = await rt.db[ITEMS].find_one({"tenant_id": tenant, "conversation_id": "c1"})
    assert (item["state"], item["assigned_agent_id"], item["participants"]) == ("assigned", "a1", [])


async def test_a_decliner_is_not_offered_the_same_conversation_again(routing, commands, events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    await configure(commands, events, agents={"a1": 1, "a2": 1}, method="round_robin", max_declines=1)

    await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    first = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1")))[0]
    await commands.send(r.DeclineOffer(conversation_id="c1", agent_id=first.agent_id, offer_id=first.offer_id,
                                       reason="not my topic"))
    offers = await events.wait_for(lambda envs: len(x := of(envs, tenant, "routing.OfferMade",
                                                            conversation_id="c1")) >= 2 and x)
    other = offers[1]
    assert {first.agent_id, other.agent_id} == {"a1", "a2"}
    (declined,) = of(events.envelopes, tenant, "routing.OfferDeclined", conversation_id="c1")
    assert (declined.agent_id, declined.offer_id, declined.reason) == (first.agent_id, first.offer_id, "not my topic")

    # The other one declines as well: both are free and available, but neither may get c1 again,
    # not even from the periodic sweep (every 2 s here).
    last = await commands.send(r.DeclineOffer(conversation_id="c1", agent_id=other.agent_id, offer_id=other.offer_id))
    assert isinstance(await answer(events, tenant, last), CommandAccepted)
    await asyncio.sleep(3)
    assert len(of(events.envelopes, tenant, "routing.OfferMade", conversation_id="c1")) == 2
    # They still get other work: the rule is per conversation.
    await commands.send(r.RouteConversation(conversation_id="c2", queue_id="q1"))
    await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c2"))
    assert len(of(events.envelopes, tenant, "routing.OfferMade", conversation_id="c1")) == 2
    assert history(events, tenant, "c1") == ["ConversationQueued", "OfferMade", "OfferDeclined", "OfferMade",
                                             "OfferDeclined"]


async def test_manual_take_of_a_queued_conversation_and_manual_open(routing, commands, events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    # a1 is busy, so routing offers it nothing; it can still take work by hand. a9 is in no queue.
    await prepare(commands, events, agents={"a1": 2, "a9": 1}, queues={"q1": {"members": {"a1": 1}}},
                  presence={"a1": "busy", "a9": "available"})

    await settled(commands, events, r.RouteConversation(conversation_id="c1", queue_id="q1"))
    assert of(events.envelopes, tenant, "routing.ConversationQueued", conversation_id="c1")

    outsider = await commands.send(r.TakeConversation(conversation_id="c1", agent_id="a9"))
    rejected = await answer(events, tenant, outsider)
    assert isinstance(rejected, CommandRejected) and rejected.code == "not_member" and "a9" in rejected.reason

    await commands.send(r.TakeConversation(conversation_id="c1", agent_id="a1"))
    taken = (await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationAssigned",
                                                   conversation_id="c1")))[0]
    assert (taken.agent_id, taken.queue_id, taken.how) == ("a1", "q1", "manual_take")
    assert history(events, tenant, "c1") == ["ConversationQueued", "ConversationAssigned"]  # never offered

    await commands.send(r.OpenConversation(conversation_id="c2", agent_id="a1", queue_id="q1",
                                           customer_name="Ruth"))
    opened = (await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationAssigned",
                                                    conversation_id="c2")))[0]
    assert (opened.agent_id, opened.queue_id, opened.how) == ("a1", "q1", "manual_open")
    assert history(events, tenant, "c2") == ["ConversationAssigned"]

    twice = await commands.send(r.OpenConversation(conversation_id="c1", agent_id="a1", queue_id="q1"))
    again = await answer(events, tenant, twice)
    assert isinstance(again, CommandRejected) and again.code == "invalid_state"


async def test_a_command_failing_validation_is_dead_lettered_with_the_field(routing, commands, events, unique,
                                                                            infrastructure):
    tenant = f"t-{unique}"
    rt = await routing.start()
    await configure(commands, events, agents={"a1": 1})
    good = wrap(r.SetPresence(agent_id="a1", presence="away"), tenant_id=tenant, key="a1", producer="test")
    value = encode(good).replace(b'"presence":"away"', b'"presence":"rona"')
    assert value != encode(good)

    async with TopicReader(infrastructure.kafka_bootstrap, DEAD_LETTERS.name) as dead:
        await produce(infrastructure.kafka_bootstrap, ROUTING_COMMANDS.name, value, key=b"a1")
        # The next command on the same key (same partition) is still handled: the consumer moved on.
        after = await commands.send(r.SetPresence(agent_id="a1", presence="busy"))
        assert isinstance(await answer(events, tenant, after), CommandAccepted)

        letters = await dead.wait_for(lambda envs: [e for e in envs if e.payload.original_topic == ROUTING_COMMANDS.name
                                                    and e.payload.consumer_group == rt.settings.consumer_group
                                                    and tenant in e.payload.value], timeout_s=30)
    (letter,) = letters
    p = letter.payload
    assert (p.error_kind, p.attempts, p.original_key) == ("invalid", 1, "a1")
    assert "routing.SetPresence" in p.reason and "presence" in p.reason
    assert p.value == value.decode()
    # Nobody answered the malformed command, and the agent never went to RONA.
    assert not [e for e in events.envelopes if e.type in ANSWERS and e.payload.command_id == good.event_id]
    assert not of(events.envelopes, tenant, "routing.PresenceChanged", agent_id="a1", presence="rona")
