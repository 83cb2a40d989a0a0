"""The commands routing accepts on routing.commands: its input API, owned by the routing service.

Conversation commands are keyed by conversation_id, agent commands by agent_id and queue configuration
by queue_id, so each one's history stays in order. Each is answered on routing.events by the shared
CommandAccepted or CommandRejected (shared.contracts.answers) carrying the command's request id."""

from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from shared.contracts.envelope import Command, Identifier
from shared.contracts.routing.common import AGENT, CONVERSATION, MethodName


class RoutingCommand(Command):
    KEY: ClassVar[str] = "conversation_id"


# --- configuration (R1, R3, R4, R10) -------------------------------------------------------------

class ConfigureQueue(RoutingCommand):
    """Create or replace a queue ("line") and its members."""
    TYPE: ClassVar[str] = "routing.ConfigureQueue"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier = Field(examples=["support-l1"], description="Queue (line) id.")
    name: str = Field(examples=["First line support"], description="Display name of the queue.")
    level: Literal[1, 2] = Field(1, description="1 = first line, 2 = second line.")
    method: MethodName = Field(
        "round_robin",
        description="How the queue picks an agent: round_robin, least_loaded, skills or specialist_priority.")
    members: dict[Identifier, int] = Field(
        default_factory=dict, description="Agent id -> member priority (1 = highest).",
        examples=[{"agent-7": 1, "agent-8": 2}])
    offer_timeout_s: int = Field(30, description="Seconds an agent has to accept an offer before RONA.")
    max_declines: int = Field(
        2,
        description="Declines or time-outs after which an item is no longer offered to that agent.")
    overflow_queue_id: Identifier | None = Field(
        None,
        description="Queue that takes items waiting longer than max_wait_s; none = no overflow.")
    max_wait_s: int | None = Field(None, description="Wait after which a queued item overflows.")
    second_level_queue_id: Identifier | None = Field(None, description="Where escalation sends a conversation.")
    prefer_responsible_agent: bool = Field(
        True,
        description="Offer first to the customer's responsible agent when that agent can take it.")
    prefer_last_agent: bool = Field(
        True,
        description="Offer first to the agent who last served the customer when that agent can take it.")
    busy_when_at_capacity: bool = Field(
        True,
        description="Agent goes Busy by itself when this queue's work fills a channel.")
    allow_agent_skill_edit: bool = Field(True, description="Agents may change a conversation's required skills.")
    persistent_waiting_days: int = Field(28, description="How long a conversation closed to waiting keeps its agent.")


class RemoveQueue(RoutingCommand):
    """Remove a queue that holds no active work and is no other queue's overflow or second line."""
    TYPE: ClassVar[str] = "routing.RemoveQueue"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier = Field(description="Queue (line) id.")


class ChangeQueueMembers(RoutingCommand):
    """Add members to a queue (or change their priority) and remove others, leaving every other member and
    setting as they are: two admins changing one queue's members at once both keep their change (ConfigureQueue
    replaces the whole list)."""
    TYPE: ClassVar[str] = "routing.ChangeQueueMembers"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier = Field(examples=["support-l1"], description="Queue (line) id; it must exist.")
    add: dict[Identifier, int] = Field(default_factory=dict, examples=[{"agent-9": 1}],
                                       description="Agent id -> member priority (1 = highest): added, or its "
                                                   "priority changed.")
    remove: list[Identifier] = Field(default_factory=list, examples=[["agent-7"]],
                                     description="Agent ids no longer members (one that is not: nothing to do).")


class ConfigureAgent(RoutingCommand):
    """Set an agent's capacity per channel and/or skills (omitted = unchanged)."""
    TYPE: ClassVar[str] = "routing.ConfigureAgent"
    KEY: ClassVar[str] = "agent_id"
    agent_id: Identifier = AGENT
    capacity: dict[Identifier, int] | None = Field(
        None, examples=[{"chat": 5, "voice": 1}],
        description="Channel -> how many conversations the agent may hold at once.")
    skills: dict[Identifier, int] | None = Field(None, description="skill -> level 1..10", examples=[{"billing": 7}])


class AgentSettings(BaseModel):
    """One agent's routing settings in ConfigureAgents."""
    capacity: dict[Identifier, int] | None = Field(
        None, examples=[{"chat": 5}], description="Channel -> how many conversations the agent may hold at once.")
    skills: dict[Identifier, int] | None = Field(None, description="skill -> level 1..10", examples=[{"billing": 7}])


class ConfigureAgents(RoutingCommand):
    """ConfigureAgent for many agents at once (an admin setting up a team): all of them are set, in one
    transaction, or none (the first invalid setting refuses the command). Keyed by batch_id, so it is not ordered
    with ConfigureAgent commands for the same agents sent meanwhile."""
    TYPE: ClassVar[str] = "routing.ConfigureAgents"
    KEY: ClassVar[str] = "batch_id"
    batch_id: Identifier = Field(description="Id of this setup (its Kafka key).")
    agents: dict[Identifier, AgentSettings] = Field(
        min_length=1, max_length=1000, description="Agent id -> its settings (omitted fields unchanged).")


class SetPresence(RoutingCommand):
    """The agent's own presence change; the only way out of RONA. Leaving Available withdraws pending offers."""
    TYPE: ClassVar[str] = "routing.SetPresence"
    KEY: ClassVar[str] = "agent_id"
    agent_id: Identifier = AGENT
    presence: Literal["available", "busy", "away", "offline"] = Field(description="The agent's presence.")


# --- work items (R5-R11) --------------------------------------------------------------------------

class RouteConversation(RoutingCommand):
    """Queue a conversation for an agent (or return a waiting persistent chat to its agent)."""
    TYPE: ClassVar[str] = "routing.RouteConversation"
    conversation_id: Identifier = CONVERSATION
    queue_id: Identifier = Field(description="Queue (line) id.")
    channel: Identifier = Field(
        "chat", examples=["chat", "voice", "email"],
        description="Channel of the conversation.")
    priority: int = Field(0, description="Higher is more urgent.")
    skills: dict[Identifier, int] = Field(default_factory=dict, description="Required skill -> minimum level.")
    customer_id: Identifier | None = Field(None, description="Customer (contact) id, when known.")
    customer_name: str | None = Field(None, description="Customer's name, shown in the offer.")
    preview: str = Field("", description="First words of the customer's message, shown in the offer.")
    last_agent_id: Identifier | None = Field(
        None,
        description="Agent who last served this customer, preferred when the queue says so.")
    responsible_agent_id: Identifier | None = Field(
        None,
        description="The customer's responsible agent, preferred when the queue says so.")


class AcceptOffer(RoutingCommand):
    """The offered agent takes the conversation."""
    TYPE: ClassVar[str] = "routing.AcceptOffer"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT
    offer_id: Identifier = Field(description="Offer id (from OfferMade).")


class DeclineOffer(RoutingCommand):
    """The offered agent declines; the conversation goes back to its queue and the decline counts."""
    TYPE: ClassVar[str] = "routing.DeclineOffer"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT
    offer_id: Identifier = Field(description="Offer id (from OfferMade).")
    reason: str = Field("", description="Why, in words (shown to agents and supervisors).")


class TakeConversation(RoutingCommand):
    """Manual take of an open (queued) work item."""
    TYPE: ClassVar[str] = "routing.TakeConversation"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class OpenConversation(RoutingCommand):
    """Manual start: the agent opens a work item by hand."""
    TYPE: ClassVar[str] = "routing.OpenConversation"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT
    queue_id: Identifier = Field(description="Queue (line) id.")
    channel: Identifier = Field("chat", description="Channel of the conversation.")
    customer_id: Identifier | None = Field(None, description="Customer (contact) id, when known.")
    customer_name: str | None = Field(None, description="Customer's name, shown in the offer.")


class TransferConversation(RoutingCommand):
    """Hand an assigned conversation to another queue or to a named agent (exactly one of them)."""
    TYPE: ClassVar[str] = "routing.TransferConversation"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = Field(description="Agent handing the conversation over.")
    to_queue_id: Identifier | None = Field(None, description="Queue the conversation goes to, or none.")
    to_agent_id: Identifier | None = Field(None, description="Agent the conversation goes to, or none.")
    reason: str = Field("", description="Why, in words (shown to agents and supervisors).")


class EscalateConversation(RoutingCommand):
    """Transfer to the queue's second-line queue."""
    TYPE: ClassVar[str] = "routing.EscalateConversation"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT
    reason: str = Field("", description="Why, in words (shown to agents and supervisors).")


class InviteToConference(RoutingCommand):
    """The assignee invites another agent into the conversation."""
    TYPE: ClassVar[str] = "routing.InviteToConference"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = Field(description="Inviting agent (the assignee).")
    invitee_id: Identifier = Field(description="Agent invited to the conference.")


class AcceptConferenceInvite(RoutingCommand):
    """The invitee joins the conversation, if it has free capacity on the channel."""
    TYPE: ClassVar[str] = "routing.AcceptConferenceInvite"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class DeclineConferenceInvite(RoutingCommand):
    """The invitee declines the invitation."""
    TYPE: ClassVar[str] = "routing.DeclineConferenceInvite"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class LeaveConference(RoutingCommand):
    """A conference participant leaves the conversation."""
    TYPE: ClassVar[str] = "routing.LeaveConference"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class EndConference(RoutingCommand):
    """The assignee removes every participant and pending invitation."""
    TYPE: ClassVar[str] = "routing.EndConference"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class CloseToWaiting(RoutingCommand):
    """Persistent chat: park the conversation with its agent instead of ending it."""
    TYPE: ClassVar[str] = "routing.CloseToWaiting"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier = AGENT


class EndConversation(RoutingCommand):
    """End the conversation from any state, freeing whoever held it."""
    TYPE: ClassVar[str] = "routing.EndConversation"
    conversation_id: Identifier = CONVERSATION
    reason: str = Field("", description="Why, in words (shown to agents and supervisors).")


class ChangeConversationSkills(RoutingCommand):
    """Add or remove skills the conversation requires (agents only where the queue allows it)."""
    TYPE: ClassVar[str] = "routing.ChangeConversationSkills"
    conversation_id: Identifier = CONVERSATION
    agent_id: Identifier | None = Field(None, description="Agent making the change; none for the system.")
    add: dict[Identifier, int] = Field(default_factory=dict, description="Skills to require: skill -> minimum level.")
    remove: list[str] = Field(default_factory=list, description="Skills no longer required.")



COMMANDS: tuple[type[RoutingCommand], ...] = tuple(RoutingCommand.__subclasses__())
