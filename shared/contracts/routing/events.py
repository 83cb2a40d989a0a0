"""The events routing publishes on routing.events: everything it decided, owned by the routing service.

The routing domain emits these types directly (one definition, no mirror). Work-item events are keyed by
conversation_id, presence and capacity by agent_id, queue configuration by queue_id."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.envelope import Event
from shared.contracts.routing.common import (
    AGENT,
    CONVERSATION,
    MethodName,
    PresenceName,
)


class RoutingEvent(Event):
    KEY: ClassVar[str] = "conversation_id"


class ConversationQueued(RoutingEvent):
    """The conversation waits in a queue for an agent."""
    TYPE: ClassVar[str] = "routing.ConversationQueued"
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="Queue (line) id.")
    channel: str = Field(description="Channel of the conversation.")
    priority: int = Field(description="Higher is more urgent.")
    skills: dict[str, int] = Field(description="Skill -> level (for a conversation: required minimum level).")
    enqueued_at: datetime = Field(
        description="When the item entered this queue (queue order is by priority, then this).")


class OfferMade(RoutingEvent):
    """The conversation is offered to an agent, whose capacity it reserves until the offer ends."""
    TYPE: ClassVar[str] = "routing.OfferMade"
    conversation_id: str = CONVERSATION
    offer_id: str = Field(description="Offer id (from OfferMade).")
    agent_id: str = AGENT
    queue_id: str = Field(description="Queue (line) id.")
    channel: str = Field(description="Channel of the conversation.")
    customer_name: str | None = Field(description="Customer's name, shown in the offer.")
    preview: str = Field(description="First words of the customer's message.")
    waited_s: float = Field(description="Seconds the customer has waited so far.")
    expires_at: datetime = Field(description="When the offer times out (RONA).")


class OfferAccepted(RoutingEvent):
    """The agent accepted the offer; ConversationAssigned follows."""
    TYPE: ClassVar[str] = "routing.OfferAccepted"
    conversation_id: str = CONVERSATION
    offer_id: str = Field(description="Offer id (from OfferMade).")
    agent_id: str = AGENT


class OfferDeclined(RoutingEvent):
    """The agent declined the offer; the conversation is back in its queue."""
    TYPE: ClassVar[str] = "routing.OfferDeclined"
    conversation_id: str = CONVERSATION
    offer_id: str = Field(description="Offer id (from OfferMade).")
    agent_id: str = AGENT
    reason: str = Field(description="Why, in words (shown to agents and supervisors).")


class OfferExpired(RoutingEvent):
    """Not answered in time: the agent went to RONA and the item goes to the next agent."""
    TYPE: ClassVar[str] = "routing.OfferExpired"
    conversation_id: str = CONVERSATION
    offer_id: str = Field(description="Offer id (from OfferMade).")
    agent_id: str = AGENT


class OfferWithdrawn(RoutingEvent):
    """Routing took the offer back (agent left Available or went to RONA, or the conversation ended)."""
    TYPE: ClassVar[str] = "routing.OfferWithdrawn"
    conversation_id: str = CONVERSATION
    offer_id: str = Field(description="Offer id (from OfferMade).")
    agent_id: str = AGENT
    reason: str = Field(description="Why, in words (shown to agents and supervisors).")


class ConversationAssigned(RoutingEvent):
    """An agent now holds the conversation."""
    TYPE: ClassVar[str] = "routing.ConversationAssigned"
    conversation_id: str = CONVERSATION
    agent_id: str = AGENT
    queue_id: str = Field(description="Queue (line) id.")
    channel: str = Field(description="Channel of the conversation.")
    how: Literal["offer", "manual_take", "manual_open", "returned_from_waiting"] = Field(
        description="offer, manual_take, manual_open or returned_from_waiting.")


class ConversationTransferred(RoutingEvent):
    """The conversation was handed to another queue or agent and is being routed again."""
    TYPE: ClassVar[str] = "routing.ConversationTransferred"
    conversation_id: str = CONVERSATION
    from_agent_id: str | None = Field(description="Agent who handed the conversation over, or none (system).")
    to_queue_id: str | None = Field(description="Queue the conversation goes to, or none.")
    to_agent_id: str | None = Field(description="Agent the conversation goes to, or none.")
    reason: str = Field(description="Why, in words (shown to agents and supervisors).")


class ConversationOverflowed(RoutingEvent):
    """The conversation waited too long and moved to the queue's overflow queue."""
    TYPE: ClassVar[str] = "routing.ConversationOverflowed"
    conversation_id: str = CONVERSATION
    from_queue_id: str = Field(description="Queue the conversation left.")
    to_queue_id: str = Field(description="Queue the conversation goes to, or none.")
    waited_s: float = Field(description="Seconds the customer has waited so far.")


class ConversationWaiting(RoutingEvent):
    """Persistent chat: the conversation is parked with its agent until the customer writes again."""
    TYPE: ClassVar[str] = "routing.ConversationWaiting"
    conversation_id: str = CONVERSATION
    agent_id: str = AGENT
    waiting_until: datetime = Field(description="The agent keeps the conversation until then; after that it ends.")


class ConversationEnded(RoutingEvent):
    """The conversation left routing; whoever held it is free again."""
    TYPE: ClassVar[str] = "routing.ConversationEnded"
    conversation_id: str = CONVERSATION
    reason: str = Field(description="Why, in words (shown to agents and supervisors).")


class ConferenceInviteSent(RoutingEvent):
    """An agent was invited into the conversation."""
    TYPE: ClassVar[str] = "routing.ConferenceInviteSent"
    conversation_id: str = CONVERSATION
    inviter_id: str = Field(description="Agent who sent the invitation (the assignee).")
    invitee_id: str = Field(description="Agent invited to the conference.")


class ConferenceInviteAccepted(RoutingEvent):
    """The invitee joined the conversation."""
    TYPE: ClassVar[str] = "routing.ConferenceInviteAccepted"
    conversation_id: str = CONVERSATION
    invitee_id: str = Field(description="Agent invited to the conference.")


class ConferenceInviteDeclined(RoutingEvent):
    """The invitee declined the invitation."""
    TYPE: ClassVar[str] = "routing.ConferenceInviteDeclined"
    conversation_id: str = CONVERSATION
    invitee_id: str = Field(description="Agent invited to the conference.")


class ConferenceLeft(RoutingEvent):
    """A participant left the conference."""
    TYPE: ClassVar[str] = "routing.ConferenceLeft"
    conversation_id: str = CONVERSATION
    agent_id: str = AGENT


class ConferenceEnded(RoutingEvent):
    """Every participant and pending invitation was removed."""
    TYPE: ClassVar[str] = "routing.ConferenceEnded"
    conversation_id: str = CONVERSATION


class ConversationSkillsChanged(RoutingEvent):
    """The skills the conversation requires changed."""
    TYPE: ClassVar[str] = "routing.ConversationSkillsChanged"
    conversation_id: str = CONVERSATION
    skills: dict[str, int] = Field(description="Skill -> level (for a conversation: required minimum level).")
    by_agent_id: str | None = Field(description="Agent who changed the skills, or none (system).")


class PresenceChanged(RoutingEvent):
    """An agent's presence changed, by the agent or by routing (capacity, RONA)."""
    TYPE: ClassVar[str] = "routing.PresenceChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = AGENT
    previous: PresenceName = Field(description="Presence before this change.")
    presence: PresenceName = Field(description="The agent's presence.")
    automatic: bool = Field(description="Set by routing (work started/ended, RONA), not by the agent.")
    reason: str = Field(description="Why, in words (shown to agents and supervisors).")


class CapacityChanged(RoutingEvent):
    """An agent's capacity on a channel changed."""
    TYPE: ClassVar[str] = "routing.CapacityChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = AGENT
    channel: str = Field(description="Channel of the conversation.")
    capacity: int = Field(description="Channel -> how many conversations the agent may hold at once.")
    load: int = Field(description="Offers, assignments and conferences the agent holds on this channel.")


class AgentSkillsChanged(RoutingEvent):
    """An agent's skills were replaced."""
    TYPE: ClassVar[str] = "routing.AgentSkillsChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = AGENT
    skills: dict[str, int] = Field(description="Skill -> level (for a conversation: required minimum level).")


class QueueConfigured(RoutingEvent):
    """A queue was created or its configuration replaced (the whole configuration)."""
    TYPE: ClassVar[str] = "routing.QueueConfigured"
    KEY: ClassVar[str] = "queue_id"
    queue_id: str = Field(description="Queue (line) id.")
    name: str = Field(description="Display name of the queue.")
    level: int = Field(description="1 = first line, 2 = second line.")
    method: MethodName = Field(
        description="How the queue picks an agent: round_robin, least_loaded, skills or specialist_priority.")
    members: dict[str, int] = Field(description="Agent id -> member priority (1 = highest).")
    offer_timeout_s: int = Field(description="Seconds an agent has to accept an offer before RONA.")
    max_declines: int = Field(
        description="Declines or time-outs after which an item is no longer offered to that agent.")
    overflow_queue_id: str | None = Field(
        description="Queue that takes items waiting longer than max_wait_s; none = no overflow.")
    max_wait_s: int | None = Field(description="Wait in seconds after which a queued item overflows; none = never.")
    second_level_queue_id: str | None = Field(description="Where escalation sends a conversation.")
    prefer_responsible_agent: bool = Field(
        description="Offer first to the customer's responsible agent when that agent can take it.")
    prefer_last_agent: bool = Field(
        description="Offer first to the agent who last served the customer when that agent can take it.")
    busy_when_at_capacity: bool = Field(
        description="Agent goes Busy by itself when this queue's work fills a channel.")
    allow_agent_skill_edit: bool = Field(description="Agents may change a conversation's required skills.")
    persistent_waiting_days: int = Field(description="How long a conversation closed to waiting keeps its agent.")


class QueuePositionChanged(RoutingEvent):
    """A waiting conversation's place in its queue or its estimated wait changed (published for each waiting
    conversation of a queue whose place changed, in the transaction that changed it)."""
    TYPE: ClassVar[str] = "routing.QueuePositionChanged"
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="Queue (line) id.")
    position: int = Field(ge=1, description="Place among the conversations waiting for an agent in this queue "
                                            "(queued or being offered), 1 = next, in queue order.",
                          examples=[3])
    estimated_wait_s: int | None = Field(
        description="Estimated seconds until an agent takes it (0: being offered, or an agent is free); none when "
                    "it cannot be estimated (no agent of the queue online, or no recent assignment to learn from).",
        examples=[120])


class QueueRemoved(RoutingEvent):
    """A queue was removed."""
    TYPE: ClassVar[str] = "routing.QueueRemoved"
    KEY: ClassVar[str] = "queue_id"
    queue_id: str = Field(description="Queue (line) id.")


EVENTS: tuple[type[RoutingEvent], ...] = tuple(RoutingEvent.__subclasses__())
