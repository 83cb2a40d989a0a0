"""Who may do what inside chat, from the command's actor (shared.contracts.envelope.Actor): a customer acts
on its own conversations only, staff (an agent, or a supervisor or admin working as one) on conversations they
work, an admin configures, the system may do anything. A service posting as a bot acts in role system with the bot's id as user id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from shared.contracts.answers import Rejected
from shared.contracts.chat.common import Customer, Sender
from shared.contracts.envelope import Actor

if TYPE_CHECKING:
    from services.chat.domain.conversation import Conversation

SYSTEM = Sender(kind="system", id="system")
# Roles are cumulative for conversation work (the gateway's permission table): a supervisor or an admin who is
# offered, assigned or invited works a conversation as an agent does, and writes as one.
STAFF_ROLES = ("agent", "supervisor", "admin")


def sender_of(actor: Actor) -> Sender:
    """Who a message from this actor is from."""
    if actor.role == "customer":
        return Sender(kind="customer", id=actor.user_id)
    if actor.role in STAFF_ROLES:
        return Sender(kind="agent", id=actor.user_id)
    if actor.role == "system":
        return SYSTEM if actor.user_id == "system" else Sender(kind="bot", id=actor.user_id)
    raise Rejected("forbidden", f"a {actor.role} cannot write in a conversation")


def check_may_start(actor: Actor, *, customer: Customer, proactive: bool) -> None:
    """A customer starts its own chat; an agent starts a proactive one (C8), which it then holds."""
    if proactive:
        if actor.role not in STAFF_ROLES:
            raise Rejected("forbidden", "a proactive chat is started by staff, who then hold it")
        return
    if actor.role == "system":
        return
    if actor.role != "customer":
        raise Rejected("forbidden", f"a {actor.role} cannot start a chat for a customer (proactive chats can)")
    if customer.customer_id != actor.user_id:
        raise Rejected("forbidden", f"customer {actor.user_id} cannot start a chat as {customer.customer_id}")


def check_may_act(conversation: Conversation, actor: Actor, *, action: str, customer: bool = True,
                  agents: Literal["all", "assignee", "none"] = "all") -> None:
    """The actor takes part in the conversation in a way that allows `action`: as its customer (if
    `customer`), as one of its agents or only as its assignee (per `agents`), or as the system."""
    if actor.role == "system":
        return
    if actor.role == "customer" and customer:
        if conversation.customer.customer_id != actor.user_id:
            raise Rejected("not_participant", f"conversation {conversation.conversation_id} is not "
                                              f"customer {actor.user_id}'s")
        return
    if actor.role in STAFF_ROLES and agents != "none":
        working = conversation.agents if agents == "all" else conversation.agents[:1]
        if actor.user_id not in working:
            who = "the assigned agent" if agents == "assignee" else "an agent of the conversation"
            raise Rejected("not_participant", f"agent {actor.user_id} is not {who} of conversation "
                                              f"{conversation.conversation_id}, so cannot {action}")
        return
    raise Rejected("forbidden", f"a {actor.role} cannot {action}")


def check_admin(actor: Actor, *, action: str) -> None:
    if actor.role not in ("admin", "system"):
        raise Rejected("forbidden", f"only an admin can {action}")
