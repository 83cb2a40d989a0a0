"""Erasing a customer from its conversations (privacy), pure: what an erased conversation still says. The ids,
times, states and counts stay (the conversation happened); every text a person wrote or that names the
customer becomes a fixed placeholder."""

from __future__ import annotations

from services.chat.domain.conversation import Conversation
from shared.contracts.chat.common import Context, Customer

ERASED_TEXT = "[erased]"
ERASED_NAME = "Erased customer"


def erased_customer(customer: Customer) -> Customer:
    return Customer(customer_id=customer.customer_id, name=ERASED_NAME, authenticated=customer.authenticated)


def erase(conversation: Conversation) -> bool:
    """Blank the customer (name, e-mail), the context (pre-chat answers, visitor details, trail, variables), the
    wrap-up note and the survey comment; True if anything changed (erasing twice changes nothing)."""
    before = (conversation.customer, conversation.context, conversation.wrap_up_note, conversation.survey_comment)
    conversation.customer = erased_customer(conversation.customer)
    conversation.context = Context(channel=conversation.context.channel)
    conversation.wrap_up_note = ERASED_TEXT if conversation.wrap_up_note else ""
    conversation.survey_comment = ERASED_TEXT if conversation.survey_comment else ""
    return before != (conversation.customer, conversation.context, conversation.wrap_up_note,
                      conversation.survey_comment)
