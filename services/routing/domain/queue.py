"""The queue ("line") aggregate: its members and how it hands out work, with the rules a configuration
must satisfy (valid method, levels, priorities, time limits, and references to queues that exist)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from services.routing.domain.agent import is_int
from services.routing.domain.errors import RoutingError
from services.routing.domain.waiting import remember_assignment
from services.routing.domain.work_item import ItemState, WorkItem
from shared.contracts.routing import events as ev


class AssignmentMethod(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    SKILLS = "skills"
    SPECIALIST_PRIORITY = "specialist_priority"


@dataclass
class QueueConfig:
    queue_id: str
    name: str
    level: int = 1  # 1 = first line, 2 = second line
    method: AssignmentMethod = AssignmentMethod.ROUND_ROBIN
    members: dict[str, int] = field(default_factory=dict)  # agent id -> priority, 1 = highest
    offer_timeout_s: int = 30
    max_declines: int = 2  # declines + time-outs of one item by one agent before it skips that agent
    overflow_queue_id: str | None = None
    max_wait_s: int | None = None  # overflow after this wait, only with overflow_queue_id
    second_level_queue_id: str | None = None  # where escalate sends a conversation
    prefer_responsible_agent: bool = True
    prefer_last_agent: bool = True
    busy_when_at_capacity: bool = True
    allow_agent_skill_edit: bool = True
    persistent_waiting_days: int = 28
    rr_cursor: str | None = None  # last agent chosen by round robin
    recent_assignments: list[datetime] = field(default_factory=list)  # oldest first, for estimated waits
    version: int = 0

    def validated(self, existing: Mapping[str, QueueConfig]) -> QueueConfig:
        """A checked copy (the caller's object and dicts never alias routing's state), or the first rule broken.
        Replacing a queue keeps routing's own state: the round-robin position, the recent assignments and the
        stored version."""
        def invalid(reason: str) -> RoutingError:
            return RoutingError("invalid_config", f"queue {self.queue_id}: {reason}")

        if not self.queue_id:
            raise RoutingError("invalid_config", "queue id is empty")
        try:
            method = AssignmentMethod(self.method)
        except ValueError:
            raise invalid(f"unknown assignment method {self.method!r}") from None
        if self.level not in (1, 2):
            raise invalid("level must be 1 (first line) or 2 (second line)")
        if any(not is_int(priority) or priority < 1 for priority in self.members.values()):
            raise invalid("member priorities must be 1 or more")
        if self.offer_timeout_s <= 0 or self.persistent_waiting_days <= 0:
            raise invalid("offer timeout and waiting period must be positive")
        if self.max_declines < 1:
            raise invalid("max_declines must be 1 or more")
        if self.max_wait_s is not None and self.max_wait_s <= 0:
            raise invalid("max_wait_s must be positive")
        for role, target in (("overflow", self.overflow_queue_id), ("second-level", self.second_level_queue_id)):
            if target == self.queue_id:
                raise invalid(f"the {role} queue cannot be the queue itself")
            if target is not None and target not in existing:
                raise invalid(f"{role} queue {target} does not exist")
        config = replace(self, method=method, members=dict(self.members),
                         recent_assignments=list(self.recent_assignments))
        if (previous := existing.get(self.queue_id)) is not None:
            config = replace(config, rr_cursor=previous.rr_cursor, version=previous.version,
                             recent_assignments=list(previous.recent_assignments))
        return config

    def record_assignment(self, at: datetime) -> None:
        """A conversation left this queue's line for an agent: remembered for estimated waits (waiting.py)."""
        self.recent_assignments = remember_assignment(self.recent_assignments, at)

    def check_member(self, agent_id: str) -> None:
        if agent_id not in self.members:
            raise RoutingError("not_member", f"agent {agent_id} is not a member of queue {self.queue_id}")

    def overflow_at(self, item: WorkItem) -> datetime | None:
        """When a queued item of this queue overflows, if this queue overflows at all."""
        if item.state != ItemState.QUEUED or self.overflow_queue_id is None or self.max_wait_s is None:
            return None
        return item.overflow_deadline(self.max_wait_s)

    def configured(self) -> ev.QueueConfigured:
        settings = {name: getattr(self, name) for name in ev.QueueConfigured.model_fields}
        return ev.QueueConfigured(**{**settings, "members": dict(self.members)})
