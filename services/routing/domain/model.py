"""Routing's entities and value objects: queues ("lines"), agents with presence and capacity,
and the work items (conversations) routed between them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Presence(StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"
    RONA = "rona"  # redirected on no answer: set by routing, left only by the agent


class AssignmentMethod(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    SKILLS = "skills"
    SPECIALIST_PRIORITY = "specialist_priority"


class ItemState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WAITING = "waiting"  # persistent chat parked with its agent until the customer writes again
    ENDED = "ended"


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
    version: int = 0


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


@dataclass(frozen=True)
class Offer:
    offer_id: str
    agent_id: str
    offered_at: datetime
    expires_at: datetime


@dataclass(kw_only=True)
class WorkItem:
    conversation_id: str
    channel: str = "chat"
    queue_id: str
    priority: int = 0  # higher = more urgent
    skills: dict[str, int] = field(default_factory=dict)  # required skill -> minimum level
    customer_id: str | None = None
    customer_name: str | None = None
    preview: str = ""
    # Queue order uses the time the item entered its current queue; the customer's wait
    # (shown in offers) is measured from created_at, which survives overflow.
    enqueued_at: datetime
    created_at: datetime
    state: ItemState = ItemState.QUEUED
    offer: Offer | None = None
    assigned_agent_id: str | None = None
    declines: dict[str, int] = field(default_factory=dict)  # agent -> declines + time-outs
    last_agent_id: str | None = None
    responsible_agent_id: str | None = None
    participants: set[str] = field(default_factory=set)  # conference members besides the assignee
    invites: dict[str, str] = field(default_factory=dict)  # invitee -> inviter, not yet answered
    waiting_until: datetime | None = None
    target_agent_id: str | None = None  # transfer to a named agent: offered to nobody else
    version: int = 0

    def capacity_holders(self) -> list[str]:
        """Agents whose load on this item's channel includes this item."""
        holders = [self.offer.agent_id] if self.offer else []
        if self.assigned_agent_id:
            holders.append(self.assigned_agent_id)
        return holders + sorted(self.participants)

    def has_conference(self) -> bool:
        return bool(self.participants or self.invites)


class RoutingError(Exception):
    """A command routing refuses; nothing was changed.

    Codes: unknown_queue, unknown_agent, unknown_conversation, not_member, no_capacity,
    agent_unavailable, not_offered_to_agent, offer_expired, invalid_state, invalid_config,
    invalid_argument, not_allowed."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
