"""What routing decided, as past-tense domain events; the field names match the published
contracts in shared/contracts/routing.py so the adapter can translate them one to one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.routing.domain.model import AssignmentMethod, Presence, QueueConfig


@dataclass(frozen=True)
class DomainEvent:
    pass


# --- conversation events (keyed by conversation_id) ---------------------------------------------

@dataclass(frozen=True)
class ConversationQueued(DomainEvent):
    conversation_id: str
    queue_id: str
    channel: str
    priority: int
    skills: Mapping[str, int]
    enqueued_at: datetime


@dataclass(frozen=True)
class OfferMade(DomainEvent):
    conversation_id: str
    offer_id: str
    agent_id: str
    queue_id: str
    channel: str
    customer_name: str | None
    preview: str
    waited_s: float
    expires_at: datetime


@dataclass(frozen=True)
class OfferAccepted(DomainEvent):
    conversation_id: str
    offer_id: str
    agent_id: str


@dataclass(frozen=True)
class OfferDeclined(DomainEvent):
    conversation_id: str
    offer_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True)
class OfferExpired(DomainEvent):
    conversation_id: str
    offer_id: str
    agent_id: str


@dataclass(frozen=True)
class OfferWithdrawn(DomainEvent):
    conversation_id: str
    offer_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True)
class ConversationAssigned(DomainEvent):
    conversation_id: str
    agent_id: str
    queue_id: str
    channel: str
    how: str  # "offer" | "manual_take" | "manual_open" | "returned_from_waiting"


@dataclass(frozen=True)
class ConversationTransferred(DomainEvent):
    conversation_id: str
    from_agent_id: str | None
    to_queue_id: str | None
    to_agent_id: str | None
    reason: str


@dataclass(frozen=True)
class ConversationOverflowed(DomainEvent):
    conversation_id: str
    from_queue_id: str
    to_queue_id: str
    waited_s: float


@dataclass(frozen=True)
class ConversationWaiting(DomainEvent):
    conversation_id: str
    agent_id: str
    waiting_until: datetime


@dataclass(frozen=True)
class ConversationEnded(DomainEvent):
    conversation_id: str
    reason: str


@dataclass(frozen=True)
class ConferenceInviteSent(DomainEvent):
    conversation_id: str
    inviter_id: str
    invitee_id: str


@dataclass(frozen=True)
class ConferenceInviteAccepted(DomainEvent):
    conversation_id: str
    invitee_id: str


@dataclass(frozen=True)
class ConferenceInviteDeclined(DomainEvent):
    conversation_id: str
    invitee_id: str


@dataclass(frozen=True)
class ConferenceLeft(DomainEvent):
    conversation_id: str
    agent_id: str


@dataclass(frozen=True)
class ConferenceEnded(DomainEvent):
    conversation_id: str


@dataclass(frozen=True)
class ConversationSkillsChanged(DomainEvent):
    conversation_id: str
    skills: Mapping[str, int]
    by_agent_id: str | None


# --- agent events (keyed by agent_id) -------------------------------------------------------------

@dataclass(frozen=True)
class PresenceChanged(DomainEvent):
    agent_id: str
    previous: Presence
    presence: Presence
    automatic: bool
    reason: str


@dataclass(frozen=True)
class CapacityChanged(DomainEvent):
    agent_id: str
    channel: str
    capacity: int
    load: int


@dataclass(frozen=True)
class AgentSkillsChanged(DomainEvent):
    agent_id: str
    skills: Mapping[str, int]


# --- queue events (keyed by queue_id) -------------------------------------------------------------

@dataclass(frozen=True)
class QueueConfigured(DomainEvent):
    queue_id: str
    name: str
    level: int
    method: AssignmentMethod
    members: Mapping[str, int]
    offer_timeout_s: int
    max_declines: int
    overflow_queue_id: str | None
    max_wait_s: int | None
    second_level_queue_id: str | None
    prefer_responsible_agent: bool
    prefer_last_agent: bool
    busy_when_at_capacity: bool
    allow_agent_skill_edit: bool
    persistent_waiting_days: int

    @classmethod
    def of(cls, queue: QueueConfig) -> QueueConfigured:
        return cls(
            queue_id=queue.queue_id,
            name=queue.name,
            level=queue.level,
            method=queue.method,
            members=dict(queue.members),
            offer_timeout_s=queue.offer_timeout_s,
            max_declines=queue.max_declines,
            overflow_queue_id=queue.overflow_queue_id,
            max_wait_s=queue.max_wait_s,
            second_level_queue_id=queue.second_level_queue_id,
            prefer_responsible_agent=queue.prefer_responsible_agent,
            prefer_last_agent=queue.prefer_last_agent,
            busy_when_at_capacity=queue.busy_when_at_capacity,
            allow_agent_skill_edit=queue.allow_agent_skill_edit,
            persistent_waiting_days=queue.persistent_waiting_days,
        )


@dataclass(frozen=True)
class QueueRemoved(DomainEvent):
    queue_id: str
