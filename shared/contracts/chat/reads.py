"""Chat's internal read API, the response models: part of chat's contract (the gateway reads them over HTTP
and passes them on to frontends), owned by the chat service like its commands and events."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.contracts.chat.attachments import AttachmentInfo
from shared.contracts.chat.common import (
    Context,
    ConversationState,
    Customer,
    OperatingHours,
    QuickReplyScope,
    Sender,
    SurveyResult,
    WrapUpReason,
)


class ConversationView(BaseModel):
    """A conversation with its context (C7), who works it and the unread counts (C2)."""
    conversation_id: str
    tenant_id: str
    state: ConversationState
    queue_id: str = Field(description="The queue it is in, or was last in.")
    customer: Customer
    contact_id: str | None = Field(None, description="The contact the customer was linked to (U5).")
    context: Context = Field(description="Channel, pre-chat answers, visitor details, trail (newest first), "
                                         "variables.")
    skills: dict[str, int] = Field(description="Required skill -> minimum level, as started.")
    priority: int
    proactive: bool = Field(description="Started by the business (C8).")
    offline: bool = Field(False, description="An offline message (closed at once, never routed).")
    agents: list[str] = Field(description="Who may work it now: the assignee first, then conference members, "
                                          "then a group's colleagues (U6).")
    group: bool = Field(False, description="A group conversation (U6): started with colleagues.")
    colleagues: list[str] = Field(default_factory=list, description="A group's colleagues still taking part.")
    topic: str | None = Field(None, description="What a group conversation is about.")
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
    survey: SurveyResult | None = Field(None, description="The customer's rating (CSAT), once submitted.")
    survey_pending: bool = Field(False, description="The customer was asked to rate it and has not yet.")


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
    attachments: list[AttachmentInfo] = Field(default_factory=list, description="Files attached to it.")


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
    operating_hours: OperatingHours | None = Field(None, description="When it takes chats (None: always).")
    offline_messages: bool = Field(True, description="Whether the widget offers offline messages.")
    open_now: bool = Field(True, description="Inside its operating hours at the time of the read.")
    opens_at: datetime | None = Field(None, description="When it opens next (now if open; None: never within "
                                                        "the next 400 days).")


class SurveySettingsView(BaseModel):
    enabled: bool = Field(description="Customers are asked to rate ended conversations (CSAT 1-5, a comment).")
    question: str = Field(description="What the widget asks.")
    configured: bool = Field(description="False: nobody configured it, these are the defaults (off).")


class QuickReplyView(BaseModel):
    name: str = Field(description="The shortcut: an agent sends '/name'.")
    scope: QuickReplyScope = Field(description="tenant (everyone's) or agent (the staff member's own).")
    owner: str | None = Field(description="Whose own reply it is (None for the tenant's).")
    text: str = Field(description="As stored, with its variables; filled when read for a conversation.")


class QuickReplyList(BaseModel):
    replies: list[QuickReplyView] = Field(description="By name; one per name (a staff member's own reply wins "
                                                      "over the tenant's of the same name).")
