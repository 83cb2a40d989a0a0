"""Favourites' notifications and observing (U4, G5), pure: the join of a chat event's projection with the
customer's favourites (who gets a favourite frame, never twice, never a note) and the `favourite_of` rows of
the permission table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.gateway.auth.permissions import STAFF_ROLES, Action, Relation, Role, allowed, refusal
from services.gateway.favourites import observed_customer, to_favourites
from services.gateway.projection import project
from shared.contracts import chat, routing
from shared.contracts.envelope import wrap

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def env(payload):
    return wrap(payload, tenant_id="t1", key=getattr(payload, payload.KEY), producer="test", occurred_at=T0)


def started():
    return env(chat.ConversationStarted(conversation_id="c1", queue_id="q1", proactive=False, started_at=T0,
                                        customer=chat.Customer(customer_id="dana", name="Dana"),
                                        context=chat.Context()))


def state(new: str, previous: str, agents=(), removed=()):
    return env(chat.ConversationStateChanged(conversation_id="c1", state=new, previous=previous, queue_id="q1",
                                             agents=list(agents), customer_id="dana", why="test", at=T0,
                                             removed_agents=list(removed)))


def posted(text: str, *, private: bool = False, kind: str = "agent", agents=("alice",)):
    return env(chat.MessagePosted(conversation_id="c1", message_id=f"m-{text}", seq=1, client_message_id="x",
                                  sender=chat.Sender(kind=kind, id="dana" if kind == "customer" else "alice"),
                                  text=text, private=private, customer_id="dana", agents=list(agents), sent_at=T0))


def joined(event, view, favourites, members=()):
    """What handlers.py pushes to agents for `event`: the projection's frames, then the favourites' copies."""
    out = project(event, view, list(members))
    customer = observed_customer(event.payload)
    extra = to_favourites(out, favourites, customer) if customer is not None else []
    return out, extra


def active_view():
    view = project(started(), None, []).view
    return project(state("active", "queued", agents=["alice"]), view, []).view


def test_a_favourite_who_does_not_work_it_gets_the_customers_and_the_agents_messages_marked_favourite():
    view = active_view()
    for text, kind in (("Where is my parcel?", "customer"), ("On its way", "agent")):
        _, extra = joined(posted(text, kind=kind), view, ["bob"])
        ((agent, frame),) = extra
        assert agent == "bob" and frame["type"] == "message" and frame["text"] == text
        assert (frame["favourite"], frame["customer_id"], frame["customer_name"], frame["agents"]) == (
            True, "dana", "Dana", ["alice"])


def test_the_conversations_life_reaches_the_favourites_from_start_to_close():
    _, extra = joined(started(), None, ["bob"])
    assert [(a, f["type"], f["queue_id"]) for a, f in extra] == [("bob", "conversation_started", "q1")]
    view = project(started(), None, []).view
    _, extra = joined(state("active", "queued", agents=["alice"]), view, ["bob"])
    assert [(a, f["type"], f["state"], f["agents"]) for a, f in extra] == [
        ("bob", "conversation_state", "active", ["alice"])]
    read = env(chat.MessagesRead(conversation_id="c1", reader=chat.Sender(kind="customer", id="dana"),
                                 up_to_seq=3, unread=0, customer_id="dana", agents=["alice"]))
    _, extra = joined(read, active_view(), ["bob"])
    assert [(a, f["type"], f["up_to_seq"]) for a, f in extra] == [("bob", "read", 3)]
    closed = env(chat.ConversationClosed(conversation_id="c1", queue_id="q1", customer_id="dana", agent_id="alice",
                                         ended_by="agent", wrap_up_reason="solved", messages=2, started_at=T0,
                                         closed_at=T0))
    _, extra = joined(closed, active_view(), ["bob"])
    assert [(a, f["type"], f["agents"]) for a, f in extra] == [("bob", "conversation_closed", [])]


def test_an_agent_who_works_it_or_gets_any_frame_of_the_event_gets_no_second_copy():
    view = active_view()
    out, extra = joined(posted("hi", agents=("alice", "bob")), view, ["bob", "alice", "carol"])
    assert [a for a, _ in out.to_agents] == ["alice", "bob"] and [a for a, _ in extra] == ["carol"]
    # alice is transferred away: she is told by the state frame, not by a favourite copy as well
    out, extra = joined(state("queued", "active", agents=[], removed=["alice"]), view, ["alice", "bob"],
                        members=["bob"])
    assert sorted(a for a, _ in out.to_agents) == ["alice", "bob"] and extra == []


def test_a_private_note_never_reaches_a_favourite():
    _, extra = joined(posted("upset customer", private=True), active_view(), ["bob"])
    assert extra == []


def test_an_offer_the_survey_and_the_queue_place_are_not_followed():
    view = project(started(), None, []).view
    assert observed_customer(routing.OfferMade.model_construct()) is None
    invite = env(chat.SurveyInvited.model_construct(conversation_id="c1", question="How did we do?"))
    assert observed_customer(invite.payload) is None
    assert to_favourites(project(invite, view, []), ["bob"], "dana") == []


def test_nobody_marked_no_frames():
    assert joined(posted("hi"), active_view(), [])[1] == []


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
def test_favourite_of_grants_exactly_reading_and_observing(role):
    only = {Relation.FAVOURITE_OF}
    granted = {a for a in Action if allowed(role, a, only) and a not in _tenant_actions(role)}
    assert granted == {Action.READ_CONVERSATION, Action.READ_MESSAGES, Action.OBSERVE}
    assert refusal(role, Action.SEND_MESSAGE, only).status == 403  # sees it, may not write: 403, not 404
    assert refusal(role, Action.READ_PRIVATE_NOTES, only).status == 403
    assert refusal(role, Action.MARK_READ, only).status == 403


def test_favourite_of_gives_a_customer_nothing():
    assert not any(allowed(Role.CUSTOMER, a, {Relation.FAVOURITE_OF}) for a in Action)


def _tenant_actions(role: Role) -> set[Action]:
    return {a for a in Action if allowed(role, a, {Relation.NONE})}
