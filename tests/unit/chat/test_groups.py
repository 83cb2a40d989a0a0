"""Group conversations (U6) through chat's handlers on the fakes: started by an agent with a customer and
colleagues, held by the starter through routing's OpenConversation, every message reaching everyone."""

from __future__ import annotations

from shared.contracts import chat as c
from shared.contracts import routing as r
from tests.unit.chat.harness import Chat, agent, customer

ALICE, BOB, DAN = "alice", "bob", "dan"


def start_group(conversation_id: str = "g1", *, by: str = ALICE, colleagues: list[str] | None = None,
                **fields: object) -> c.StartConversation:
    return c.StartConversation(
        conversation_id=conversation_id, queue_id="q1", proactive=True, actor=agent(by),
        customer=c.Customer(customer_id="cu1", name="Melissa"), first_message="Hello Melissa, Bob joins us",
        colleagues=[BOB, DAN] if colleagues is None else colleagues, topic="Your refund", **fields)


async def held(chat: Chat, conversation_id: str = "g1", by: str = ALICE) -> None:
    """Routing opened it for its starter, as it answers OpenConversation."""
    await chat.routing_says(r.ConversationAssigned(conversation_id=conversation_id, agent_id=by, queue_id="q1",
                                                   channel="chat", how="manual_open"))


def send(actor_: object, text: str, client_id: str, conversation_id: str = "g1") -> c.SendMessage:
    return c.SendMessage(conversation_id=conversation_id, client_message_id=client_id, text=text,
                         actor=actor_)  # type: ignore[arg-type]


async def test_a_group_is_held_by_its_starter_and_its_colleagues_take_part_at_once() -> None:
    chat = Chat()
    await chat.accepted(start_group())
    started = chat.events(c.ConversationStarted)[0]
    assert (started.proactive, started.colleagues, started.topic) == (True, [BOB, DAN], "Your refund")
    opened = chat.to_routing(r.OpenConversation)
    assert [(o.agent_id, o.conversation_id) for o in opened] == [(ALICE, "g1")]  # only the starter takes capacity
    assert not chat.to_routing(r.InviteToConference)
    await held(chat)
    assert chat.states("g1")[-1] == ("active", [ALICE, BOB, DAN])  # the gateway's desks get it from this
    stored = await chat_view(chat)
    assert (stored.group, stored.colleagues, stored.topic) == (True, [BOB, DAN], "Your refund")
    assert stored.unread == {ALICE: 0, BOB: 1, DAN: 1}  # the colleagues have not read the opening message


async def test_messages_from_any_participant_reach_everyone() -> None:
    chat = Chat()
    await chat.accepted(start_group())
    await held(chat)
    await chat.accepted(send(agent(BOB), "Bob here, from billing", "m1"))
    await chat.accepted(send(customer("cu1"), "Thanks both", "m2"))
    await chat.accepted(send(agent(ALICE), "Refund is on its way", "m3"))
    posted = {p.text: p for p in chat.events(c.MessagePosted)}
    for text, sender in (("Bob here, from billing", BOB), ("Thanks both", "cu1"), ("Refund is on its way", ALICE)):
        assert posted[text].agents == [ALICE, BOB, DAN] and posted[text].sender.id == sender
    stored = await chat_view(chat)
    assert stored.unread == {ALICE: 2, BOB: 3, DAN: 4} and stored.customer_unread == 3


async def test_a_colleague_leaves_and_gets_nothing_more() -> None:
    chat = Chat()
    await chat.accepted(start_group())
    await held(chat)
    await chat.accepted(c.LeaveGroup(conversation_id="g1", actor=agent(BOB)))
    changed = chat.events(c.ConversationStateChanged)[-1]
    assert (changed.agents, changed.removed_agents, changed.why) == ([ALICE, DAN], [BOB], "bob left the group")
    refused = await chat.rejected(send(agent(BOB), "still here?", "m1"))
    assert refused.code == "not_participant"
    await chat.accepted(send(customer("cu1"), "Is Bob gone?", "m2"))
    assert chat.events(c.MessagePosted)[-1].agents == [ALICE, DAN]
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g1", actor=agent(BOB)))).code == "not_participant"


async def test_the_starter_cannot_leave_and_nobody_else_is_a_colleague() -> None:
    chat = Chat()
    await chat.accepted(start_group())
    await held(chat)
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g1", actor=agent(ALICE)))).code == "not_allowed"
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g1", actor=agent("carol")))).code == "not_participant"
    assert (await chat.rejected(send(agent("carol"), "let me in", "m1"))).code == "not_participant"
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g1", actor=customer("cu1")))).code == "forbidden"


async def test_colleagues_stay_through_a_conference_and_leave_when_it_closes() -> None:
    chat = Chat()
    await chat.accepted(start_group(colleagues=[BOB]))
    await held(chat)
    await chat.routing_says(r.ConferenceInviteAccepted(conversation_id="g1", invitee_id="erin"))
    await chat.routing_says(r.ConferenceEnded(conversation_id="g1"))
    assert chat.states("g1")[-2:] == [("active", [ALICE, "erin", BOB]), ("active", [ALICE, BOB])]
    await chat.accepted(c.EndConversation(conversation_id="g1", actor=agent(ALICE)))
    assert (await chat.rejected(c.EndConversation(conversation_id="g1", actor=agent(BOB)))).code == "not_participant"
    await chat.accepted(c.WrapUp(conversation_id="g1", actor=agent(ALICE)))
    closed = chat.events(c.ConversationStateChanged)[-1]
    assert (closed.state, closed.agents, closed.removed_agents) == ("closed", [], [ALICE, BOB])
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g1", actor=agent(BOB)))).code == "invalid_state"


async def test_a_group_is_checked_before_it_starts() -> None:
    chat = Chat()
    assert (await chat.rejected(start_group(colleagues=[ALICE, BOB]))).code == "invalid_argument"
    assert (await chat.rejected(start_group(colleagues=[BOB, BOB]))).code == "invalid_argument"
    from_customer = c.StartConversation(conversation_id="g2", queue_id="q1", actor=customer("cu1"),
                                        customer=c.Customer(customer_id="cu1", name="Melissa"), colleagues=[BOB])
    assert (await chat.rejected(from_customer)).code == "invalid_argument"
    assert (await chat.rejected(c.LeaveGroup(conversation_id="g9", actor=agent(BOB)))).code == "unknown_conversation"
    await chat.active("c1")  # an ordinary conversation has no colleagues to leave
    assert (await chat.rejected(c.LeaveGroup(conversation_id="c1", actor=agent("a1")))).code == "invalid_state"
    assert not chat.events(c.ConversationStarted)[0].colleagues


async def test_the_topic_is_masked_where_it_enters() -> None:
    chat = Chat()
    await chat.accepted(start_group(colleagues=[BOB]).model_copy(update={"topic": "Call me at +447966197542"}))
    assert chat.events(c.ConversationStarted)[0].topic == "Call me at *********7542"


async def chat_view(chat: Chat, conversation_id: str = "g1"):  # type: ignore[no-untyped-def]
    from services.chat.adapters.documents import CONVERSATIONS, doc_id
    from services.chat.entrypoints.views import conversation_view
    doc = chat.uow.docs[CONVERSATIONS][doc_id("t1", conversation_id)]
    return conversation_view(doc, now=chat.now)
