"""Routing's aggregates, each in its own module with the rules that protect it, importable from one place:
queues ("lines", queue.py), agents with presence and capacity (agent.py), and the work items
(conversations) routed between them (work_item.py)."""

from services.routing.domain.agent import Agent, Presence
from services.routing.domain.errors import RoutingError
from services.routing.domain.queue import AssignmentMethod, QueueConfig
from services.routing.domain.work_item import ACTIVE_STATES, ItemState, Offer, WorkItem

__all__ = ["ACTIVE_STATES", "Agent", "AssignmentMethod", "ItemState", "Offer", "Presence", "QueueConfig",
           "RoutingError", "WorkItem"]
