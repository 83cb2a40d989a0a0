"""Which agent a queued work item goes to: eligibility, preferences and the per-queue
assignment methods (R4, R10), as deterministic pure functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction

from services.routing.domain.model import Agent, AssignmentMethod, QueueConfig, WorkItem

_NEVER_ASSIGNED = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Choice:
    agent_id: str
    rule: str  # "responsible_agent", "last_agent" or the AssignmentMethod that picked the agent


def choose_agent(item: WorkItem, queue: QueueConfig, agents: Mapping[str, Agent]) -> str | None:
    """The agent the item should be offered to next, or None when nobody eligible is free."""
    choice = pick_agent(item, queue, agents)
    return choice.agent_id if choice else None


def pick_agent(item: WorkItem, queue: QueueConfig, agents: Mapping[str, Agent]) -> Choice | None:
    """Like choose_agent, and also says which rule decided (round robin moves its cursor only then)."""
    candidates = eligible_agents(item, queue, agents)
    if not candidates:
        return None
    # "Goes to the next agent" (R5): someone who has not yet turned this item down comes first;
    # agents who declined it only get it back when nobody else can take it.
    fewest = min(item.declines.get(agent_id, 0) for agent_id in candidates)
    candidates = [agent_id for agent_id in candidates if item.declines.get(agent_id, 0) == fewest]

    if queue.prefer_responsible_agent and item.responsible_agent_id in candidates:
        return Choice(item.responsible_agent_id, "responsible_agent")
    if queue.prefer_last_agent and item.last_agent_id in candidates:
        return Choice(item.last_agent_id, "last_agent")
    pool = [agents[agent_id] for agent_id in candidates]
    return Choice(_METHODS[queue.method](item, queue, pool), queue.method)


def eligible_agents(item: WorkItem, queue: QueueConfig, agents: Mapping[str, Agent]) -> list[str]:
    """Agents that may be offered the item now, by id; a named transfer target needs no membership."""
    candidates = [item.target_agent_id] if item.target_agent_id else queue.members
    return sorted(
        agent_id
        for agent_id in candidates
        if agent_id in agents
        and agents[agent_id].can_take(item.channel)
        and item.declines.get(agent_id, 0) < queue.max_declines
    )


def least_loaded_order(channel: str) -> Callable[[Agent], tuple]:
    """Most free capacity first, then longest idle (never assigned counts as idle forever), then id."""

    def key(agent: Agent) -> tuple:
        idle_since = agent.last_assigned_at
        return (-agent.free(channel), idle_since is not None, idle_since or _NEVER_ASSIGNED, agent.agent_id)

    return key


def round_robin(item: WorkItem, queue: QueueConfig, pool: list[Agent]) -> str:
    ids = sorted(agent.agent_id for agent in pool)
    if queue.rr_cursor is None:
        return ids[0]
    return next((agent_id for agent_id in ids if agent_id > queue.rr_cursor), ids[0])


def least_loaded(item: WorkItem, queue: QueueConfig, pool: list[Agent]) -> str:
    return min(pool, key=least_loaded_order(item.channel)).agent_id


def best_skill_match(item: WorkItem, queue: QueueConfig, pool: list[Agent]) -> str:
    exact = [agent for agent in pool if has_skills(agent, item.skills)]
    if exact:
        return least_loaded(item, queue, exact)
    by_load = least_loaded_order(item.channel)
    return min(pool, key=lambda agent: (-skill_score(agent, item.skills), by_load(agent))).agent_id


def has_skills(agent: Agent, required: Mapping[str, int]) -> bool:
    return all(agent.skills.get(skill, 0) >= level for skill, level in required.items())


def skill_score(agent: Agent, required: Mapping[str, int]) -> Fraction:
    """How close the agent comes to the required levels: each skill adds up to 1 (exact, so ties stay ties)."""
    return sum(
        (Fraction(min(agent.skills.get(skill, 0), level), max(level, 1)) for skill, level in required.items()),
        Fraction(0),
    )


def by_specialist_priority(item: WorkItem, queue: QueueConfig, pool: list[Agent]) -> str:
    by_load = least_loaded_order(item.channel)
    # A named transfer target may not be a member; it is then the only candidate anyway.
    return min(pool, key=lambda agent: (queue.members.get(agent.agent_id, 0), by_load(agent))).agent_id


_METHODS: dict[AssignmentMethod, Callable[[WorkItem, QueueConfig, list[Agent]], str]] = {
    AssignmentMethod.ROUND_ROBIN: round_robin,
    AssignmentMethod.LEAST_LOADED: least_loaded,
    AssignmentMethod.SKILLS: best_skill_match,
    AssignmentMethod.SPECIALIST_PRIORITY: by_specialist_priority,
}
