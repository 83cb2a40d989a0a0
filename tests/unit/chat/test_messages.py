"""Messages (C2, C3) through chat's handlers on fakes: sequence numbers, client message ids, private
notes, composer rules, read positions and unread counts."""

from __future__ import annotations

import pytest

from shared.contracts import chat as c
from shared.contracts.envelope import Actor
from tests.unit.chat.harness import Chat, agent, customer

pytestmark = pytest.mark.unit


@pytest.fixture
def chat() -> Chat:
    return Chat()


def send(text: str, actor: Actor, client_id: str, *, private: bool = False, cid: str = "c1") -> c.SendMessage:
    return c.SendMessage(conversation_id=cid, client_message_id=client_id, text=text, private=private, actor=actor)


async def test_messages_are_numbered_from_1_without_gaps_whoever_writes(chat):
    await chat.active(agent_id="a1")  # the first message is seq 1
    await chat.accepted(send("Hi Melissa", agent("a1"), "a-1"))
    await chat.accepted(send("Thanks", customer("cu1"), "c-2"))
    refused = await chat.rejected(send("<b>", agent("a1"), "a-2"))  # refused: takes no number
    assert refused.code == "invalid_text"
    await chat.accepted(send("note", agent("a1"), "a-3", private=True))
    await chat.accepted(send("Bot here", Actor(user_id="bot-1", role="system"), "b-1"))
    posted = chat.events(c.MessagePosted)
    assert [p.seq for p in posted] == [1, 2, 3, 4, 5]
    assert [(p.sender.kind, p.sender.id) for p in posted] == [("customer", "cu1"), ("agent", "a1"), ("customer", "cu1"),
                                                              ("agent", "a1"), ("bot", "bot-1")]
    assert all(p.agents == ["a1"] and p.customer_id == "cu1" for p in posted[1:])


async def test_a_retried_send_with_the_same_client_message_id_stores_nothing_twice(chat):
    await chat.active(agent_id="a1")
    first = await chat.accepted(send("Where is my refund?", customer("cu1"), "cm-7"))
    retry = await chat.accepted(send("Where is my refund?", customer("cu1"), "cm-7"))  # a new request id
    assert first.request_id != retry.request_id
    assert retry.result_id == first.result_id and first.result_id is not None
    assert [p.message_id for p in chat.events(c.MessagePosted)].count(first.result_id) == 1
    assert len(chat.uow.docs["messages"]) == 2  # the first message and this one
    other = await chat.accepted(send("Same id, other sender", agent("a1"), "cm-7"))
    assert other.result_id != first.result_id


async def test_a_private_note_is_flagged_and_for_agents_only(chat):
    await chat.active(agent_id="a1")
    await chat.accepted(send("VIP, be nice", agent("a1"), "n-1", private=True))
    (note,) = [p for p in chat.events(c.MessagePosted) if p.private]
    assert note.text == "VIP, be nice" and note.sender.id == "a1"
    refused = await chat.rejected(send("secret", customer("cu1"), "n-2", private=True))
    assert refused.code == "forbidden"


async def test_composer_rules_apply_to_agents_and_line_breaks_are_kept(chat):
    await chat.active(agent_id="a1")
    too_long = await chat.rejected(send("x" * 1001, agent("a1"), "l-1"))
    angle = await chat.rejected(send("Use <name> here", agent("a1"), "l-2"))
    assert (too_long.code, angle.code) == ("invalid_text", "invalid_text")
    assert "<" in angle.reason and "1000" in too_long.reason
    await chat.accepted(send("x" * 1000, agent("a1"), "l-3"))
    await chat.accepted(send("1 < 2 and 3 > 2", customer("cu1"), "l-4"))  # customers may
    text = "First line\n\n\n\nafter three empty lines\n"
    await chat.accepted(send(text, agent("a1"), "l-5"))
    assert chat.events(c.MessagePosted)[-1].text == text


async def test_who_may_write_when(chat):
    await chat.start()
    await chat.accepted(send("Anyone there?", customer("cu1"), "w-1"))  # requested: the customer may
    not_yet = await chat.rejected(send("Hello", agent("a1"), "w-2"))
    assert not_yet.code == "not_participant"  # a1 does not work it yet
    await chat.assign(agent_id="a1")
    stranger = await chat.rejected(send("Hi", agent("a2"), "w-3"))
    other_customer = await chat.rejected(send("Hi", customer("cu2"), "w-4"))
    supervisor = await chat.rejected(send("Hi", Actor(user_id="s1", role="supervisor"), "w-5"))
    assert (stranger.code, other_customer.code, supervisor.code) == ("not_participant", "not_participant",
                                                                     "not_participant")  # not working it
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=agent("a1")))
    await chat.accepted(send("Anything else, just write", agent("a1"), "w-6"))  # wrap-up: agents still may
    late = await chat.rejected(send("wait", customer("cu1"), "w-7"))
    assert late.code == "invalid_state"


async def test_a_supervisor_or_admin_who_works_the_conversation_writes_as_its_agent(chat):
    """Roles are cumulative: staff who took the offer write to the customer, and privately, as agents do."""
    await chat.start()
    await chat.assign(agent_id="s1")
    boss = Actor(user_id="s1", role="supervisor")
    await chat.accepted(send("Hello, I am the team lead", boss, "s-1"))
    await chat.accepted(send("escalated", boss, "s-2", private=True))
    posted = chat.events(c.MessagePosted)
    assert [(e.sender.kind, e.sender.id, e.private) for e in posted][-2:] == [("agent", "s1", False),
                                                                              ("agent", "s1", True)]
    admin = await chat.rejected(send("Hi", Actor(user_id="root", role="admin"), "s-3"))
    assert admin.code == "not_participant"  # an admin who does not work it may not


async def test_read_positions_and_unread_counts(chat):
    await chat.active(agent_id="a1")  # seq 1 from the customer, before a1 took it
    assert chat.uow.docs["conversations"]["t1|c1"]["unread"] == {"a1": 1}
    await chat.accepted(send("Hi", agent("a1"), "r-1"))  # 2
    await chat.accepted(send("note", agent("a1"), "r-2", private=True))  # 3
    await chat.accepted(send("more", customer("cu1"), "r-3"))  # 4
    doc = chat.uow.docs["conversations"]["t1|c1"]
    assert (doc["unread"], doc["customer_unread"]) == ({"a1": 2}, 1)  # the note does not count for the customer

    await chat.accepted(c.MarkRead(conversation_id="c1", up_to_seq=1, actor=agent("a1")))
    await chat.accepted(c.MarkRead(conversation_id="c1", up_to_seq=3, actor=customer("cu1")))
    await chat.accepted(c.MarkRead(conversation_id="c1", up_to_seq=99, actor=customer("cu1")))
    await chat.accepted(c.MarkRead(conversation_id="c1", up_to_seq=0, actor=customer("cu1")))  # never backwards
    reads = chat.events(c.MessagesRead)
    assert [(e.reader.kind, e.up_to_seq, e.unread) for e in reads] == [("agent", 1, 1), ("customer", 3, 0),
                                                                        ("customer", 4, 0), ("customer", 4, 0)]
    assert reads[0].agents == ["a1"] and reads[0].customer_id == "cu1"
    assert chat.uow.docs["conversations"]["t1|c1"]["unread"] == {"a1": 1}


async def test_an_agent_joining_sees_what_it_has_not_read(chat):
    from shared.contracts import routing as r
    await chat.active(agent_id="a1")
    await chat.accepted(send("Hi", agent("a1"), "j-1"))
    await chat.accepted(send("note for a2", agent("a1"), "j-2", private=True))
    await chat.routing_says(r.ConferenceInviteAccepted(conversation_id="c1", invitee_id="a2"))
    assert chat.uow.docs["conversations"]["t1|c1"]["unread"] == {"a1": 1, "a2": 3}
    await chat.accepted(send("hello a2", customer("cu1"), "j-3"))
    assert chat.uow.docs["conversations"]["t1|c1"]["unread"] == {"a1": 2, "a2": 4}
    await chat.routing_says(r.ConferenceLeft(conversation_id="c1", agent_id="a2"))
    assert chat.uow.docs["conversations"]["t1|c1"]["unread"] == {"a1": 2}
