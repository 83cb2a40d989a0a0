"""The supervisors' board rows (G5), pure: waiting time while waiting and once taken, agents' load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import board

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def conversation(state: str, agents=()) -> dict:
    return {"_id": "t1:c1", "conversation_id": "c1", "state": state, "queue_id": "q1", "customer_name": "Visitor 3",
            "agents": list(agents), "preview": "my order", "started_at": T0}


def test_a_waiting_conversation_has_waited_until_now():
    row = board.conversation_row(conversation("queued"), None, T0 + timedelta(seconds=42))
    assert (row["waiting"], row["waited_s"], row["agent_id"], row["preview"]) == (True, 42.0, None, "my order")


def test_a_taken_conversation_shows_how_long_the_customer_waited_from_the_active_view():
    view = {"summary": {"waited_s": 7.5}}
    row = board.conversation_row(conversation("active", ["a1", "a2"]), view, T0 + timedelta(minutes=5))
    assert (row["waiting"], row["waited_s"], row["agent_id"], row["agents"]) == (False, 7.5, "a1", ["a1", "a2"])
    frame = board.conversation_frame(row, T0)
    assert frame["type"] == "board_conversation" and frame["row"] == row


def test_an_agent_row_defaults_to_offline_without_status():
    assert board.agent_row("a1", None, ["q2", "q1"]) == {"agent_id": "a1", "queues": ["q1", "q2"],
                                                         "presence": "offline", "load": 0, "capacity": {}}
    row = board.agent_row("a1", {"presence": "available", "load": 1, "capacity": {"chat": 3}}, ["q1"])
    assert (row["presence"], row["load"], row["capacity"]) == ("available", 1, {"chat": 3})
