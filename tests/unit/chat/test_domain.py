"""Chat's pure domain: the lifecycle state machine, the composer rules, previews, and a conversation's
agents list and moves (no handlers, no storage)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from services.chat.domain.composer import check_text, preview
from services.chat.domain.conversation import Conversation
from services.chat.domain.lifecycle import TRANSITIONS, State, check_transition
from services.chat.domain.settings import QueueChatSettings
from shared.contracts.answers import Rejected
from shared.contracts.chat import events as ev
from shared.contracts.chat.common import MAX_AGENT_TEXT, Customer, Sender, WrapUpReason
from shared.contracts.routing import commands as rc

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENT_A1 = Sender(kind="agent", id="a1")


def conversation(state: State = State.REQUESTED, **fields) -> Conversation:
    return Conversation(conversation_id="c1", queue_id="q1", customer=Customer(customer_id="cu1", name="Ann"),
                        started_at=NOW, state=state, **fields)


# --- the state machine -------------------------------------------------------------------------------

def test_the_lifecycle_allows_exactly_its_transitions():
    assert TRANSITIONS[State.REQUESTED] == {State.QUEUED, State.OFFERED, State.ACTIVE, State.CLOSED}
    assert TRANSITIONS[State.WRAP_UP] == {State.CLOSED}
    assert TRANSITIONS[State.CLOSED] == set()
    for current, to in product(State, State):
        allowed = to in TRANSITIONS[current] or (to == current and current != State.CLOSED)
        if allowed:
            check_transition(current, to)
        else:
            with pytest.raises(Rejected) as refused:
                check_transition(current, to)
            assert refused.value.code == "invalid_state" and str(current) in refused.value.reason


@pytest.mark.parametrize("state", [State.WRAP_UP, State.CLOSED, State.QUEUED])
def test_an_assignment_out_of_turn_is_refused_and_changes_nothing(state):
    conv = conversation(state, assignee="a9" if state != State.QUEUED else None)
    if state == State.QUEUED:
        conv.assigned(agent_id="a1", queue_id="q1", unread=0, how="manual_take", now=NOW)  # allowed
        return
    before = repr(conv)
    with pytest.raises(Rejected) as refused:
        conv.assigned(agent_id="a1", queue_id="q1", unread=0, how="offer", now=NOW)
    assert refused.value.code == "invalid_state"
    assert repr(conv) == before


def test_a_closed_conversation_cannot_be_ended_or_wrapped_up_again():
    conv = conversation(State.CLOSED, assignee="a1")
    with pytest.raises(Rejected, match="closed"):
        conv.end(by=AGENT_A1, message_id="m1", now=NOW)
    with pytest.raises(Rejected, match="closed"):
        conv.wrap_up(reason_code=None, note="", settings=QueueChatSettings("q1"), reasons=[], now=NOW)
    with pytest.raises(Rejected):
        conv.ended_by_routing(reason="x", now=NOW)


def test_agents_are_the_assignee_first_then_conference_members_in_join_order_and_nobody_once_closed():
    conv = conversation()
    conv.assigned(agent_id="a1", queue_id="q1", unread=0, how="offer", now=NOW)
    conv.conference_joined(agent_id="a3", unread=0, now=NOW)
    (changed,) = conv.conference_joined(agent_id="a2", unread=0, now=NOW)
    assert conv.agents == changed.agents == ["a1", "a3", "a2"]
    assert conv.conference_joined(agent_id="a2", unread=0, now=NOW) == []  # already in: nothing to say
    (left,) = conv.conference_left(agent_id="a3", now=NOW)
    assert (left.agents, left.removed_agents, left.state, left.previous) == (["a1", "a2"], ["a3"], "active", "active")
    outcome = conv.wrap_up(reason_code=None, note="", settings=QueueChatSettings("q1"), reasons=[], now=NOW)
    closed = outcome[0]
    assert (closed.state, closed.agents, closed.removed_agents) == ("closed", [], ["a1", "a2"])
    assert conv.assignee == "a1"  # kept: the agent who closed it, for its Closed list


def test_a_transfer_to_an_agent_offers_it_to_that_agent_and_takes_it_from_the_old_one():
    conv = conversation()
    conv.assigned(agent_id="a1", queue_id="q1", unread=0, how="offer", now=NOW)
    (moved,) = conv.transferred(from_agent_id="a1", to_queue_id=None, to_agent_id="a2", reason="billing", now=NOW)
    assert (moved.state, moved.agents, moved.removed_agents) == ("offered", [], ["a1"])
    assert "billing" in moved.why and conv.offered_to == "a2" and conv.last_agent_id == "a1"
    assert conv.offered(agent_id="a2", queue_id="q1", now=NOW) == []  # routing's OfferMade that follows


def test_ending_an_active_conversation_goes_to_wrap_up_with_a_system_message_and_tells_routing_nothing():
    conv = conversation()
    conv.assigned(agent_id="a1", queue_id="q1", unread=0, how="offer", now=NOW)
    outcome = conv.end(by=Sender(kind="customer", id="cu1"), message_id="m9", now=NOW)
    changed, posted = outcome
    assert (changed.state, changed.agents, changed.why) == ("wrap_up", ["a1"], "Customer ended the conversation")
    assert (posted.sender.kind, posted.text, posted.seq) == ("system", "Customer ended the conversation", 1)
    assert not any(isinstance(m, rc.RoutingCommand) for m in outcome)
    assert conv.new_messages[0].message_id == "m9" and conv.ended_by == "customer"


def test_wrap_up_reason_rules():
    reasons = [WrapUpReason(code="resolved", label="Resolved")]

    def wrap(code, required):
        conv = conversation(State.WRAP_UP, assignee="a1")
        return conv.wrap_up(reason_code=code, note="", settings=QueueChatSettings("q1", wrap_up_required=required),
                            reasons=reasons, now=NOW)

    with pytest.raises(Rejected) as missing:
        wrap(None, True)
    assert missing.value.code == "reason_required"
    with pytest.raises(Rejected) as unknown:
        wrap("nope", False)
    assert unknown.value.code == "unknown_reason"
    changed, closed, end = wrap("resolved", True)
    assert closed.wrap_up_reason == "resolved" and closed.agent_id == "a1"
    assert isinstance(end, rc.EndConversation) and isinstance(closed, ev.ConversationClosed)
    assert len(wrap(None, False)) == 3  # a reason is optional where the queue does not require one


# --- composer rules (C3) and previews ------------------------------------------------------------------

def test_an_agent_writes_at_most_1000_characters_and_never_angle_brackets():
    check_text("x" * MAX_AGENT_TEXT, sender="agent")
    with pytest.raises(Rejected) as too_long:
        check_text("x" * (MAX_AGENT_TEXT + 1), sender="agent")
    assert too_long.value.code == "invalid_text" and "1000" in too_long.value.reason
    for text in ("a < b", "a > b", "<b>hi</b>"):
        with pytest.raises(Rejected) as reserved:
            check_text(text, sender="agent")
        assert reserved.value.code == "invalid_text" and "reserved" in reserved.value.reason
    check_text("a < b, " + "y" * 1500, sender="customer")  # the rules are the agent composer's


def test_an_empty_text_is_refused_for_everyone():
    for sender in ("customer", "agent", "bot", "system"):
        with pytest.raises(Rejected):
            check_text(" \n\t", sender=sender)


def test_a_preview_is_the_first_words_on_one_line():
    assert preview("Hello,\n\nmy card   was charged") == "Hello, my card was charged"
    assert preview(" ".join(f"w{i}" for i in range(30))) == " ".join(f"w{i}" for i in range(12)) + "…"
    assert len(preview("x" * 500)) == 100
    assert preview(None) == ""


def test_a_message_keeps_its_line_breaks_exactly():
    conv = conversation(State.ACTIVE, assignee="a1")
    text = "Line one\n\n\nline four\r\n  indented\n"
    (posted,) = conv.post(sender=AGENT_A1, text=text, message_id="m1", now=NOW + timedelta(seconds=1))
    assert posted.text == text == conv.new_messages[0].text
