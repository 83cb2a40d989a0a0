"""Use cases that set routing up: queues and their members (R1, R6, R10), agents' capacity, skills and
presence (R2, R3)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from services.routing.domain.agent import Agent, Presence, check_capacity, check_skill_levels
from services.routing.domain.core import RouterCore
from services.routing.domain.errors import RoutingError
from services.routing.domain.queue import QueueConfig
from services.routing.domain.work_item import ACTIVE_STATES
from shared.contracts.routing import events as ev


class SetupUseCases(RouterCore):
    # --- queues (R1, R6, R10) ---------------------------------------------------------------------

    def configure_queue(self, config: QueueConfig) -> list[ev.RoutingEvent]:
        config = config.validated(self.queues)
        self.queues[config.queue_id] = config
        self.changed_queues.add(config.queue_id)
        self.removed_queues.discard(config.queue_id)
        self._emit(config.configured())
        self._dispatch_later(config.queue_id)
        return self._finish()

    def change_queue_members(self, queue_id: str, add: Mapping[str, int],
                             remove: Iterable[str]) -> list[ev.RoutingEvent]:
        """Add members (or change their priority) and remove others; the rest of the queue stays as it is."""
        queue = self._queue(queue_id)
        removed = set(remove)
        if both := sorted(removed & add.keys()):
            raise RoutingError("invalid_config", f"agents both added and removed: {', '.join(both)}")
        members = {agent: priority for agent, priority in queue.members.items() if agent not in removed}
        return self.configure_queue(replace(queue, members={**members, **add}))

    def remove_queue(self, queue_id: str) -> list[ev.RoutingEvent]:
        self._queue(queue_id)
        if any(item.queue_id == queue_id and item.state in ACTIVE_STATES for item in self.items.values()):
            raise RoutingError("invalid_state", f"queue {queue_id} still has queued, offered or assigned work")
        referrers = sorted(other.queue_id for other in self.queues.values()
                           if queue_id in (other.overflow_queue_id, other.second_level_queue_id)
                           and other.queue_id != queue_id)
        if referrers:
            raise RoutingError("invalid_config",
                               f"queue {queue_id} is the overflow or second line of {', '.join(referrers)}")
        del self.queues[queue_id]
        self.changed_queues.discard(queue_id)
        self.removed_queues.add(queue_id)
        self._emit(ev.QueueRemoved(queue_id=queue_id))
        return self._finish()

    # --- agents (R2, R3) --------------------------------------------------------------------------

    def configure_agent(self, agent_id: str, capacity: Mapping[str, int] | None = None,
                        skills: Mapping[str, int] | None = None) -> list[ev.RoutingEvent]:
        """Create the agent (offline) if new; set the listed channels' capacity and/or replace the skills."""
        if not agent_id:
            raise RoutingError("invalid_argument", "agent id is empty")
        check_capacity(capacity or {})
        if skills is not None:
            check_skill_levels(skills, code="invalid_config")
        agent = self.agents.get(agent_id)
        if agent is None:
            agent = self.agents[agent_id] = Agent(agent_id)
            self.changed_agents.add(agent_id)
        for channel, limit in sorted((capacity or {}).items()):
            raised = limit > agent.capacity.get(channel, 0)
            if (changed := agent.set_capacity(channel, limit)) is not None:
                self.changed_agents.add(agent_id)
                self._emit(changed)
                if raised:
                    self._dispatch_later_for(agent)
        if skills is not None and (changed_skills := agent.set_skills(skills)) is not None:
            self.changed_agents.add(agent_id)
            self._emit(changed_skills)
        self._lift_auto_busy(agent)
        return self._finish()

    def configure_agents(self, agents: Mapping[str, tuple[Mapping[str, int] | None, Mapping[str, int] | None]]
                         ) -> list[ev.RoutingEvent]:
        """configure_agent for each agent id -> (capacity, skills), in id order; all or nothing."""
        events: list[ev.RoutingEvent] = []
        for agent_id in sorted(agents):
            capacity, skills = agents[agent_id]
            events += self.configure_agent(agent_id, capacity=capacity, skills=skills)
        return events

    def set_presence(self, agent_id: str, presence: Presence | str) -> list[ev.RoutingEvent]:
        """The agent's own presence change; the only way out of RONA."""
        agent = self._agent(agent_id)
        try:
            presence = Presence(presence)
        except ValueError:
            raise RoutingError("invalid_argument", f"unknown presence {presence!r}") from None
        was_auto_busy = agent.auto_busy
        changed = agent.choose_presence(presence)
        if changed is None:
            if was_auto_busy:  # the same BUSY, now the agent's own
                self.changed_agents.add(agent_id)
            return self._finish()
        self._presence_changed(agent, changed)
        if presence != Presence.AVAILABLE:
            self._withdraw_offers_to(agent_id, reason=f"agent is {presence}")
        return self._finish()
