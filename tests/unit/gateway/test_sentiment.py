"""C5 in the gateway, pure: chat.SentimentAssessed sets the summary's `sentiment` on the active-conversation view
(a later message's assessment wins, an older one redelivered changes nothing, a closed conversation's tombstone
takes nothing) and makes a `sentiment` frame for the conversation's agents."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.gateway import active_view as av
from services.gateway.projection import project
from shared.contracts import chat
from tests.unit.gateway.test_active_view import T0, env, run, started, state

pytestmark = pytest.mark.unit


def assessed(seq: int, level: str = "negative", alert: bool = True, agents=("a1",)):
    return env(chat.SentimentAssessed(conversation_id="c1", message_id=f"m{seq}", seq=seq, message_level=level,
                                      message_score=-0.7, conversation_level=level, threshold="slightly_negative",
                                      alert=alert, queue_id="q1", agents=list(agents),
                                      at=T0 + timedelta(seconds=seq)))


def test_the_summary_shows_the_conversations_latest_level():
    view = run(started(), state("active"), assessed(2, "neutral", alert=False), assessed(3, "negative"))
    shown = av.public(view)["summary"]["sentiment"]
    assert shown["level"] == "negative" and shown["alert"] is True and shown["seq"] == 3


def test_an_older_assessment_arriving_again_changes_nothing():
    view = run(started(), state("active"), assessed(3, "negative"))
    assert av.apply(view, assessed(2, "neutral", alert=False)).view is None
    assert av.public(view)["summary"]["sentiment"]["level"] == "negative"


def test_a_new_view_has_no_sentiment_yet_and_a_closed_one_takes_none():
    view = run(started(), state("active"))
    assert av.public(view)["summary"]["sentiment"] is None
    closed = run(started(), env(chat.ConversationClosed(
        conversation_id="c1", queue_id="q1", customer_id="v-1", agent_id="a1", ended_by="agent",
        wrap_up_reason=None, messages=1, started_at=T0, closed_at=T0)))
    assert av.apply(closed, assessed(2)).view is None


def test_the_change_is_a_summary_frame_and_a_sentiment_frame_for_the_agents_working_it_now():
    view = run(started(), state("active", agents=("a1", "a2")))
    change = av.apply(view, assessed(2))
    assert change.sections == ["summary"]
    view_frames = av.frames(change.view, change.sections, assessed(2))
    assert {agent for agent, _ in view_frames} == {"a1", "a2"}
    assert json.loads(json.dumps([f for _, f in view_frames]))[0]["data"]["sentiment"]["at"].startswith("2026-")
    conversation = {"agents": ["a2"], "state": "active"}  # the gateway's conversation projection: a2 has it now
    out = project(assessed(2, agents=("a1",)), conversation, [])
    assert out.view is None
    ((agent, frame),) = out.to_agents
    assert agent == "a2" and frame["type"] == "sentiment" and frame["level"] == "negative" and frame["alert"]
    assert frame["conversation_id"] == "c1" and frame["threshold"] == "slightly_negative"
    json.dumps(frame)  # frames are JSON
