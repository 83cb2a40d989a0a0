"""The Router: every routing use case (R1-R11) as orchestration over the aggregates it is given (queues,
agents and work items held in memory), returning the events it caused.

The rules live on the aggregates (queue.py, agent.py, work_item.py). The use cases are grouped by
concern in *_cases.py, over core.py, which holds what they share (lookups, capacity and presence across
agents and items, dispatch, and the record of changes and events)."""

from __future__ import annotations

from services.routing.domain.conference_cases import ConferenceUseCases
from services.routing.domain.core import RouterCore
from services.routing.domain.setup_cases import SetupUseCases
from services.routing.domain.timer_cases import TimerUseCases
from services.routing.domain.work_cases import WorkUseCases


class Router(SetupUseCases, WorkUseCases, ConferenceUseCases, TimerUseCases, RouterCore):
    """Applies routing use cases to the entities it is given, mutating them in place.

    Every public method either returns the events it caused, in order, or raises RoutingError
    having changed nothing (it validates before it mutates). The ids of the entities it changed
    are collected in changed_agents, changed_items, changed_queues and removed_queues so the
    caller knows what to save.
    """
