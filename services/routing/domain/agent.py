"""The agent aggregate: presence, capacity per channel, the load it holds, and its skills, with the rules
that protect them (capacity never over-reserved, RONA left only by the agent, automatic Busy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.routing.domain.errors import RoutingError
from shared.contracts.routing import events as ev

MAX_CAPACITY = 50
SKILL_LEVELS = range(1, 11)


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"
    RONA = "rona"  # redirected on no answer: set by routing, left only by the agent


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_skill_levels(skills: Mapping[str, int], code: str) -> None:
    for skill, level in skills.items():
        if not skill or not is_int(level) or level not in SKILL_LEVELS:
            raise RoutingError(code, f"skill {skill!r} needs a level 1..10, got {level!r}")


def check_capacity(capacity: Mapping[str, int]) -> None:
    for channel, limit in capacity.items():
        if not channel or not is_int(limit) or not 0 <= limit <= MAX_CAPACITY:
            raise RoutingError("invalid_config", f"capacity for {channel!r} must be 0..{MAX_CAPACITY}, got {limit!r}")


@dataclass
class Agent:
    agent_id: str
    presence: Presence = Presence.OFFLINE
    auto_busy: bool = False  # the current BUSY was set by routing, so routing may lift it
    capacity: dict[str, int] = field(default_factory=dict)  # channel -> max concurrent; missing = 0
    load: dict[str, int] = field(default_factory=dict)  # channel -> offers + assignments + conferences held
    skills: dict[str, int] = field(default_factory=dict)  # skill -> level 1..10
    last_assigned_at: datetime | None = None
    version: int = 0

    def free(self, channel: str) -> int:
        return max(0, self.capacity.get(channel, 0) - self.load.get(channel, 0))

    def can_take(self, channel: str) -> bool:
        return self.presence == Presence.AVAILABLE and self.free(channel) > 0

    def is_full_somewhere(self) -> bool:
        """True while some channel holds work up to (or, after a capacity cut, beyond) its capacity."""
        return any(held >= self.capacity.get(channel, 0) for channel, held in self.load.items() if held > 0)

    def check_can_hold(self, channel: str) -> None:
        """For work an agent starts or is handed by name: any presence but offline, and room on the channel."""
        if self.presence == Presence.OFFLINE:
            raise RoutingError("agent_unavailable", f"agent {self.agent_id} is offline")
        if self.free(channel) == 0:
            raise RoutingError("no_capacity", f"agent {self.agent_id} has no free {channel} capacity")

    def reserve(self, channel: str) -> None:
        """The one place load grows, and only into free capacity (callers check first, to refuse with their reason)."""
        if self.free(channel) == 0:
            raise RoutingError("no_capacity", f"agent {self.agent_id} has no free {channel} capacity")
        self.load[channel] = self.load.get(channel, 0) + 1

    def release(self, channel: str) -> None:
        self.load[channel] = max(0, self.load.get(channel, 0) - 1)

    def set_capacity(self, channel: str, limit: int) -> ev.CapacityChanged | None:
        """A cut below the current load takes nothing away; the agent just gets no new work until it drains."""
        check_capacity({channel: limit})
        if self.capacity.get(channel, 0) == limit:
            return None
        self.capacity[channel] = limit
        return ev.CapacityChanged(agent_id=self.agent_id, channel=channel, capacity=limit,
                                  load=self.load.get(channel, 0))

    def set_skills(self, skills: Mapping[str, int]) -> ev.AgentSkillsChanged | None:
        if dict(skills) == self.skills:
            return None
        self.skills = dict(skills)
        return ev.AgentSkillsChanged(agent_id=self.agent_id, skills=dict(skills))

    def choose_presence(self, presence: Presence) -> ev.PresenceChanged | None:
        """The agent's own change, the only way out of RONA and never into it. Choosing the current presence
        again changes nothing, except that an automatic BUSY becomes the agent's own (routing no longer lifts it)."""
        if presence == Presence.RONA:
            raise RoutingError("invalid_argument", "RONA is set by routing when an offer is not answered")
        if presence == self.presence:
            self.auto_busy = False
            return None
        return self.change_presence(presence, automatic=False, reason="set by agent")

    def change_presence(self, presence: Presence, *, automatic: bool, reason: str) -> ev.PresenceChanged:
        """Routing's changes are automatic; RONA is entered only by routing and left only by the agent."""
        if automatic and self.presence == Presence.RONA and presence != Presence.RONA:
            raise RoutingError("invalid_state", f"only agent {self.agent_id} takes themselves out of RONA")
        if not automatic and presence == Presence.RONA:
            raise RoutingError("invalid_argument", "RONA is set by routing when an offer is not answered")
        previous, self.presence = self.presence, presence
        self.auto_busy = automatic and presence == Presence.BUSY
        return ev.PresenceChanged(agent_id=self.agent_id, previous=previous, presence=presence, automatic=automatic,
                                  reason=reason)

    def goes_busy(self, channel: str, *, busy_when_at_capacity: bool) -> bool:
        """Work from a busy-when-at-capacity queue just filled the channel: the agent goes BUSY by itself."""
        return busy_when_at_capacity and self.presence == Presence.AVAILABLE and self.free(channel) == 0

    def may_lift_busy(self) -> bool:
        """An automatic BUSY ends once no channel is full; a BUSY the agent chose stays."""
        return self.auto_busy and self.presence == Presence.BUSY and not self.is_full_somewhere()
