"""What routing stores: each aggregate's MongoDB document, pinned field by field, so a refactor of the
repositories cannot change what is written, and documents already stored still load."""

from datetime import UTC, datetime, timedelta

import pytest

from services.routing.adapters.agents import agent_from_doc, agent_to_doc
from services.routing.adapters.queues import queue_from_doc, queue_to_doc
from services.routing.adapters.work_items import item_from_doc, item_to_doc
from services.routing.domain.model import Agent, AssignmentMethod, ItemState, Offer, Presence, QueueConfig, WorkItem

pytestmark = pytest.mark.unit

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

QUEUE = QueueConfig("q1", "First", method=AssignmentMethod.SKILLS, members={"a2": 2, "a1": 1}, overflow_queue_id="q2",
                    max_wait_s=60, second_level_queue_id="q3", rr_cursor="a1",
                    recent_assignments=[T0 - timedelta(minutes=2), T0], version=4)
QUEUE_DOC = {
    "_id": "t1|q1", "tenant_id": "t1", "queue_id": "q1", "name": "First", "level": 1, "method": "skills",
    "members": {"a2": 2, "a1": 1}, "offer_timeout_s": 30, "max_declines": 2, "overflow_queue_id": "q2",
    "max_wait_s": 60, "second_level_queue_id": "q3", "prefer_responsible_agent": True, "prefer_last_agent": True,
    "busy_when_at_capacity": True, "allow_agent_skill_edit": True, "persistent_waiting_days": 28, "rr_cursor": "a1",
    "recent_assignments": [T0 - timedelta(minutes=2), T0], "version": 4, "member_ids": ["a1", "a2"],
}

AGENT = Agent("a1", presence=Presence.BUSY, auto_busy=True, capacity={"chat": 2, "voice": 1}, load={"chat": 2},
              skills={"billing": 5}, last_assigned_at=T0, version=7)
AGENT_DOC = {
    "_id": "t1|a1", "tenant_id": "t1", "agent_id": "a1", "presence": "busy", "auto_busy": True,
    "capacity": {"chat": 2, "voice": 1}, "load": {"chat": 2}, "skills": {"billing": 5}, "last_assigned_at": T0,
    "version": 7,
}

ASSIGNED = WorkItem(conversation_id="c1", queue_id="q1", priority=1, skills={"billing": 3}, customer_id="cu1",
                    customer_name="Ann", preview="hi", enqueued_at=T0, created_at=T0 - timedelta(minutes=5),
                    state=ItemState.ASSIGNED, assigned_agent_id="a1", declines={"a3": 1}, last_agent_id="a1",
                    responsible_agent_id="a2", participants={"a4", "a2"}, invites={"a5": "a1"}, version=3)
ASSIGNED_DOC = {
    "_id": "t1|c1", "tenant_id": "t1", "conversation_id": "c1", "channel": "chat", "queue_id": "q1", "priority": 1,
    "skills": {"billing": 3}, "customer_id": "cu1", "customer_name": "Ann", "preview": "hi", "enqueued_at": T0,
    "created_at": T0 - timedelta(minutes=5), "state": "assigned", "offer": None, "assigned_agent_id": "a1",
    "declines": {"a3": 1}, "last_agent_id": "a1", "responsible_agent_id": "a2", "participants": ["a2", "a4"],
    "invites": {"a5": "a1"}, "waiting_until": None, "target_agent_id": None, "version": 3,
    "holders": ["a1", "a2", "a4", "a5"], "ended_at": None,
}

OFFERED = WorkItem(conversation_id="c2", queue_id="q1", enqueued_at=T0, created_at=T0, state=ItemState.OFFERED,
                   offer=Offer("o1", "a3", T0, T0 + timedelta(seconds=30)), target_agent_id="a3")
OFFERED_DOC = {
    "_id": "t1|c2", "tenant_id": "t1", "conversation_id": "c2", "channel": "chat", "queue_id": "q1", "priority": 0,
    "skills": {}, "customer_id": None, "customer_name": None, "preview": "", "enqueued_at": T0, "created_at": T0,
    "state": "offered",
    "offer": {"offer_id": "o1", "agent_id": "a3", "offered_at": T0, "expires_at": T0 + timedelta(seconds=30)},
    "assigned_agent_id": None, "declines": {}, "last_agent_id": None, "responsible_agent_id": None,
    "participants": [], "invites": {}, "waiting_until": None, "target_agent_id": "a3", "version": 0,
    "holders": ["a3"], "ended_at": None,
}


def test_a_queue_is_stored_with_its_member_ids_and_loads_back():
    assert queue_to_doc("t1", QUEUE) == QUEUE_DOC
    assert queue_from_doc(QUEUE_DOC) == QUEUE


def test_a_queue_stored_before_it_remembered_assignments_loads_with_none():
    older = {k: v for k, v in QUEUE_DOC.items() if k != "recent_assignments"}
    assert queue_from_doc(older).recent_assignments == []


def test_an_agent_is_stored_as_its_fields_and_loads_back():
    assert agent_to_doc("t1", AGENT) == AGENT_DOC
    assert agent_from_doc(AGENT_DOC) == AGENT


@pytest.mark.parametrize(("item", "doc"), [(ASSIGNED, ASSIGNED_DOC), (OFFERED, OFFERED_DOC)])
def test_a_work_item_is_stored_with_its_holders_and_loads_back(item, doc):
    assert item_to_doc("t1", item, T0) == doc
    assert item_from_doc(doc) == item


def test_an_ended_item_is_stored_with_the_time_it_ended_for_the_ttl_index():
    ended = WorkItem(conversation_id="c3", queue_id="q1", enqueued_at=T0, created_at=T0, state=ItemState.ENDED)
    assert item_to_doc("t1", ended, T0 + timedelta(hours=1))["ended_at"] == T0 + timedelta(hours=1)
