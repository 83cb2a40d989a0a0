"""Favourites' notifications (U4, G5), pure: which frames of a chat event also go to the agents who have the
conversation's customer as a favourite and do not work it (handlers.py joins chat's events with the favourites
projection, adapters/favourites.py, and runs this in the same transaction as the projection).

An observer gets what the customer sees of its conversation (the frames of `Projected.to_customer`, so never a
private note nor an offer), each marked `"favourite": true` with the customer and who works the conversation
now, on its own agent stream. An agent who gets any frame of the event already (it works the conversation, was
just removed from it, is offered it...) gets no favourite copy: no frame twice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.contracts import chat

from services.gateway.projection import Projected

Doc = dict[str, Any]

# What an observer follows: the conversation's life and its public messages (not the survey, not the queue place).
FOLLOWED = frozenset({"conversation_started", "conversation_state", "message", "read", "conversation_closed"})
_OBSERVED_EVENTS = (chat.ConversationStarted, chat.ConversationStateChanged, chat.MessagePosted, chat.MessagesRead,
                    chat.ConversationClosed)


def observed_customer(event: Any) -> str | None:
    """The customer whose favourites hear of this event, or None for an event observers do not follow."""
    if isinstance(event, chat.ConversationStarted):
        return event.customer.customer_id
    if isinstance(event, _OBSERVED_EVENTS):
        return event.customer_id
    return None


def to_favourites(out: Projected, favourites: Iterable[str], customer_id: str) -> list[tuple[str, Doc]]:
    """(agent, frame) pairs for the favourites of `customer_id` who get nothing else from this event."""
    view = out.view or {}
    busy = {agent for agent, _ in out.to_agents} | set(view.get("agents", []))
    watchers = [agent for agent in dict.fromkeys(favourites) if agent not in busy]
    frames = [{**frame, "favourite": True, "customer_id": customer_id, "customer_name": view.get("customer_name"),
               "queue_id": view.get("queue_id"), "agents": list(view.get("agents", []))}
              for frame in out.to_customer if frame["type"] in FOLLOWED and not frame.get("private")]
    return [(agent, frame) for agent in watchers for frame in frames]
