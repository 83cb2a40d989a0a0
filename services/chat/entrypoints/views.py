"""What chat's internal read API answers: one typed response model per resource, built from the stored
documents (adapters/documents.py). The gateway reads these over HTTP."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.chat.adapters.documents import conversation_from_doc, message_from_doc, queue_settings_from_doc, \
    reasons_from_doc
from shared.contracts.chat.common import Context, ConversationState, Customer, Sender, WrapUpReason


class ConversationView(BaseModel):
    """A conversation with its context (C7), who works it and the unread counts (C2)."""
    conversation_id: str
    tenant_id: str
    state: ConversationState
    queue_id: str = Field(description="The queue it is in, or was last in.")
    customer: Customer
    context: Context = Field(description="Channel, pre-chat answers, visitor details, trail (newest first), "
                                         "variables.")
    skills: dict[str, int] = Field(description="Required skill -> minimum level, as started.")
    priority: int
    proactive: bool = Field(description="Started by the business (C8).")
    agents: list[str] = Field(description="Who may work it now: the assignee first, then conference members.")
    assignee: str | None = Field(description="The agent holding it (active, wrap-up, waiting); for a closed "
                                             "conversation, the agent who held it last.")
    offered_to: str | None = Field(description="The agent it is offered to, while offered.")
    last_agent_id: str | None = Field(description="The last agent it was assigned to.")
    started_at: datetime
    first_assigned_at: datetime | None = Field(description="When an agent first took it.")
    wait_s: float = Field(description="Seconds the customer waited for an agent: start to first assignment "
                                      "(or to now, if nobody took it yet).")
    waiting_until: datetime | None = Field(description="Persistent chat: the agent keeps it until then.")
    ended_by: str | None = Field(description="customer, agent or system, once ended.")
    wrap_up_reason: str | None = Field(description="The wrap-up reason's code, once closed.")
    wrap_up_note: str
    closed_at: datetime | None
    last_seq: int = Field(description="Sequence number of the last message (0: none yet).")
    message_count: int = Field(description="Messages of customers, agents and bots (no notes, no system).")
    unread: dict[str, int] = Field(description="Current agent -> messages from others it has not read.")
    customer_unread: int = Field(description="Messages the customer has not read (notes never count).")
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    conversations: list[ConversationView] = Field(description="Most recently updated first.")


class MessageView(BaseModel):
    message_id: str
    conversation_id: str
    seq: int = Field(description="Position in the conversation, from 1, without gaps.")
    client_message_id: str | None
    sender: Sender
    text: str = Field(description="Exactly as sent, line breaks kept.")
    private: bool = Field(description="A private note (agents only).")
    sent_at: datetime


class MessagePage(BaseModel):
    conversation_id: str
    messages: list[MessageView] = Field(description="In sequence order, after the requested after_seq.")
    last_seq: int = Field(description="The conversation's last sequence number: more to read if it is past the "
                                      "last message here.")


class WrapUpReasonList(BaseModel):
    reasons: list[WrapUpReason] = Field(description="The tenant's wrap-up reasons, in display order.")


class QueueChatSettingsView(BaseModel):
    queue_id: str
    wrap_up_required: bool = Field(description="Closing needs a wrap-up reason.")
    persistent: bool = Field(description="Agents close into waiting (persistent chat).")
    configured: bool = Field(description="False: nobody configured this queue, these are the defaults.")


def conversation_view(doc: dict[str, Any], *, now: datetime) -> ConversationView:
    c = conversation_from_doc(doc)
    waited_until = c.first_assigned_at or c.closed_at or now
    return ConversationView(
        conversation_id=c.conversation_id, tenant_id=doc["tenant_id"], state=c.state.value, queue_id=c.queue_id,
        customer=c.customer, context=c.context, skills=c.skills, priority=c.priority, proactive=c.proactive,
        agents=c.agents, assignee=c.assignee, offered_to=c.offered_to, last_agent_id=c.last_agent_id,
        started_at=c.started_at, first_assigned_at=c.first_assigned_at,
        wait_s=max(0.0, (waited_until - c.started_at).total_seconds()), waiting_until=c.waiting_until,
        ended_by=c.ended_by, wrap_up_reason=c.wrap_up_reason, wrap_up_note=c.wrap_up_note, closed_at=c.closed_at,
        last_seq=c.seq, message_count=c.message_count, unread=c.unread, customer_unread=c.customer_unread,
        created_at=c.started_at, updated_at=c.updated_at or c.started_at)


def message_view(doc: dict[str, Any]) -> MessageView:
    m = message_from_doc(doc)
    return MessageView(message_id=m.message_id, conversation_id=m.conversation_id, seq=m.seq,
                       client_message_id=m.client_message_id, sender=m.sender, text=m.text, private=m.private,
                       sent_at=m.sent_at)


def settings_view(queue_id: str, doc: dict[str, Any] | None) -> QueueChatSettingsView:
    s = queue_settings_from_doc(queue_id, doc)
    return QueueChatSettingsView(queue_id=queue_id, wrap_up_required=s.wrap_up_required, persistent=s.persistent,
                                 configured=s.configured)


def reasons_view(doc: dict[str, Any] | None) -> WrapUpReasonList:
    return WrapUpReasonList(reasons=reasons_from_doc(doc))
