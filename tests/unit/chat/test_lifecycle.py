"""Chat's lifecycle use cases through its real handlers on in-memory fakes: starting, routing's events
driving the states, ending and wrap-up, persistent and proactive chat."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.contracts import chat as c
from shared.contracts import routing as r
from shared.contracts.answers import CommandRejected
from shared.contracts.chat.common import TrailStep
from shared.mongo import AlreadyProcessed
from tests.unit.chat.harness import ADMIN, T0, Chat, agent, customer

pytestmark = pytest.mark.unit


@pytest.fixture
def chat() -> Chat:
    return Chat()


async def test_starting_a_chat_announces_it_posts_the_first_message_and_asks_routing_to_route_it(chat):
    trail = [TrailStep(kind="page_visited", title="Pricing", at=T0 - timedelta(minutes=5)),
             TrailStep(kind="phrase_searched", title="refund", at=T0 - timedelta(minutes=1))]
    answer = await chat.accepted(c.StartConversation(
        conversation_id="c1", queue_id="billing", actor=customer("cu1"), priority=2, skills={"billing": 3},
        customer=c.Customer(customer_id="cu1", name="Melissa"), context=c.Context(trail=trail, prechat={"Order": "42"}),
        first_message="Hello,\nmy card was charged twice for order 42 and I would like a refund please"))
    assert answer.result_id == "c1"

    started, posted, accepted = chat.events()
    assert isinstance(started, c.ConversationStarted) and isinstance(accepted, type(answer))
    assert [s.title for s in started.context.trail] == ["refund", "Pricing"]  # newest first
    assert (posted.seq, posted.sender.kind, posted.sender.id, posted.private) == (1, "customer", "cu1", False)
    (route,) = chat.to_routing()
    assert isinstance(route, r.RouteConversation)
    assert (route.conversation_id, route.queue_id, route.priority, route.skills) == ("c1", "billing", 2, {"billing": 3})
    assert (route.customer_id, route.customer_name, route.last_agent_id) == ("cu1", "Melissa", None)
    assert route.preview == "Hello, my card was charged twice for order 42 and I would…"


async def test_routing_events_drive_the_states_and_name_the_agents(chat):
    await chat.start()
    await chat.routing_says(r.ConversationQueued(conversation_id="c1", queue_id="q1", channel="chat", priority=0,
                                                 skills={}, enqueued_at=T0))
    offer = dict(conversation_id="c1", offer_id="o1", agent_id="a1")
    await chat.routing_says(r.OfferMade(**offer, queue_id="q1", channel="chat", customer_name="M", preview="",
                                        waited_s=0, expires_at=T0))
    await chat.routing_says(r.OfferDeclined(**offer, reason="busy"))
    await chat.routing_says(r.OfferMade(**{**offer, "agent_id": "a2"}, queue_id="q1", channel="chat",
                                        customer_name="M", preview="", waited_s=0, expires_at=T0))
    await chat.routing_says(r.OfferExpired(**{**offer, "agent_id": "a2"}))
    await chat.routing_says(r.OfferMade(**{**offer, "agent_id": "a3"}, queue_id="q1", channel="chat",
                                        customer_name="M", preview="", waited_s=0, expires_at=T0))
    await chat.routing_says(r.OfferWithdrawn(**{**offer, "agent_id": "a3"}, reason="agent left"))
    await chat.routing_says(r.ConversationOverflowed(conversation_id="c1", from_queue_id="q1", to_queue_id="q2",
                                                     waited_s=60))
    chat.tick(90)
    await chat.routing_says(r.ConversationAssigned(conversation_id="c1", agent_id="a4", queue_id="q2", channel="chat",
                                                   how="manual_take"))
    assert chat.states() == [("queued", []), ("offered", []), ("queued", []), ("offered", []), ("queued", []),
                             ("offered", []), ("queued", []), ("queued", []), ("active", ["a4"])]
    last = chat.events(c.ConversationStateChanged)[-1]
    assert (last.previous, last.queue_id, last.customer_id, last.at) == ("queued", "q2", "cu1", T0 + timedelta(seconds=90))


async def test_transfer_and_conference_change_who_works_the_conversation(chat):
    await chat.active(agent_id="a1")
    await chat.routing_says(r.ConferenceInviteAccepted(conversation_id="c1", invitee_id="a2"))
    await chat.routing_says(r.ConferenceInviteAccepted(conversation_id="c1", invitee_id="a3"))
    await chat.routing_says(r.ConferenceLeft(conversation_id="c1", agent_id="a2"))
    await chat.routing_says(r.ConferenceEnded(conversation_id="c1"))
    await chat.routing_says(r.ConversationTransferred(conversation_id="c1", from_agent_id="a1", to_queue_id=None,
                                                      to_agent_id="a5", reason="VIP"))
    await chat.routing_says(r.OfferMade(conversation_id="c1", offer_id="o2", agent_id="a5", queue_id="q1",
                                        channel="chat", customer_name="M", preview="", waited_s=0, expires_at=T0))
    await chat.routing_says(r.ConversationAssigned(conversation_id="c1", agent_id="a5", queue_id="q1", channel="chat",
                                                   how="offer"))
    await chat.routing_says(r.ConversationTransferred(conversation_id="c1", from_agent_id="a5", to_queue_id="q9",
                                                      to_agent_id=None, reason=""))
    assert chat.states()[3:] == [("active", ["a1", "a2"]), ("active", ["a1", "a2", "a3"]), ("active", ["a1", "a3"]),
                                 ("active", ["a1"]), ("offered", []), ("active", ["a5"]), ("queued", [])]
    removed = [e.removed_agents for e in chat.events(c.ConversationStateChanged)][3:]
    assert removed == [[], [], ["a2"], ["a3"], ["a1"], [], ["a5"]]
    assert chat.events(c.ConversationStateChanged)[-1].queue_id == "q9"


async def test_routing_events_about_unknown_conversations_are_ignored_and_recorded(chat):
    env = await chat.routing_says(r.ConversationAssigned(conversation_id="nope", agent_id="a1", queue_id="q1",
                                                         channel="chat", how="offer"))
    assert chat.events() == [] and chat.uow.docs.get("conversations", {}) == {}
    assert env.event_id in chat.uow.processed
    with pytest.raises(AlreadyProcessed):  # a redelivery is dropped
        await chat.redeliver(env)


async def test_a_routing_event_that_no_longer_fits_changes_nothing(chat):
    await chat.start()
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))  # closed at once
    before = len(chat.events())
    env = await chat.routing_says(r.OfferMade(conversation_id="c1", offer_id="o1", agent_id="a1", queue_id="q1",
                                              channel="chat", customer_name="M", preview="", waited_s=0,
                                              expires_at=T0))
    await chat.routing_says(r.ConversationEnded(conversation_id="c1", reason="Customer ended the conversation"))
    assert len(chat.events()) == before and chat.states()[-1] == ("closed", [])
    assert env.event_id in chat.uow.processed


async def test_the_customer_ends_an_active_chat_the_agent_still_wraps_up_and_only_then_routing_frees_it(chat):
    await chat.active(agent_id="a1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    assert chat.states()[-1] == ("wrap_up", ["a1"])
    note = chat.events(c.MessagePosted)[-1]
    assert (note.sender.kind, note.text, note.seq, note.agents) == ("system", "Customer ended the conversation", 2,
                                                                   ["a1"])
    assert not chat.to_routing(r.EndConversation)  # the agent's capacity stays taken
    await chat.rejected(c.SendMessage(conversation_id="c1", client_message_id="m", text="hi?", actor=customer("cu1")))

    chat.tick(30)
    await chat.accepted(c.WrapUp(conversation_id="c1", reason_code=None, note="refunded", actor=agent("a1")))
    assert chat.states()[-1] == ("closed", [])
    (closed,) = chat.events(c.ConversationClosed)
    assert (closed.agent_id, closed.ended_by, closed.messages, closed.started_at) == ("a1", "customer", 1, T0)
    (end,) = chat.to_routing(r.EndConversation)
    assert end.conversation_id == "c1"


async def test_wrap_up_needs_a_reason_where_the_queue_says_so_and_one_from_the_tenants_list(chat):
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", wrap_up_required=True, actor=ADMIN))
    await chat.accepted(c.ConfigureWrapUpReasons(reasons=[c.WrapUpReason(code="resolved", label="Resolved")],
                                                 actor=ADMIN))
    await chat.active(agent_id="a1")
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=agent("a1")))
    assert chat.events(c.MessagePosted)[-1].text == "The agent ended the conversation"

    missing = await chat.rejected(c.WrapUp(conversation_id="c1", actor=agent("a1")))
    unknown = await chat.rejected(c.WrapUp(conversation_id="c1", reason_code="bogus", actor=agent("a1")))
    assert (missing.code, unknown.code) == ("reason_required", "unknown_reason")
    assert chat.states()[-1][0] == "wrap_up" and not chat.to_routing(r.EndConversation)

    await chat.accepted(c.WrapUp(conversation_id="c1", reason_code="resolved", actor=agent("a1")))
    (closed,) = chat.events(c.ConversationClosed)
    assert (closed.wrap_up_reason, closed.ended_by) == ("resolved", "agent")
    assert len(chat.to_routing(r.EndConversation)) == 1


async def test_an_agent_may_wrap_up_an_active_chat_in_one_step(chat):
    await chat.active(agent_id="a1")
    await chat.accepted(c.WrapUp(conversation_id="c1", actor=agent("a1")))
    assert [s for s, _ in chat.states()][-1] == "closed" and chat.events(c.ConversationClosed)[0].ended_by == "agent"


@pytest.mark.parametrize("taken_so_far", [[], ["queued"], ["queued", "offered"]])
async def test_ending_a_chat_nobody_has_taken_closes_it_at_once(chat, taken_so_far):
    await chat.start()
    if "queued" in taken_so_far:
        await chat.routing_says(r.ConversationQueued(conversation_id="c1", queue_id="q1", channel="chat", priority=0,
                                                     skills={}, enqueued_at=T0))
    if "offered" in taken_so_far:
        await chat.routing_says(r.OfferMade(conversation_id="c1", offer_id="o1", agent_id="a1", queue_id="q1",
                                            channel="chat", customer_name="M", preview="", waited_s=0, expires_at=T0))
    await chat.accepted(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    assert chat.states()[-1] == ("closed", [])
    (closed,) = chat.events(c.ConversationClosed)
    assert (closed.agent_id, closed.ended_by) == (None, "customer")
    assert len(chat.to_routing(r.EndConversation)) == 1
    again = await chat.rejected(c.EndConversation(conversation_id="c1", actor=customer("cu1")))
    assert again.code == "invalid_state"


async def test_persistent_chat_parks_with_the_agent_and_comes_back_to_it_when_the_customer_writes(chat):
    await chat.active(agent_id="a1")
    refused = await chat.rejected(c.CloseToWaiting(conversation_id="c1", actor=agent("a1")))
    assert refused.code == "not_allowed"
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", persistent=True, actor=ADMIN))
    await chat.accepted(c.CloseToWaiting(conversation_id="c1", actor=agent("a1")))
    (park,) = chat.to_routing(r.CloseToWaiting)
    assert park.agent_id == "a1" and chat.states()[-1][0] == "active"  # until routing says so

    await chat.routing_says(r.ConversationWaiting(conversation_id="c1", agent_id="a1",
                                                  waiting_until=T0 + timedelta(days=28)))
    assert chat.states()[-1] == ("waiting", ["a1"])
    refused = await chat.rejected(c.SendMessage(conversation_id="c1", client_message_id="x", text="hi",
                                                actor=agent("a1")))
    assert refused.code == "invalid_state"  # agents write while they work it

    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m2", text="It happened again",
                                      actor=customer("cu1")))
    reroute = chat.to_routing(r.RouteConversation)[-1]
    assert (reroute.last_agent_id, reroute.queue_id, reroute.preview) == ("a1", "q1", "It happened again")
    await chat.routing_says(r.ConversationAssigned(conversation_id="c1", agent_id="a1", queue_id="q1", channel="chat",
                                                   how="returned_from_waiting"))
    assert chat.states()[-1] == ("active", ["a1"])


async def test_a_customer_who_writes_while_routing_parks_the_chat_brings_it_back_at_once(chat):
    """Found by the chaos harness: the customer wrote between the agent's close-to-waiting (accepted by chat,
    on its way to routing) and routing's ConversationWaiting; the message reached the agent, then the chat was
    parked, and nothing brought it back: the customer waited on a chat nobody was working."""
    await chat.active(agent_id="a1")
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", persistent=True, actor=ADMIN))
    routed = len(chat.to_routing(r.RouteConversation))
    await chat.accepted(c.CloseToWaiting(conversation_id="c1", actor=agent("a1")))
    await chat.accepted(c.SendMessage(conversation_id="c1", client_message_id="m2", text="One more thing",
                                      actor=customer("cu1")))
    assert len(chat.to_routing(r.RouteConversation)) == routed  # still active: the message went to the agent
    assert chat.events(c.MessagePosted)[-1].agents == ["a1"]
    await chat.routing_says(r.ConversationWaiting(conversation_id="c1", agent_id="a1",
                                                  waiting_until=T0 + timedelta(days=28)))
    assert chat.states()[-1] == ("waiting", ["a1"])
    assert len(chat.to_routing(r.RouteConversation)) == routed + 1
    reroute = chat.to_routing(r.RouteConversation)[-1]
    assert (reroute.last_agent_id, reroute.preview) == ("a1", "One more thing")


async def test_parking_with_no_message_meanwhile_waits_for_the_customer(chat):
    await chat.active(agent_id="a1")
    await chat.accepted(c.ConfigureQueueChat(queue_id="q1", persistent=True, actor=ADMIN))
    routed = len(chat.to_routing(r.RouteConversation))
    await chat.accepted(c.CloseToWaiting(conversation_id="c1", actor=agent("a1")))
    await chat.routing_says(r.ConversationWaiting(conversation_id="c1", agent_id="a1",
                                                  waiting_until=T0 + timedelta(days=28)))
    assert chat.states()[-1] == ("waiting", ["a1"])
    assert len(chat.to_routing(r.RouteConversation)) == routed


async def test_a_waiting_chat_whose_period_ran_out_is_closed_when_routing_ends_it(chat):
    await chat.active(agent_id="a1")
    await chat.routing_says(r.ConversationWaiting(conversation_id="c1", agent_id="a1", waiting_until=T0))
    await chat.routing_says(r.ConversationEnded(conversation_id="c1", reason="waiting period over"))
    changed = chat.events(c.ConversationStateChanged)[-1]
    assert (changed.state, changed.removed_agents, changed.why) == ("closed", ["a1"], "waiting period over")
    (closed,) = chat.events(c.ConversationClosed)
    assert (closed.agent_id, closed.ended_by) == ("a1", "system")
    assert not chat.to_routing(r.EndConversation)  # routing already let go


async def test_a_proactive_chat_is_opened_by_the_agent_who_holds_it_at_once(chat):
    answer = await chat.accepted(c.StartConversation(
        conversation_id="p1", queue_id="sales", proactive=True, actor=agent("a7"),
        customer=c.Customer(customer_id="cu9", name="Visitor 9"), first_message="Can I help you with your order?"))
    assert answer.result_id == "p1"
    started = chat.events(c.ConversationStarted)[0]
    posted = chat.events(c.MessagePosted)[0]
    assert started.proactive and (posted.sender.kind, posted.sender.id) == ("agent", "a7")
    (open_,) = chat.to_routing()
    assert isinstance(open_, r.OpenConversation)
    assert (open_.agent_id, open_.queue_id, open_.customer_id, open_.customer_name) == ("a7", "sales", "cu9",
                                                                                     "Visitor 9")
    await chat.routing_says(r.ConversationAssigned(conversation_id="p1", agent_id="a7", queue_id="sales",
                                                   channel="chat", how="manual_open"))
    assert chat.states("p1") == [("active", ["a7"])]


async def test_a_chat_routing_refuses_to_route_is_closed_with_routings_reason(chat):
    await chat.start(queue_id="no-such-queue")
    route = chat.to_routing(r.RouteConversation)[0]
    await chat.routing_says(CommandRejected(request_id=route.request_id, command_id="e1",
                                            command_type=r.RouteConversation.TYPE, command_key="c1",
                                            code="unknown_queue", reason="queue no-such-queue does not exist"))
    changed = chat.events(c.ConversationStateChanged)[-1]
    assert changed.state == "closed" and "no-such-queue does not exist" in changed.why
    assert chat.events(c.ConversationClosed)[0].ended_by == "system"


async def test_a_routing_command_routing_failed_on_leaves_the_chat_requested_for_the_letters_replay(chat):
    await chat.start()
    route = chat.to_routing(r.RouteConversation)[0]
    await chat.routing_says(CommandRejected(request_id=route.request_id, command_id="e1",
                                            command_type=r.RouteConversation.TYPE, command_key="c1",
                                            code="failed", reason="routing could not carry out this command"))
    assert chat.events(c.ConversationClosed) == []
    assert all(e.state != "closed" for e in chat.events(c.ConversationStateChanged))


async def test_a_retried_request_id_is_carried_out_once_and_gets_the_first_answer_again(chat):
    start = c.StartConversation(conversation_id="c1", queue_id="q1", actor=customer("cu1"), request_id="req-1",
                                customer=c.Customer(customer_id="cu1", name="M"), first_message="hi")
    first = await chat.send(start)
    emitted, routed = len(chat.events()), len(chat.to_routing())
    again = await chat.send(start)  # the gateway's retry: a new envelope, the same request id
    assert again.event_id != first.event_id
    assert chat.events()[emitted:] == [chat.answer(first)] and len(chat.to_routing()) == routed
    refused = c.EndConversation(conversation_id="c1", actor=customer("someone-else"), request_id="req-2")
    await chat.send(refused)
    await chat.send(refused)
    answers = [e for e in chat.events(CommandRejected) if e.request_id == "req-2"]
    assert len(answers) == 2 and answers[0] == answers[1] and answers[0].code == "not_participant"


async def test_starting_a_conversation_id_twice_is_a_conflict(chat):
    await chat.start()
    again = await chat.rejected(c.StartConversation(conversation_id="c1", queue_id="q1", actor=customer("cu1"),
                                                    customer=c.Customer(customer_id="cu1", name="M")))
    assert again.code == "conflict"
