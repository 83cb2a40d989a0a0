"""Authorisation inside chat: the command's actor and the envelope's tenant decide who may do what."""

from __future__ import annotations

import pytest

from shared.contracts import chat as c
from shared.contracts.envelope import Actor
from tests.unit.chat.harness import ADMIN, SYSTEM, Chat, agent, customer

pytestmark = pytest.mark.unit


@pytest.fixture
def chat() -> Chat:
    return Chat()


def start(actor: Actor, *, customer_id: str = "cu1", proactive: bool = False) -> c.StartConversation:
    return c.StartConversation(conversation_id="c1", queue_id="q1", proactive=proactive, actor=actor,
                               customer=c.Customer(customer_id=customer_id, name="M"))


async def test_who_may_start_a_chat(chat):
    as_someone_else = await chat.rejected(start(customer("cu2"), customer_id="cu1"))
    by_an_agent = await chat.rejected(start(agent("a1")))
    proactive_by_customer = await chat.rejected(start(customer("cu1"), proactive=True))
    assert {as_someone_else.code, by_an_agent.code, proactive_by_customer.code} == {"forbidden"}
    assert not chat.uow.docs.get("conversations")
    await chat.accepted(start(SYSTEM))  # a service (say, a bot front end) may


async def test_only_the_assigned_agent_wraps_up_or_parks_and_a_conference_member_is_not_it(chat):
    from shared.contracts import routing as r
    await chat.active(agent_id="a1")
    await chat.routing_says(r.ConferenceInviteAccepted(conversation_id="c1", invitee_id="a2"))
    for command in (c.WrapUp(conversation_id="c1", actor=agent("a2")),
                    c.EndConversation(conversation_id="c1", actor=agent("a2")),
                    c.CloseToWaiting(conversation_id="c1", actor=agent("a2"))):
        assert (await chat.rejected(command)).code == "not_participant"
    customer_wraps_up = await chat.rejected(c.WrapUp(conversation_id="c1", actor=customer("cu1")))
    assert customer_wraps_up.code == "forbidden"
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m", text="hi", actor=agent("a2")))
    await chat.accepted(c.WrapUp(conversation_id="c1", actor=SYSTEM))  # the system may do anything


async def test_a_customer_acts_only_on_its_own_conversation(chat):
    await chat.active(agent_id="a1")
    for command in (c.EndConversation(conversation_id="c1", actor=customer("cu2")),
                    c.MarkRead(conversation_id="c1", up_to_seq=1, actor=customer("cu2"))):
        assert (await chat.rejected(command)).code == "not_participant"


async def test_settings_are_for_admins(chat):
    queue = dict(queue_id="q1", persistent=True)
    reasons = dict(reasons=[c.WrapUpReason(code="ok", label="OK")])
    for actor in (agent("a1"), customer("cu1"), Actor(user_id="s1", role="supervisor")):
        assert (await chat.rejected(c.ConfigureQueueChat(**queue, actor=actor))).code == "forbidden"
        assert (await chat.rejected(c.ConfigureWrapUpReasons(**reasons, actor=actor))).code == "forbidden"
    assert (await chat.accepted(c.ConfigureQueueChat(**queue, actor=ADMIN))).result_id == "q1"
    await chat.accepted(c.ConfigureWrapUpReasons(**reasons, actor=SYSTEM))
    (configured,) = chat.events(c.QueueChatConfigured)
    assert configured.persistent and not configured.wrap_up_required
    twice = c.WrapUpReason(code="ok", label="again")
    duplicate = await chat.rejected(c.ConfigureWrapUpReasons(reasons=[*reasons["reasons"], twice], actor=ADMIN))
    assert duplicate.code == "invalid_argument"


async def test_tenants_never_see_each_others_conversations_or_settings(chat):
    await chat.active(agent_id="a1")
    unknown = await chat.rejected(c.SendMessage(conversation_id="c1", client_message_id="m", text="hi",
                                                actor=customer("cu1")), tenant="t2")
    assert unknown.code == "unknown_conversation"
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", persistent=True, actor=ADMIN), tenant="t2")
    refused = await chat.rejected(c.CloseToWaiting(conversation_id="c1", actor=agent("a1")))  # t1's q1: not
    assert refused.code == "not_allowed"
    await chat.start("c1", tenant="t2")  # the same ids in another tenant are another conversation
    assert {d["tenant_id"] for d in chat.uow.docs["conversations"].values()} == {"t1", "t2"}
