"""Routing's use cases: one named function per command, registered in USE_CASES with the slice of state
it needs (its Scope). Each translates the command into a Router call with keyword arguments; the
handlers run it in a transaction and publish what it returns. The table also lists what routing
consumes (entrypoints/kafka.py registers a handler for every command in it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from services.routing.adapters.repository import Scope
from services.routing.domain.model import AssignmentMethod, QueueConfig
from services.routing.domain.router import Router
from shared.contracts import routing as contract

Events = list[contract.RoutingEvent]
C = TypeVar("C", bound=contract.RoutingCommand)


@dataclass(frozen=True)
class UseCase:
    scope: Callable[[Any], Scope]
    apply: Callable[[Router, Any], Events]


USE_CASES: dict[type[contract.RoutingCommand], UseCase] = {}


def use_case(command: type[C], scope: Callable[[C], Scope]) -> Callable[[Callable[[Router, C], Events]],
                                                                       Callable[[Router, C], Events]]:
    def register(apply: Callable[[Router, C], Events]) -> Callable[[Router, C], Events]:
        if command in USE_CASES:
            raise TypeError(f"{command.__name__} has two use cases")
        USE_CASES[command] = UseCase(scope, apply)
        return apply
    return register


def conversation(*agent_fields: str, queue_fields: tuple[str, ...] = (),
                 dispatch: bool = True) -> Callable[[Any], Scope]:
    """The conversation, the agents and queues the command names, and (unless dispatch=False, for a use
    case that can neither add work nor free capacity) the queued work those may now be offered."""
    def scope(cmd: Any) -> Scope:
        return Scope(conversations={cmd.conversation_id},
                     agents={v for f in agent_fields if (v := getattr(cmd, f))},
                     queues={v for f in queue_fields if (v := getattr(cmd, f))}, dispatch=dispatch)
    return scope


# --- configuration (R1-R4, R10) ----------------------------------------------------------------------

@use_case(contract.ConfigureQueue, lambda c: Scope(queues={c.queue_id}, agents=set(c.members), all_queues=True))
def configure_queue(router: Router, cmd: contract.ConfigureQueue) -> Events:
    """Create or replace a queue; its references to other queues are checked against all of the tenant's."""
    values = cmd.model_dump(exclude={"request_id", "actor"})
    return router.configure_queue(QueueConfig(**{**values, "method": AssignmentMethod(values["method"])}))


@use_case(contract.ChangeQueueMembers,
          lambda c: Scope(queues={c.queue_id}, agents={*c.add, *c.remove}))
def change_queue_members(router: Router, cmd: contract.ChangeQueueMembers) -> Events:
    """Add and remove a queue's members, keeping the others (two admins' changes do not overwrite each other)."""
    return router.change_queue_members(cmd.queue_id, cmd.add, cmd.remove)


@use_case(contract.RemoveQueue, lambda c: Scope(queues={c.queue_id}, active_items_of_queues=True, all_queues=True))
def remove_queue(router: Router, cmd: contract.RemoveQueue) -> Events:
    """Remove a queue that holds no active work and is nobody's overflow or second line."""
    return router.remove_queue(cmd.queue_id)


@use_case(contract.ConfigureAgent, lambda c: Scope(agents={c.agent_id}))
def configure_agent(router: Router, cmd: contract.ConfigureAgent) -> Events:
    """Create an agent or change its capacity per channel and/or its skills."""
    return router.configure_agent(cmd.agent_id, capacity=cmd.capacity, skills=cmd.skills)


@use_case(contract.ConfigureAgents, lambda c: Scope(agents=set(c.agents)))
def configure_agents(router: Router, cmd: contract.ConfigureAgents) -> Events:
    """Create or change many agents at once (all or none)."""
    return router.configure_agents({a: (s.capacity, s.skills) for a, s in cmd.agents.items()})


@use_case(contract.SetPresence, lambda c: Scope(agents={c.agent_id}, offers_to_agents=True))
def set_presence(router: Router, cmd: contract.SetPresence) -> Events:
    """The agent's own presence; leaving Available withdraws the agent's pending offers."""
    return router.set_presence(cmd.agent_id, cmd.presence)


# --- work entering routing and offers (R5, R6, R8, R9) -----------------------------------------------

@use_case(contract.RouteConversation,
          conversation("last_agent_id", "responsible_agent_id", queue_fields=("queue_id",)))
def route_conversation(router: Router, cmd: contract.RouteConversation) -> Events:
    """Queue a conversation for an agent; a waiting persistent chat goes back to its agent if possible."""
    return router.enqueue(
        conversation_id=cmd.conversation_id, queue_id=cmd.queue_id, channel=cmd.channel, priority=cmd.priority,
        skills=cmd.skills, customer_id=cmd.customer_id, customer_name=cmd.customer_name, preview=cmd.preview,
        last_agent_id=cmd.last_agent_id, responsible_agent_id=cmd.responsible_agent_id)


@use_case(contract.AcceptOffer, conversation("agent_id"))  # dispatch's scope: the others in line move up
def accept_offer(router: Router, cmd: contract.AcceptOffer) -> Events:
    """The offered agent takes the conversation (its capacity was reserved by the offer)."""
    return router.accept_offer(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id, offer_id=cmd.offer_id)


@use_case(contract.DeclineOffer, conversation("agent_id"))
def decline_offer(router: Router, cmd: contract.DeclineOffer) -> Events:
    """The offered agent says no: the item goes back to its queue, and the decline counts."""
    return router.decline_offer(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id, offer_id=cmd.offer_id,
                                reason=cmd.reason)


@use_case(contract.TakeConversation, conversation("agent_id"))
def take_conversation(router: Router, cmd: contract.TakeConversation) -> Events:
    """Manual take of a queued conversation by a member of its queue."""
    return router.take(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id)


@use_case(contract.OpenConversation, conversation("agent_id", queue_fields=("queue_id",)))
def open_conversation(router: Router, cmd: contract.OpenConversation) -> Events:
    """Manual start: the agent opens a conversation by hand and holds it at once."""
    return router.open_item(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id, queue_id=cmd.queue_id,
                            channel=cmd.channel, customer_id=cmd.customer_id, customer_name=cmd.customer_name)


# --- agents working a conversation (R7, R9, R10, R11) ------------------------------------------------

@use_case(contract.TransferConversation, conversation("agent_id", "to_agent_id", queue_fields=("to_queue_id",)))
def transfer_conversation(router: Router, cmd: contract.TransferConversation) -> Events:
    """Hand an assigned conversation to another queue or to a named agent."""
    return router.transfer(conversation_id=cmd.conversation_id, by_agent_id=cmd.agent_id,
                           to_queue_id=cmd.to_queue_id, to_agent_id=cmd.to_agent_id, reason=cmd.reason)


@use_case(contract.EscalateConversation, conversation("agent_id"))
def escalate_conversation(router: Router, cmd: contract.EscalateConversation) -> Events:
    """Transfer to the queue's second line."""
    return router.escalate(conversation_id=cmd.conversation_id, by_agent_id=cmd.agent_id, reason=cmd.reason)


@use_case(contract.CloseToWaiting, conversation("agent_id"))
def close_to_waiting(router: Router, cmd: contract.CloseToWaiting) -> Events:
    """Persistent chat: park the conversation with its agent instead of ending it."""
    return router.close_to_waiting(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id)


@use_case(contract.EndConversation, conversation())
def end_conversation(router: Router, cmd: contract.EndConversation) -> Events:
    """End the conversation from any state, freeing whoever held it."""
    return router.end(conversation_id=cmd.conversation_id, reason=cmd.reason)


@use_case(contract.ChangeConversationSkills, conversation("agent_id"))
def change_conversation_skills(router: Router, cmd: contract.ChangeConversationSkills) -> Events:
    """Add or remove required skills (agents only where the queue allows it)."""
    return router.change_conversation_skills(conversation_id=cmd.conversation_id, by_agent_id=cmd.agent_id,
                                             add=cmd.add, remove=cmd.remove)


# --- conference (R7) ---------------------------------------------------------------------------------

@use_case(contract.InviteToConference, conversation("agent_id", "invitee_id", dispatch=False))
def invite_to_conference(router: Router, cmd: contract.InviteToConference) -> Events:
    """The assignee invites another agent; capacity is reserved only when the invite is accepted."""
    return router.invite(conversation_id=cmd.conversation_id, inviter_id=cmd.agent_id, invitee_id=cmd.invitee_id)


@use_case(contract.AcceptConferenceInvite, conversation("agent_id"))
def accept_conference_invite(router: Router, cmd: contract.AcceptConferenceInvite) -> Events:
    """The invitee joins the conversation, if it has room on the channel."""
    return router.accept_invite(conversation_id=cmd.conversation_id, invitee_id=cmd.agent_id)


@use_case(contract.DeclineConferenceInvite, conversation("agent_id", dispatch=False))
def decline_conference_invite(router: Router, cmd: contract.DeclineConferenceInvite) -> Events:
    """The invitee says no."""
    return router.decline_invite(conversation_id=cmd.conversation_id, invitee_id=cmd.agent_id)


@use_case(contract.LeaveConference, conversation("agent_id"))
def leave_conference(router: Router, cmd: contract.LeaveConference) -> Events:
    """A participant leaves, freeing its capacity."""
    return router.leave_conference(conversation_id=cmd.conversation_id, agent_id=cmd.agent_id)


@use_case(contract.EndConference, conversation("agent_id"))
def end_conference(router: Router, cmd: contract.EndConference) -> Events:
    """The assignee removes every participant and pending invite."""
    return router.end_conference(conversation_id=cmd.conversation_id, by_agent_id=cmd.agent_id)
