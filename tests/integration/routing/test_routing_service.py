"""The routing service driven through Kafka, as the gateway and analysts see it."""

from __future__ import annotations

import asyncio

import pytest

from services.routing.adapters.repository import AGENTS, ITEMS
from shared.contracts import routing as r
from tests.integration.routing.conftest import of

pytestmark = pytest.mark.integration


async def settled(commands, events, *payloads) -> None:
    """Send commands and wait until routing answered each (commands on different keys are not ordered)."""
    sent = [await commands.send(p) for p in payloads]
    ids = {e.event_id for e in sent}
    answered = await events.wait_for(lambda envs: ids <= {e.payload.command_id for e in envs
                                                         if e.type in ("platform.CommandAccepted",
                                                                       "platform.CommandRejected")} and envs)
    rejected = [e.payload for e in answered if e.type == "platform.CommandRejected" and e.payload.command_id in ids]
    assert not rejected, rejected


def assert_assigned_once(envelopes, tenant: str, expected: int) -> None:
    """Each conversation assigned exactly once. The same event may be delivered again (the outbox
    re-publishes rows an instance published but could not mark sent before it stopped); a consumer
    drops such a repeat by event_id, so repeats count once - but must be the very same event."""
    assigned = {e.event_id: e.payload for e in envelopes
                if e.tenant_id == tenant and e.type == "routing.ConversationAssigned"}
    by_conversation = [a.conversation_id for a in assigned.values()]
    assert len(by_conversation) == len(set(by_conversation)) == expected, sorted(by_conversation)


async def configure(commands, events, *, agents: dict[str, int], queue: str = "q1", timeout_s: int = 30,
                    **queue_kw) -> None:
    await settled(commands, events, *(r.ConfigureAgent(agent_id=a, capacity={"chat": c}) for a, c in agents.items()))
    await settled(commands, events, r.ConfigureQueue(queue_id=queue, name=queue, members=dict.fromkeys(agents, 1),
                                                     offer_timeout_s=timeout_s, **queue_kw))
    await settled(commands, events, *(r.SetPresence(agent_id=a, presence="available") for a in agents))


async def test_offer_accept_and_rejections_flow_through_kafka(routing, commands, events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    await configure(commands, events, agents={"a1": 1, "a2": 1}, method="least_loaded")
    route = await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1", customer_name="Melissa",
                                                    preview="my card was charged twice"))
    offer = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1")))[0]
    assert offer.customer_name == "Melissa" and offer.preview == "my card was charged twice"
    assert offer.agent_id in {"a1", "a2"} and offer.queue_id == "q1"

    wrong = await commands.send(r.AcceptOffer(conversation_id="c1", agent_id=offer.agent_id, offer_id="nope"))
    await commands.send(r.AcceptOffer(conversation_id="c1", agent_id=offer.agent_id, offer_id=offer.offer_id))
    assigned = await events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationAssigned", conversation_id="c1"))
    assert assigned[0].agent_id == offer.agent_id and assigned[0].how == "offer"

    rejected = await events.wait_for(lambda envs: of(envs, tenant, "platform.CommandRejected", command_id=wrong.event_id))
    assert rejected[0].command_type == "routing.AcceptOffer" and rejected[0].reason
    accepted = of(events.envelopes, tenant, "platform.CommandAccepted", command_id=route.event_id)
    assert accepted and accepted[0].command_type == "routing.RouteConversation"

    # A malformed command is answered by nobody but lands in the dead-letter topic (checked in the
    # foundation tests); an unknown queue is a clean rejection with a reason:
    bad = await commands.send(r.RouteConversation(conversation_id="c9", queue_id="no-such-queue"))
    reason = await events.wait_for(lambda envs: of(envs, tenant, "platform.CommandRejected", command_id=bad.event_id))
    assert reason[0].code == "unknown_queue"

    # One conversation's events arrive in the order they happened (keyed by conversation id).
    c1_types = [e.type for e in events.envelopes if e.tenant_id == tenant and e.key == "c1"
                and e.type.startswith("routing.") and "Command" not in e.type]
    assert c1_types[:5] == ["routing.ConversationQueued", "routing.OfferMade", "routing.QueuePositionChanged",
                            "routing.OfferAccepted", "routing.ConversationAssigned"]


async def test_unanswered_offer_survives_a_restart_then_goes_to_rona_and_the_next_agent(routing, commands, events,
                                                                                        unique):
    tenant = f"t-{unique}"
    first = await routing.start()
    await configure(commands, events, agents={"a1": 2, "a2": 2}, timeout_s=3, method="specialist_priority")
    await settled(commands, events, r.ConfigureQueue(queue_id="q1", name="q1", members={"a1": 1, "a2": 2},
                                                     offer_timeout_s=3, method="specialist_priority"))
    await commands.send(r.RouteConversation(conversation_id="c1", queue_id="q1"))
    offer = (await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1")))[0]
    assert offer.agent_id == "a1"  # priority 1

    await routing.stop(first)  # routing goes down while the offer is pending and nobody answers it
    await asyncio.sleep(3.5)
    await routing.start()

    expired = await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferExpired", conversation_id="c1"),
                                    timeout_s=40)
    assert expired[0].offer_id == offer.offer_id
    rona = await events.wait_for(lambda envs: of(envs, tenant, "routing.PresenceChanged", agent_id="a1",
                                                 presence="rona"))
    assert rona[0].automatic
    second = await events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade", conversation_id="c1",
                                                   agent_id="a2"))
    assert second[0].offer_id != offer.offer_id


async def test_two_instances_duplicates_and_rebalance_never_break_capacity_or_double_assign(routing, commands,
                                                                                          events, unique):
    tenant = f"t-{unique}"
    one = await routing.start()
    two = await routing.start()
    agents = {f"a{i}": 2 for i in range(6)}  # 12 chat slots
    await configure(commands, events, agents=agents, queue="q1", method="round_robin")
    await settled(commands, events, r.ConfigureQueue(queue_id="q2", name="q2", members=dict.fromkeys(agents, 1),
                                                     method="least_loaded"))

    async def accept_all() -> None:
        answered: set[str] = set()
        while True:
            for offer in of(events.envelopes, tenant, "routing.OfferMade"):
                if offer.offer_id not in answered:
                    answered.add(offer.offer_id)
                    # every command is delivered twice: the second copy must change nothing
                    await commands.send(r.AcceptOffer(conversation_id=offer.conversation_id, agent_id=offer.agent_id,
                                                      offer_id=offer.offer_id), times=2)
            await asyncio.sleep(0.05)

    acceptor = asyncio.create_task(accept_all())
    try:
        for i in range(40):
            await commands.send(r.RouteConversation(conversation_id=f"c{i}", queue_id=f"q{1 + i % 2}"), times=2)
            if i == 20:
                await routing.stop(one)  # rebalance in the middle of the arrivals
        await events.wait_for(lambda envs: len(of(envs, tenant, "routing.ConversationAssigned")) >= 12, timeout_s=60)
        # The arrivals that sat on the stopped instance's partitions come through after the rebalance.
        await events.wait_for(lambda envs: len({q.conversation_id for q in of(envs, tenant,
                                                                           "routing.ConversationQueued")}) == 40,
                              timeout_s=60)
        await asyncio.sleep(2)  # let anything wrong (a 13th assignment) show up
        db = two.db
        items = await db[ITEMS].find({"tenant_id": tenant}).to_list()
        states = sorted(i["state"] for i in items)
        assert len(items) == 40, states
        assert sum(i["state"] == "assigned" for i in items) == 12, states
        assert sum(i["state"] == "queued" for i in items) == 28, states
        for agent in await db[AGENTS].find({"tenant_id": tenant}).to_list():
            held = sum(1 for i in items if agent["agent_id"] in (i["assigned_agent_id"],
                                                                 (i.get("offer") or {}).get("agent_id")))
            assert agent["load"].get("chat", 0) == held <= agent["capacity"]["chat"] == 2
        assert_assigned_once(events.envelopes, tenant, 12)

        # Free the slots: every queued conversation is eventually served, each exactly once.
        await routing.start()
        served: set[str] = set()
        async with asyncio.timeout(90):
            while len(served) < 40:
                for a in of(events.envelopes, tenant, "routing.ConversationAssigned"):
                    if a.conversation_id not in served:
                        served.add(a.conversation_id)
                        await commands.send(r.EndConversation(conversation_id=a.conversation_id, reason="done"))
                await asyncio.sleep(0.1)
        assert_assigned_once(events.envelopes, tenant, 40)
        ended = await events.wait_for(lambda envs: len(of(envs, tenant, "routing.ConversationEnded")) >= 40 and envs)
        assert ended
        docs = await two.db[ITEMS].find({"tenant_id": tenant}).to_list()
        assert {d["state"] for d in docs} == {"ended"} and all(d["ended_at"] is not None for d in docs)
        ttl = {i["name"]: i async for i in await two.db[ITEMS].list_indexes()}["ended_ttl"]
        assert ttl["expireAfterSeconds"] == 30 * 24 * 3600 and ttl["key"] == {"ended_at": 1}
    finally:
        acceptor.cancel()
