"""The gateway's projection, pure: who receives which frame, and what the conversation view remembers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.projection import new_view, project
from shared.contracts import chat, routing
from shared.contracts.envelope import wrap

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def env(payload, tenant: str = "t1"):
    return wrap(payload, tenant_id=tenant, key=getattr(payload, payload.KEY), producer="test", occurred_at=T0)


def started(cid: str = "c1"):
    return env(chat.ConversationStarted(conversation_id=cid, queue_id="q1", proactive=False, started_at=T0,
                                        customer=chat.Customer(customer_id="v-1", name="Visitor 1"),
                                        context=chat.Context()))


def posted(text: str, *, private: bool = False, kind: str = "customer", agents=("a1",)):
    return env(chat.MessagePosted(conversation_id="c1", message_id="m", seq=1, client_message_id="x",
                                  sender=chat.Sender(kind=kind, id="v-1" if kind == "customer" else "a1"),
                                  text=text, private=private, customer_id="v-1", agents=list(agents), sent_at=T0))


def state(new: str, previous: str, agents=(), removed=()):
    return env(chat.ConversationStateChanged(conversation_id="c1", state=new, previous=previous, queue_id="q1",
                                             agents=list(agents), customer_id="v-1", why="test", at=T0,
                                             removed_agents=list(removed)))


def test_a_private_note_reaches_the_agents_and_never_the_customer():
    view = project(started(), None, []).view
    note = project(posted("upset customer", private=True, kind="agent", agents=("a1", "a2")), view, [])
    assert [a for a, _ in note.to_agents] == ["a1", "a2"] and note.to_customer == []
    public = project(posted("hello", kind="agent"), view, [])
    assert public.to_customer and public.to_customer[0]["text"] == "hello"


def test_only_a_customer_message_changes_the_preview():
    view = project(started(), None, []).view
    view = project(posted("Where is my parcel?"), view, []).view
    assert view["preview"] == "Where is my parcel?"
    assert project(posted("agent words", kind="agent"), view, []).view["preview"] == "Where is my parcel?"
    assert project(posted("a note", kind="agent", private=True), view, []).view["preview"] == "Where is my parcel?"


def test_an_offer_is_remembered_until_it_is_withdrawn_and_a_late_queued_state_does_not_wipe_it():
    view = project(started(), None, []).view
    offer = env(routing.OfferMade(conversation_id="c1", offer_id="o1", agent_id="a1", queue_id="q1", channel="chat",
                                  customer_name="Visitor 1", preview="hi", waited_s=1.0,
                                  expires_at=T0 + timedelta(seconds=30)))
    out = project(offer, view, [])
    assert out.to_agents[0][0] == "a1" and out.to_agents[0][1]["offer_id"] == "o1" and out.to_customer == []
    view = project(state("queued", "requested"), out.view, ["a1", "a2"]).view  # chat's late "queued"
    assert view["offered"] == ["a1"] and view["offer_ids"] == {"a1": "o1"}
    gone = project(env(routing.OfferExpired(conversation_id="c1", offer_id="o1", agent_id="a1")), view, [])
    assert gone.view["offered"] == [] and gone.to_agents[0][1]["type"] == "offer_withdrawn"


def test_a_queued_conversation_reaches_the_queue_members_as_metadata_and_preview_only():
    view = project(started(), None, []).view
    view = project(posted("Need help"), view, []).view
    out = project(state("queued", "requested"), view, ["a1", "a2"])
    open_list = [f for _, f in out.to_agents if f["type"] == "queued"]
    assert [a for a, f in out.to_agents if f["type"] == "queued"] == ["a1", "a2"]
    assert open_list[0]["preview"] == "Need help" and "text" not in open_list[0]


def test_an_agent_who_loses_the_conversation_is_told_and_the_view_follows_chat():
    view = project(started(), None, []).view
    view = project(state("active", "offered", agents=["a1"]), view, []).view
    out = project(state("queued", "active", agents=[], removed=["a1"]), view, ["a2"])
    assert ("a1", "conversation_state") in [(a, f["type"]) for a, f in out.to_agents]
    assert out.view["agents"] == [] and out.view["served_by"] == ["a1"]


def test_closed_goes_to_the_agents_who_had_it_and_the_customer():
    view = project(started(), None, []).view
    view = project(state("wrap_up", "active", agents=["a1", "a2"]), view, []).view
    closed = env(chat.ConversationClosed(conversation_id="c1", queue_id="q1", customer_id="v-1", agent_id="a1",
                                         ended_by="customer", wrap_up_reason="resolved", messages=3, started_at=T0,
                                         closed_at=T0))
    out = project(closed, view, [])
    assert sorted(a for a, _ in out.to_agents) == ["a1", "a2"]
    assert out.to_customer[0]["type"] == "conversation_closed" and "wrap_up_reason" not in out.to_customer[0]
    assert out.view["state"] == "closed" and out.view["agents"] == []


def test_presence_goes_to_its_agent_and_unknown_events_change_nothing():
    presence = env(routing.PresenceChanged(agent_id="a1", previous="available", presence="rona", automatic=True,
                                           reason="offer not answered"))
    out = project(presence, None, [])
    assert out.view is None and out.to_agents[0][0] == "a1" and out.to_agents[0][1]["presence"] == "rona"
    skills = env(routing.ConversationSkillsChanged(conversation_id="c1", skills={"x": 1}, by_agent_id="a1"))
    assert project(skills, new_view("t1", "c1"), []).view is None
