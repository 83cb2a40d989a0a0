"""The supervisors' live board (G5), pure: rows of their queues' conversations and agents, as the board read
(api_supervisor.py) answers them and as `board_conversation` / `board_agent` frames carry them when they change.
The rows are built from the gateway's own projections (the conversations of the work lists, the active view's
waiting time, agents' presence and capacity from routing's PresenceChanged and CapacityChanged, their load
counted from the conversations they hold or are offered)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

Doc = dict[str, Any]
WAITING = frozenset({"requested", "queued", "offered"})


def conversation_row(conversation: Doc, view: Doc | None, now: datetime) -> Doc:
    """A conversation of a supervised queue: state, customer, agent, waiting time, preview. `waited_s` is how
    long the customer waited for an agent (still waiting: until `now`)."""
    started = conversation.get("started_at")
    summary = (view or {}).get("summary") or {}
    if conversation["state"] in WAITING:
        waited = max(0.0, (now - started).total_seconds()) if started else None
    else:
        waited = summary.get("waited_s")
    agents = conversation.get("agents", [])
    return {"conversation_id": conversation["conversation_id"], "state": conversation["state"],
            "queue_id": conversation.get("queue_id"), "customer_name": conversation.get("customer_name"),
            "agent_id": agents[0] if agents else None, "agents": list(agents),
            "waiting": conversation["state"] in WAITING, "waited_s": waited,
            "preview": conversation.get("preview", ""), "started_at": _iso(started)}


def agent_row(agent_id: str, status: Doc | None, queues: list[str]) -> Doc:
    """An agent of a supervised queue: presence, load (conversations offered to it or held, from the gateway's
    projection: routing publishes capacity, not load) and capacity per channel."""
    status = status or {}
    return {"agent_id": agent_id, "queues": sorted(queues), "presence": status.get("presence", "offline"),
            "load": status.get("load", 0), "capacity": dict(sorted((status.get("capacity") or {}).items()))}


def conversation_frame(row: Doc, at: datetime) -> Doc:
    return {"type": "board_conversation", "conversation_id": row["conversation_id"], "at": at.isoformat(),
            "row": row}


def agent_frame(row: Doc, at: datetime) -> Doc:
    return {"type": "board_agent", "conversation_id": None, "at": at.isoformat(), "row": row}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
