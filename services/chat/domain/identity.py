"""A conversation's customer identified (U5), pure: the customer service linked it to a contact, so the
conversation names the customer by the contact's name (already masked by the caller) and keeps the contact's id."""

from __future__ import annotations

from datetime import datetime

from services.chat.domain.conversation import Conversation, Outcome
from shared.contracts.chat import events as ev


def identify(conversation: Conversation, *, contact_id: str | None, name: str | None, linked_at: datetime,
             now: datetime) -> Outcome:
    """Take the link (a link to an account alone names no one: the name stays); nothing when it changes nothing.
    The announcement carries the link's time, not chat's: readers that hear both sides of one link (the gateway's
    view keeps the later link) see the same link, whichever side arrives first."""
    customer = conversation.customer if not name else conversation.customer.model_copy(update={"name": name})
    if (customer, contact_id) == (conversation.customer, conversation.contact_id):
        return []
    conversation.customer, conversation.contact_id, conversation.updated_at = customer, contact_id, now
    return [ev.CustomerIdentified(conversation_id=conversation.conversation_id, customer_id=customer.customer_id,
                                  customer_name=customer.name, contact_id=contact_id, agents=conversation.agents,
                                  at=linked_at)]
