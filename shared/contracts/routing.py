"""Routing's contract: the commands it accepts on routing.commands and the events it publishes on routing.events.

Only the routing service changes this module. Conversation messages are keyed by conversation_id,
agent messages by agent_id and queue configuration by queue_id, so each one's history stays in order."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.envelope import Command, Event, Identifier

PresenceName = Literal["available", "busy", "away", "offline", "rona"]
MethodName = Literal["round_robin", "least_loaded", "skills", "specialist_priority"]

_conv = Field(description="Conversation (work item) id.", examples=["conv-42"])
_agent = Field(description="Agent id.", examples=["agent-7"])


class RoutingCommand(Command):
    KEY: ClassVar[str] = "conversation_id"


# --- configuration (R1, R3, R4, R10) -------------------------------------------------------------

class ConfigureQueue(RoutingCommand):
    """Create or replace a queue ("line") and its members."""
    TYPE: ClassVar[str] = "routing.ConfigureQueue"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier = Field(examples=["support-l1"])
    name: str = Field(examples=["First line support"])
    level: Literal[1, 2] = Field(1, description="1 = first line, 2 = second line.")
    method: MethodName = "round_robin"
    members: dict[Identifier, int] = Field(default_factory=dict, description="agent id -> member priority (1 = highest).",
                                    examples=[{"agent-7": 1, "agent-8": 2}])
    offer_timeout_s: int = Field(30, description="Seconds an agent has to accept an offer before RONA.")
    max_declines: int = Field(2, description="Declines or time-outs after which an item is no longer offered to that agent.")
    overflow_queue_id: Identifier | None = None
    max_wait_s: int | None = Field(None, description="Wait after which a queued item overflows.")
    second_level_queue_id: Identifier | None = Field(None, description="Where escalation sends a conversation.")
    prefer_responsible_agent: bool = True
    prefer_last_agent: bool = True
    busy_when_at_capacity: bool = Field(True, description="Agent goes Busy by itself when this queue's work fills a channel.")
    allow_agent_skill_edit: bool = True
    persistent_waiting_days: int = Field(28, description="How long a conversation closed to waiting keeps its agent.")


class RemoveQueue(RoutingCommand):
    TYPE: ClassVar[str] = "routing.RemoveQueue"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier


class ConfigureAgent(RoutingCommand):
    """Set an agent's capacity per channel and/or skills (omitted = unchanged)."""
    TYPE: ClassVar[str] = "routing.ConfigureAgent"
    KEY: ClassVar[str] = "agent_id"
    agent_id: Identifier = _agent
    capacity: dict[Identifier, int] | None = Field(None, examples=[{"chat": 5, "voice": 1}])
    skills: dict[Identifier, int] | None = Field(None, description="skill -> level 1..10", examples=[{"billing": 7}])


class SetPresence(RoutingCommand):
    TYPE: ClassVar[str] = "routing.SetPresence"
    KEY: ClassVar[str] = "agent_id"
    agent_id: Identifier = _agent
    presence: Literal["available", "busy", "away", "offline"]


# --- work items (R5-R11) --------------------------------------------------------------------------

class RouteConversation(RoutingCommand):
    """Queue a conversation for an agent (or return a waiting persistent chat to its agent)."""
    TYPE: ClassVar[str] = "routing.RouteConversation"
    conversation_id: Identifier = _conv
    queue_id: Identifier
    channel: Identifier = Field("chat", examples=["chat", "voice", "email"])
    priority: int = Field(0, description="Higher is more urgent.")
    skills: dict[Identifier, int] = Field(default_factory=dict, description="Required skill -> minimum level.")
    customer_id: Identifier | None = None
    customer_name: str | None = None
    preview: str = Field("", description="First words of the customer's message, shown in the offer.")
    last_agent_id: Identifier | None = None
    responsible_agent_id: Identifier | None = None


class AcceptOffer(RoutingCommand):
    TYPE: ClassVar[str] = "routing.AcceptOffer"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent
    offer_id: Identifier


class DeclineOffer(RoutingCommand):
    TYPE: ClassVar[str] = "routing.DeclineOffer"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent
    offer_id: Identifier
    reason: str = ""


class TakeConversation(RoutingCommand):
    """Manual take of an open (queued) work item."""
    TYPE: ClassVar[str] = "routing.TakeConversation"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class OpenConversation(RoutingCommand):
    """Manual start: the agent opens a work item by hand."""
    TYPE: ClassVar[str] = "routing.OpenConversation"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent
    queue_id: Identifier
    channel: Identifier = "chat"
    customer_id: Identifier | None = None
    customer_name: str | None = None


class TransferConversation(RoutingCommand):
    TYPE: ClassVar[str] = "routing.TransferConversation"
    conversation_id: Identifier = _conv
    agent_id: Identifier = Field(description="Agent handing the conversation over.")
    to_queue_id: Identifier | None = None
    to_agent_id: Identifier | None = None
    reason: str = ""


class EscalateConversation(RoutingCommand):
    """Transfer to the queue's second-line queue."""
    TYPE: ClassVar[str] = "routing.EscalateConversation"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent
    reason: str = ""


class InviteToConference(RoutingCommand):
    TYPE: ClassVar[str] = "routing.InviteToConference"
    conversation_id: Identifier = _conv
    agent_id: Identifier = Field(description="Inviting agent (the assignee).")
    invitee_id: Identifier


class AcceptConferenceInvite(RoutingCommand):
    TYPE: ClassVar[str] = "routing.AcceptConferenceInvite"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class DeclineConferenceInvite(RoutingCommand):
    TYPE: ClassVar[str] = "routing.DeclineConferenceInvite"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class LeaveConference(RoutingCommand):
    TYPE: ClassVar[str] = "routing.LeaveConference"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class EndConference(RoutingCommand):
    TYPE: ClassVar[str] = "routing.EndConference"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class CloseToWaiting(RoutingCommand):
    """Persistent chat: park the conversation with its agent instead of ending it."""
    TYPE: ClassVar[str] = "routing.CloseToWaiting"
    conversation_id: Identifier = _conv
    agent_id: Identifier = _agent


class EndConversation(RoutingCommand):
    TYPE: ClassVar[str] = "routing.EndConversation"
    conversation_id: Identifier = _conv
    reason: str = ""


class ChangeConversationSkills(RoutingCommand):
    TYPE: ClassVar[str] = "routing.ChangeConversationSkills"
    conversation_id: Identifier = _conv
    agent_id: Identifier | None = Field(None, description="Agent making the change; none for the system.")
    add: dict[Identifier, int] = Field(default_factory=dict)
    remove: list[str] = Field(default_factory=list)


# --- events ---------------------------------------------------------------------------------------

class RoutingEvent(Event):
    KEY: ClassVar[str] = "conversation_id"


class CommandAccepted(RoutingEvent):
    """The command with this id was carried out (its effects follow as their own events)."""
    TYPE: ClassVar[str] = "routing.CommandAccepted"
    KEY: ClassVar[str] = "command_key"
    command_id: str
    command_type: str
    command_key: str


class CommandRejected(RoutingEvent):
    """The command with this id changed nothing, for the reason given."""
    TYPE: ClassVar[str] = "routing.CommandRejected"
    KEY: ClassVar[str] = "command_key"
    command_id: str
    command_type: str
    command_key: str
    code: str = Field(examples=["no_capacity", "unknown_queue", "not_offered_to_agent"])
    reason: str = Field(examples=["agent agent-7 has no free chat capacity"])


class ConversationQueued(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationQueued"
    conversation_id: str = _conv
    queue_id: str
    channel: str
    priority: int
    skills: dict[str, int]
    enqueued_at: datetime


class OfferMade(RoutingEvent):
    TYPE: ClassVar[str] = "routing.OfferMade"
    conversation_id: str = _conv
    offer_id: str
    agent_id: str = _agent
    queue_id: str
    channel: str
    customer_name: str | None
    preview: str
    waited_s: float = Field(description="Seconds the customer has waited so far.")
    expires_at: datetime


class OfferAccepted(RoutingEvent):
    TYPE: ClassVar[str] = "routing.OfferAccepted"
    conversation_id: str = _conv
    offer_id: str
    agent_id: str = _agent


class OfferDeclined(RoutingEvent):
    TYPE: ClassVar[str] = "routing.OfferDeclined"
    conversation_id: str = _conv
    offer_id: str
    agent_id: str = _agent
    reason: str


class OfferExpired(RoutingEvent):
    """Not answered in time: the agent went to RONA and the item goes to the next agent."""
    TYPE: ClassVar[str] = "routing.OfferExpired"
    conversation_id: str = _conv
    offer_id: str
    agent_id: str = _agent


class OfferWithdrawn(RoutingEvent):
    TYPE: ClassVar[str] = "routing.OfferWithdrawn"
    conversation_id: str = _conv
    offer_id: str
    agent_id: str = _agent
    reason: str


class ConversationAssigned(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationAssigned"
    conversation_id: str = _conv
    agent_id: str = _agent
    queue_id: str
    channel: str
    how: Literal["offer", "manual_take", "manual_open", "returned_from_waiting"]


class ConversationTransferred(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationTransferred"
    conversation_id: str = _conv
    from_agent_id: str | None
    to_queue_id: str | None
    to_agent_id: str | None
    reason: str


class ConversationOverflowed(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationOverflowed"
    conversation_id: str = _conv
    from_queue_id: str
    to_queue_id: str
    waited_s: float


class ConversationWaiting(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationWaiting"
    conversation_id: str = _conv
    agent_id: str = _agent
    waiting_until: datetime


class ConversationEnded(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationEnded"
    conversation_id: str = _conv
    reason: str


class ConferenceInviteSent(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConferenceInviteSent"
    conversation_id: str = _conv
    inviter_id: str
    invitee_id: str


class ConferenceInviteAccepted(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConferenceInviteAccepted"
    conversation_id: str = _conv
    invitee_id: str


class ConferenceInviteDeclined(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConferenceInviteDeclined"
    conversation_id: str = _conv
    invitee_id: str


class ConferenceLeft(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConferenceLeft"
    conversation_id: str = _conv
    agent_id: str = _agent


class ConferenceEnded(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConferenceEnded"
    conversation_id: str = _conv


class ConversationSkillsChanged(RoutingEvent):
    TYPE: ClassVar[str] = "routing.ConversationSkillsChanged"
    conversation_id: str = _conv
    skills: dict[str, int]
    by_agent_id: str | None


class PresenceChanged(RoutingEvent):
    TYPE: ClassVar[str] = "routing.PresenceChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = _agent
    previous: PresenceName
    presence: PresenceName
    automatic: bool = Field(description="Set by routing (work started/ended, RONA), not by the agent.")
    reason: str


class CapacityChanged(RoutingEvent):
    TYPE: ClassVar[str] = "routing.CapacityChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = _agent
    channel: str
    capacity: int
    load: int


class AgentSkillsChanged(RoutingEvent):
    TYPE: ClassVar[str] = "routing.AgentSkillsChanged"
    KEY: ClassVar[str] = "agent_id"
    agent_id: str = _agent
    skills: dict[str, int]


class QueueConfigured(RoutingEvent):
    TYPE: ClassVar[str] = "routing.QueueConfigured"
    KEY: ClassVar[str] = "queue_id"
    queue_id: str
    name: str
    level: int
    method: MethodName
    members: dict[str, int]
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


class QueueRemoved(RoutingEvent):
    TYPE: ClassVar[str] = "routing.QueueRemoved"
    KEY: ClassVar[str] = "queue_id"
    queue_id: str


COMMANDS: tuple[type[RoutingCommand], ...] = tuple(RoutingCommand.__subclasses__())
EVENTS: tuple[type[RoutingEvent], ...] = tuple(RoutingEvent.__subclasses__())
