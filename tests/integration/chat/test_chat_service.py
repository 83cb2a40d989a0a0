"""The chat service against the real broker and mongod, with routing running beside it: driven through
Kafka as the gateway drives it, read through its internal read API."""

from __future__ import annotations

import asyncio

import pytest

from services.chat.adapters.documents import MESSAGES
from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.answers import CommandAccepted
from shared.contracts.envelope import Actor, wrap
from shared.mongo import consuming
from tests.integration.chat.conftest import answered, of

pytestmark = pytest.mark.integration

ADMIN = Actor(user_id="admin-1", role="admin")
DANA = Actor(user_id="cu-dana", role="customer")


def agent(agent_id: str) -> Actor:
    return Actor(user_id=agent_id, role="agent")


async def all_accepted(events, tenant: str, *sent) -> list[CommandAccepted]:
    answers = await answered(events, tenant, *sent)
    assert all(isinstance(a, CommandAccepted) for a in answers), answers
    return answers


async def prepare_routing(commands, events, tenant: str, *, agents: dict[str, int], **queue) -> None:
    """Agents with chat capacity, queue q1 with them all, everybody available (each step answered first)."""
    await all_accepted(events, tenant, *[await commands.send(r.ConfigureAgent(agent_id=a, capacity={"chat": n}))
                                         for a, n in agents.items()])
    await all_accepted(events, tenant, await commands.send(r.ConfigureQueue(
        queue_id="q1", name="Support", members=dict.fromkeys(agents, 1), **queue)))
    await all_accepted(events, tenant, *[await commands.send(r.SetPresence(agent_id=a, presence="available"))
                                         for a in agents])


def states(events, tenant: str, conversation_id: str) -> list[tuple[str, list[str]]]:
    return [(e.state, e.agents) for e in of(events.envelopes, tenant, "chat.ConversationStateChanged",
                                            conversation_id=conversation_id)]


async def state_reached(events, tenant: str, conversation_id: str, state: str) -> object:
    found = await events.wait_for(lambda envs: of(envs, tenant, "chat.ConversationStateChanged",
                                                  conversation_id=conversation_id, state=state))
    return found[-1]


async def test_a_chat_is_routed_accepted_held_ended_by_the_customer_and_wrapped_up(
        routing, chat_service, chat_commands, routing_commands, chat_events, routing_events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    await prepare_routing(routing_commands, routing_events, tenant, agents={"a1": 1})
    await all_accepted(chat_events, tenant,
                       await chat_commands.send(c.ConfigureQueueChat(queue_id="q1", wrap_up_required=True,
                                                                     actor=ADMIN)),
                       await chat_commands.send(c.ConfigureWrapUpReasons(
                           reasons=[c.WrapUpReason(code="resolved", label="Resolved")], actor=ADMIN)))

    start = await chat_commands.send(c.StartConversation(
        conversation_id="c1", queue_id="q1", actor=DANA, customer=c.Customer(customer_id="cu-dana", name="Dana"),
        context=c.Context(prechat={"Order number": "1234"}), first_message="My order 1234 has not arrived"))
    (started,) = await all_accepted(chat_events, tenant, start)
    assert started.result_id == "c1"
    offer = (await routing_events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade",
                                                           conversation_id="c1")))[0]
    assert (offer.agent_id, offer.customer_name, offer.preview) == ("a1", "Dana", "My order 1234 has not arrived")
    await routing_commands.send(r.AcceptOffer(conversation_id="c1", agent_id="a1", offer_id=offer.offer_id))
    await state_reached(chat_events, tenant, "c1", "active")
    assert states(chat_events, tenant, "c1") == [("queued", []), ("offered", []), ("active", ["a1"])]

    hello = c.SendMessage(conversation_id="c1", client_message_id="a-1", text="Hi Dana,\n\nlet me check.",
                          actor=agent("a1"))
    sent = [await chat_commands.send(hello),
            await chat_commands.send(hello.model_copy(update={"request_id": "retry-of-a-1"})),
            await chat_commands.send(c.SendMessage(conversation_id="c1", client_message_id="c-2", text="Thanks!",
                                                   actor=DANA))]
    first, retry, thanks = await all_accepted(chat_events, tenant, *sent)
    assert retry.result_id == first.result_id != thanks.result_id
    page = await chat_service.read(tenant, "/conversations/c1/messages")
    assert [(m["seq"], m["sender"]["kind"], m["text"]) for m in page["messages"]] == [
        (1, "customer", "My order 1234 has not arrived"), (2, "agent", "Hi Dana,\n\nlet me check."),
        (3, "customer", "Thanks!")]
    view = await chat_service.read(tenant, "/conversations/c1")
    assert (view["state"], view["agents"], view["unread"], view["customer_unread"]) == ("active", ["a1"], {"a1": 2}, 1)
    assert view["context"]["prechat"] == {"Order number": "1234"} and view["wait_s"] > 0

    await all_accepted(chat_events, tenant, await chat_commands.send(c.EndConversation(conversation_id="c1",
                                                                                       actor=DANA)))
    assert (await state_reached(chat_events, tenant, "c1", "wrap_up")).agents == ["a1"]
    ended_note = of(chat_events.envelopes, tenant, "chat.MessagePosted", conversation_id="c1", seq=4)
    assert ended_note[0].text == "Customer ended the conversation" and ended_note[0].sender.kind == "system"
    (no_reason,) = await answered(chat_events, tenant, await chat_commands.send(c.WrapUp(conversation_id="c1",
                                                                                         actor=agent("a1"))))
    assert no_reason.code == "reason_required"
    assert not of(routing_events.envelopes, tenant, "routing.ConversationEnded", conversation_id="c1")  # still held

    await all_accepted(chat_events, tenant, await chat_commands.send(c.WrapUp(
        conversation_id="c1", reason_code="resolved", note="Resent the parcel", actor=agent("a1"))))
    closed = (await chat_events.wait_for(lambda envs: of(envs, tenant, "chat.ConversationClosed")))[0]
    assert (closed.agent_id, closed.ended_by, closed.wrap_up_reason, closed.messages) == ("a1", "customer",
                                                                                          "resolved", 3)
    await routing_events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationEnded", conversation_id="c1"))
    closed_list = await chat_service.read(tenant, "/conversations", agent_id="a1", state="closed")
    assert [(v["conversation_id"], v["wrap_up_reason"]) for v in closed_list["conversations"]] == [("c1", "resolved")]
    assert (await chat_service.read(tenant, "/conversations", agent_id="a1", state="active"))["conversations"] == []


async def test_persistent_chat_comes_back_to_its_agent_and_a_proactive_chat_is_held_by_its_opener(
        routing, chat_service, chat_commands, routing_commands, chat_events, routing_events, unique):
    tenant = f"t-{unique}"
    await routing.start()
    await prepare_routing(routing_commands, routing_events, tenant, agents={"a1": 2, "a2": 2}, method="round_robin")
    await all_accepted(chat_events, tenant, await chat_commands.send(c.ConfigureQueueChat(queue_id="q1",
                                                                                          persistent=True,
                                                                                          actor=ADMIN)))
    await chat_commands.send(c.StartConversation(conversation_id="c1", queue_id="q1", actor=DANA,
                                                 customer=c.Customer(customer_id="cu-dana", name="Dana"),
                                                 first_message="Hello"))
    offer = (await routing_events.wait_for(lambda envs: of(envs, tenant, "routing.OfferMade",
                                                           conversation_id="c1")))[0]
    holder = offer.agent_id
    await routing_commands.send(r.AcceptOffer(conversation_id="c1", agent_id=holder, offer_id=offer.offer_id))
    await state_reached(chat_events, tenant, "c1", "active")

    await all_accepted(chat_events, tenant, await chat_commands.send(c.CloseToWaiting(conversation_id="c1",
                                                                                      actor=agent(holder))))
    assert (await state_reached(chat_events, tenant, "c1", "waiting")).agents == [holder]
    await all_accepted(chat_events, tenant, await chat_commands.send(c.SendMessage(
        conversation_id="c1", client_message_id="again", text="It broke again", actor=DANA)))
    back = await routing_events.wait_for(lambda envs: of(envs, tenant, "routing.ConversationAssigned",
                                                         conversation_id="c1", how="returned_from_waiting"))
    assert back[0].agent_id == holder
    await chat_events.wait_for(lambda envs: states(chat_events, tenant, "c1")[-1:] == [("active", [holder])])

    other = "a2" if holder == "a1" else "a1"
    proactive = await chat_commands.send(c.StartConversation(
        conversation_id="p1", queue_id="q1", proactive=True, actor=agent(other),
        customer=c.Customer(customer_id="cu-9", name="Visitor 9"), first_message="Can I help with your order?"))
    await all_accepted(chat_events, tenant, proactive)
    assert (await state_reached(chat_events, tenant, "p1", "active")).agents == [other]
    assert states(chat_events, tenant, "p1") == [("active", [other])]
    opened = of(routing_events.envelopes, tenant, "routing.ConversationAssigned", conversation_id="p1")
    assert opened[0].how == "manual_open"


async def test_concurrent_sends_on_two_instances_get_distinct_sequence_numbers_without_gaps(chat_instances, unique):
    tenant = f"t-{unique}"
    one, two = chat_instances

    async def deliver(handle, payload) -> None:
        env = wrap(payload, tenant_id=tenant, key=getattr(payload, payload.KEY), producer="test")
        with consuming(env.event_id):
            await handle(env)

    await deliver(one.handlers.handle_command, c.StartConversation(
        conversation_id="c1", queue_id="q1", actor=DANA, customer=c.Customer(customer_id="cu-dana", name="Dana"),
        first_message="first"))
    await deliver(one.handlers.handle_routing_event, r.ConversationAssigned(
        conversation_id="c1", agent_id="a1", queue_id="q1", channel="chat", how="manual_take"))

    sends = [c.SendMessage(conversation_id="c1", client_message_id=f"m{i}", text=f"message {i}",
                           actor=agent("a1") if i % 2 else DANA) for i in range(16)]
    sends += [c.SendMessage(conversation_id="c1", client_message_id="retried", text="once", actor=DANA)
              for _ in range(4)]  # one client id, four request ids: a widget retrying
    await asyncio.gather(*(deliver((one if i % 2 else two).handlers.handle_command, s) for i, s in enumerate(sends)))

    stored = await one.runtime.db[MESSAGES].find({"tenant_id": tenant}).sort("seq", 1).to_list()
    assert [m["seq"] for m in stored] == list(range(1, 19))  # the first message, 16, and "retried" once
    assert [m["client_message_id"] for m in stored].count("retried") == 1
    view = await one.read(tenant, "/conversations/c1")
    assert view["last_seq"] == 18 and view["message_count"] == 18
    stats = one.handlers.uow.stats + two.handlers.uow.stats
    assert stats["attempts"] > stats["committed"], stats  # they did collide, and were retried
