"""The agent's sessions panel (G3), pure: Home that cannot be closed, at most 10 others, titles and icons, unread
counts shown as "9+" past 9, the sentiment alert hook, and what closing would lose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import agent_sessions as rules

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def panel_with(*conversations: str) -> dict:
    panel = rules.new_panel("t1", "a1")
    for cid in conversations:
        rules.open_session(panel, "conversation", cid, f"Visitor {cid}", T0)
    return panel


def test_home_is_there_first_and_cannot_be_closed():
    panel = rules.new_panel("t1", "a1")
    assert [s["id"] for s in rules.public(panel)["sessions"]] == ["home"]
    assert panel["focused"] == "home"
    with pytest.raises(rules.HomeSession):
        rules.close_session(panel, "home")


def test_at_most_ten_sessions_besides_home_and_reopening_one_is_no_new_session():
    panel = panel_with(*[f"c{i}" for i in range(10)])
    assert rules.count(panel) == 10 and rules.is_full(panel)
    assert rules.can_open(panel, "conversation", "c3")  # open already
    assert not rules.can_open(panel, "conversation", "c10")
    with pytest.raises(rules.SessionLimit, match="10 sessions are open"):
        rules.open_session(panel, "case", "k1", "Broken router", T0)
    rules.open_session(panel, "conversation", "c3", "ignored", T0, focus=True)
    assert rules.count(panel) == 10 and panel["focused"] == "conversation:c3"
    rules.close_session(panel, "conversation:c3")
    assert panel["focused"] == "home" and "conversation:c3" not in panel["refs"]
    rules.open_session(panel, "case", "k1", "Broken router", T0)
    assert rules.is_full(panel) and panel["refs"][-1] == "case:k1"


def test_accepts_in_flight_hold_slots_so_two_at_once_cannot_both_pass_the_limit():
    panel = panel_with(*[f"c{i}" for i in range(9)])
    assert rules.hold(panel, "c9", T0, "r1")  # the first of two accepts with 9 sessions open
    assert rules.count(panel, T0) == 10 and rules.count(panel) == 9  # counted given the time only
    with pytest.raises(rules.SessionLimit):
        rules.hold(panel, "c10", T0, "r2")  # the second: refused, not an 11th session later
    with pytest.raises(rules.SessionLimit):
        rules.open_session(panel, "contact", "p1", "Ann", T0)  # nor a session opened by hand
    assert not rules.hold(panel, "c3", T0, "r3")  # its session is open: nothing to hold
    assert rules.can_open(panel, "conversation", "c9", T0)  # the assignment's projection takes its own slot
    rules.open_session(panel, "conversation", "c9", "Visitor c9", T0)
    assert panel["held"] == [] and rules.count(panel, T0) == 10


def test_a_conversation_held_twice_takes_one_slot_and_a_refused_request_releases_only_its_own_hold():
    panel = panel_with(*[f"c{i}" for i in range(8)])
    assert rules.hold(panel, "c8", T0, "click-1") and rules.hold(panel, "c8", T0, "click-2")  # a double click
    assert rules.count(panel, T0) == 9
    assert rules.release(panel, "c8", "click-2")  # the second was refused (routing: already assigned)
    assert not rules.release(panel, "c8", "click-2")
    assert rules.count(panel, T0) == 9  # the first's hold stays until its session opens
    assert rules.hold(panel, "c10", T0, "r10")  # the tenth slot
    with pytest.raises(rules.SessionLimit):
        rules.hold(panel, "c9", T0, "r9")  # an eleventh: the released hold did not free c8's slot


def test_an_untaken_hold_runs_out():
    panel = panel_with(*[f"c{i}" for i in range(9)])
    rules.hold(panel, "c9", T0, "r1")
    later = T0 + rules.HOLD + timedelta(seconds=1)
    assert rules.is_full(panel, T0) and not rules.is_full(panel, later)
    assert rules.hold(panel, "c10", later, "r2")  # the run-out hold is dropped, not kept beside the new one
    assert [h["conversation_id"] for h in panel["held"]] == ["c10"]
    assert not rules.can_open(panel, "conversation", "c9", later + timedelta(seconds=1))


@pytest.mark.parametrize(("title", "icon"), [("Visitor 12", "VI"), ("Ann Berzina", "AN"), ("é-mail Ltd", "ÉM"),
                                             ("  7 Eleven", "7E"), ("X", "X")])
def test_icon_is_the_first_two_letters_of_the_title(title, icon):
    assert rules.icon(title) == icon


def test_unread_counts_customer_messages_until_chat_says_how_many_are_unread():
    panel = panel_with("c1")
    for seq in range(1, 12):
        assert rules.message_posted(panel, "c1", seq, from_customer=True)
    assert not rules.message_posted(panel, "c1", 11, from_customer=True)  # the same message again: once
    rules.message_posted(panel, "c1", 12, from_customer=False)  # the agent's own reply: not unread
    session = rules.public(panel)["sessions"][1]
    assert (session["unread"], session["unread_display"]) == (11, "9+")
    assert rules.find(panel, "conversation:c1")["last_seq"] == 12
    assert rules.messages_read(panel, "c1", 0)
    assert rules.public(panel)["sessions"][1]["unread_display"] == "0"
    rules.message_posted(panel, "c1", 13, from_customer=True)
    assert [rules.unread_display(n) for n in (0, 9, 10)] == ["0", "9", "9+"]
    assert rules.find(panel, "conversation:c1")["unread"] == 1


def test_the_sentiment_alert_hook_sets_the_alert_on_the_conversations_session_and_focus_clears_it():
    panel = panel_with("c1", "c2")
    assert not rules.set_alert(panel, "c9", T0)  # no session of it: nothing
    assert rules.set_alert(panel, "c2", T0)
    shown = {s["id"]: s for s in rules.public(panel)["sessions"]}
    assert shown["conversation:c2"]["alert"] == {"text": "Visitor c2. Your conversation urgently needs attention.",
                                                 "at": T0.isoformat()}
    assert shown["conversation:c1"]["alert"] is None
    rules.retitle(panel, "conversation:c2", "Ann Berzina")  # identified meanwhile: the alert names her
    assert rules.find(panel, "conversation:c2")["alert"]["text"] == ("Ann Berzina. Your conversation urgently "
                                                                      "needs attention.")
    rules.focus(panel, "conversation:c2")
    assert rules.find(panel, "conversation:c2")["alert"] is None


def test_closing_lists_an_unsent_draft_and_a_conversation_not_closed_yet():
    panel = panel_with("c1")
    session = rules.find(panel, "conversation:c1")
    assert rules.losses(session, conversation_state="closed") == []
    assert rules.losses(session, conversation_state="waiting") == []  # parked (persistent chat): nothing owed
    session["has_draft"] = True
    assert [loss.what for loss in rules.losses(session, conversation_state="active")] == ["draft", "conversation"]
    assert "wrap-up" in rules.losses(session, conversation_state="wrap_up")[1].detail
    case = rules.open_session(panel, "case", "k1", "Broken router", T0)
    assert rules.losses(case, conversation_state=None) == []


def test_the_sessions_frame_carries_the_panel_without_drafts():
    panel = panel_with("c1")
    frame = rules.frame(panel, T0)
    assert frame["type"] == "sessions" and frame["focused"] == "home"
    assert [s["icon"] for s in frame["sessions"]] == ["HO", "VI"]
    assert "draft" not in frame["sessions"][1]


def test_a_conference_members_session_owes_no_wrap_up():
    session = rules.find(panel_with("c1"), "conversation:c1")
    assert rules.losses(session, conversation_state="active", assigned=False) == []
