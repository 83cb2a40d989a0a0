"""The transcript a customer or staff member downloads: who wrote what and when, as text and as entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import transcript
from services.gateway.projection import project
from shared.contracts import chat
from shared.contracts.chat.reads import ConversationView, MessageView
from shared.contracts.envelope import wrap

pytestmark = pytest.mark.unit
T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def view() -> ConversationView:
    return ConversationView(
        conversation_id="c1", tenant_id="t1", state="closed", queue_id="support",
        customer=chat.Customer(customer_id="visitor-3", name="Dana"), context=chat.Context(), skills={}, priority=0,
        proactive=False, agents=[], assignee="alice", offered_to=None, last_agent_id="alice", started_at=T0,
        first_assigned_at=T0, wait_s=0, waiting_until=None, ended_by="customer", wrap_up_reason=None,
        wrap_up_note="", closed_at=T0 + timedelta(minutes=5), last_seq=4, message_count=2, unread={},
        customer_unread=0, created_at=T0, updated_at=T0)


def message(seq: int, kind: str, who: str, text: str, private: bool = False) -> MessageView:
    return MessageView(message_id=f"m{seq}", conversation_id="c1", seq=seq, client_message_id=None,
                       sender=chat.Sender(kind=kind, id=who), text=text, private=private,
                       sent_at=T0 + timedelta(seconds=seq))


def test_the_text_names_each_writer_and_keeps_line_breaks():
    messages = [message(1, "customer", "visitor-3", "Hello\nmy order 12 is late"),
                message(2, "agent", "alice", "Let me check"), message(3, "agent", "bob", "VIP", private=True),
                message(4, "system", "system", "Customer ended the conversation")]
    built = transcript.build(view(), messages, {"alice": "Alice Smith"})
    assert [e.sender_name for e in built.entries] == ["Dana", "Alice Smith", "bob", "System"]
    text = transcript.render_text(built)
    assert text.splitlines() == [
        "Conversation c1", "Customer: Dana", "Queue: support", "Started: 2026-03-01 09:30:00 UTC",
        "Closed: 2026-03-01 09:35:00 UTC", "",
        "[2026-03-01 09:30:01 UTC] Dana: Hello", "    my order 12 is late",
        "[2026-03-01 09:30:02 UTC] Alice Smith: Let me check",
        "[2026-03-01 09:30:03 UTC] bob (private note): VIP",
        "[2026-03-01 09:30:04 UTC] System: Customer ended the conversation"]
    assert transcript.staff_ids(messages) == ["alice", "bob"]


def test_a_survey_invitation_reaches_the_customers_stream_only():
    env = wrap(chat.SurveyInvited(conversation_id="c1", customer_id="visitor-3", question="How did we do?", at=T0),
               tenant_id="t1", key="c1", producer="chat")
    out = project(env, {"_id": "t1:c1", "agents": ["alice"], "state": "wrap_up"}, [])
    assert out.to_agents == []
    assert [(f["type"], f["question"]) for f in out.to_customer] == [("survey_invite", "How did we do?")]
