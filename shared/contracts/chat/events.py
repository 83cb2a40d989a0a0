"""The events chat publishes on chat.events, owned by the chat service, keyed by conversation_id (settings
by queue id or list id). ConversationClosed is the one analysts and views use for a finished chat."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.chat.common import (
    CONVERSATION,
    Context,
    ConversationState,
    Customer,
    OperatingHours,
    QuickReplyScope,
    Sender,
    WrapUpReason,
)
from shared.contracts.chat.attachments import AttachmentInfo
from shared.contracts.envelope import Event


class ChatEvent(Event):
    KEY: ClassVar[str] = "conversation_id"


class ConversationStarted(ChatEvent):
    """A conversation was created (and routing was asked to route it)."""
    TYPE: ClassVar[str] = "chat.ConversationStarted"
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="Entry point queue.")
    customer: Customer = Field(description="Who the customer is.")
    context: Context = Field(description="Pre-chat answers, visitor details, trail, variables (C7).")
    proactive: bool = Field(description="Started by the business (C8).")
    started_at: datetime = Field(description="When (UTC).")
    offline: bool = Field(False, description="An offline message: closed at once, never routed (the queue was "
                                             "closed or nobody was online).")
    colleagues: list[str] = Field(default_factory=list, description="A group conversation (U6): the colleagues "
                                                                    "taking part beside the agent who holds it.")
    topic: str | None = Field(None, description="What a group conversation is about (U6).")


class ConversationStateChanged(ChatEvent):
    """The conversation moved in its lifecycle (C1)."""
    TYPE: ClassVar[str] = "chat.ConversationStateChanged"
    conversation_id: str = CONVERSATION
    state: ConversationState = Field(description="The new state.")
    previous: ConversationState = Field(description="The state before.")
    queue_id: str = Field(description="The queue it is in (or was last in).")
    agents: list[str] = Field(description="Agents who may work it now: the assignee first, then conference members, "
                                          "then a group's colleagues (U6).")
    customer_id: str = Field(description="The conversation's customer.")
    why: str = Field(description="What caused it, e.g. 'offer accepted', 'Customer ended the conversation'.")
    at: datetime = Field(description="When (UTC).")
    removed_agents: list[str] = Field(
        default_factory=list,
        description="Agents who were on the conversation just before this change and are not now (transferred "
                    "away, left the conference, parked or closed), so they can be told it left them.")


class MessagePosted(ChatEvent):
    """A message was added, with its per-conversation sequence number (assigned once)."""
    TYPE: ClassVar[str] = "chat.MessagePosted"
    conversation_id: str = CONVERSATION
    message_id: str = Field(description="Chat's id of the message.")
    seq: int = Field(description="Position in the conversation, from 1, without gaps.")
    client_message_id: str | None = Field(description="The sender's own id (None for system messages).")
    sender: Sender = Field(description="Who wrote it.")
    text: str = Field(description="The text, line breaks kept.")
    private: bool = Field(description="A private note: agents only; never shown to the customer.")
    customer_id: str = Field(description="The conversation's customer.")
    agents: list[str] = Field(description="Agents working the conversation when it was posted.")
    sent_at: datetime = Field(description="When chat stored it (UTC).")
    attachments: list[AttachmentInfo] = Field(
        default_factory=list, description="Files attached to it (download them through the gateway by id).")


class MessagesRead(ChatEvent):
    """A participant read the conversation up to a sequence number (delivered and read receipts)."""
    TYPE: ClassVar[str] = "chat.MessagesRead"
    conversation_id: str = CONVERSATION
    reader: Sender = Field(description="Who read.")
    up_to_seq: int = Field(description="Highest sequence number read.")
    unread: int = Field(description="Messages from others this reader has not read now (0 after reading all).")
    customer_id: str = Field(description="The conversation's customer.")
    agents: list[str] = Field(description="Agents working the conversation.")


class ConversationClosed(ChatEvent):
    """The conversation is over and wrapped up."""
    TYPE: ClassVar[str] = "chat.ConversationClosed"
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="The queue it was last in.")
    customer_id: str = Field(description="The conversation's customer.")
    agent_id: str | None = Field(description="The agent who wrapped it up (None if nobody took it).")
    ended_by: str = Field(description="customer, agent or system.")
    wrap_up_reason: str | None = Field(description="The wrap-up reason's code.")
    messages: int = Field(description="Messages exchanged (notes not counted).")
    started_at: datetime = Field(description="When the conversation started.")
    closed_at: datetime = Field(description="When it closed.")


class QueueChatConfigured(ChatEvent):
    """A queue's chat settings changed."""
    TYPE: ClassVar[str] = "chat.QueueChatConfigured"
    KEY: ClassVar[str] = "queue_id"
    queue_id: str = Field(description="Queue id.")
    wrap_up_required: bool = Field(description="Whether closing needs a wrap-up reason.")
    persistent: bool = Field(description="Persistent chat.")
    operating_hours: OperatingHours | None = Field(None, description="When it takes chats (None: always).")
    offline_messages: bool = Field(True, description="Whether the widget offers offline messages.")


class WrapUpReasonsConfigured(ChatEvent):
    """The tenant's wrap-up reasons changed."""
    TYPE: ClassVar[str] = "chat.WrapUpReasonsConfigured"
    KEY: ClassVar[str] = "list_id"
    list_id: str = Field(description="Always 'wrap-up-reasons'.")
    reasons: list[WrapUpReason] = Field(description="The reasons, in display order.")


# --- after the chat: survey (CSAT) and quick replies ----------------------------------------------------

class SurveyConfigured(ChatEvent):
    """The tenant's post-chat survey was switched on or off."""
    TYPE: ClassVar[str] = "chat.SurveyConfigured"
    KEY: ClassVar[str] = "setting_id"
    setting_id: str = Field("survey", description="Always 'survey'.")
    enabled: bool = Field(description="Whether customers are asked to rate ended conversations.")
    question: str = Field(description="What the widget asks.")


class SurveyInvited(ChatEvent):
    """The conversation ended while the tenant's survey is on: the customer is asked to rate it (the widget
    shows the question)."""
    TYPE: ClassVar[str] = "chat.SurveyInvited"
    conversation_id: str = CONVERSATION
    customer_id: str = Field(description="The conversation's customer.")
    question: str = Field(description="What the widget asks.")
    at: datetime = Field(description="When (UTC).")


class SurveySubmitted(ChatEvent):
    """A customer rated a conversation (CSAT), for analysts and views."""
    TYPE: ClassVar[str] = "chat.SurveySubmitted"
    conversation_id: str = CONVERSATION
    queue_id: str = Field(description="The queue it was last in.")
    agent_id: str | None = Field(description="The agent who held it last (None if nobody took it).")
    customer_id: str = Field(description="The conversation's customer.")
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str = Field(description="The customer's words, masked like messages (empty if none).")
    at: datetime = Field(description="When it was submitted (UTC).")


class QuickReplySaved(ChatEvent):
    """A canned response was created or replaced."""
    TYPE: ClassVar[str] = "chat.QuickReplySaved"
    KEY: ClassVar[str] = "name"
    name: str = Field(description="The shortcut ('/name').")
    scope: QuickReplyScope = Field(description="tenant (everyone's) or agent (one staff member's own).")
    owner: str | None = Field(description="The staff member whose own reply it is (None for the tenant's).")
    text: str = Field(description="The text with its variables.")


class QuickReplyRemoved(ChatEvent):
    """A canned response was removed."""
    TYPE: ClassVar[str] = "chat.QuickReplyRemoved"
    KEY: ClassVar[str] = "name"
    name: str = Field(description="The shortcut.")
    scope: QuickReplyScope = Field(description="tenant or agent.")
    owner: str | None = Field(description="The staff member whose own reply it was (None for the tenant's).")

class MaskingConfigured(ChatEvent):
    """The tenant's masking policy (C4) changed."""
    TYPE: ClassVar[str] = "chat.MaskingConfigured"
    KEY: ClassVar[str] = "policy_id"
    policy_id: str = Field(description="Always 'masking'.")
    kinds: list[str] = Field(description="The kinds masked now: card, iban, ssn, email, phone.")
    originals_roles: list[str] = Field(description="Staff roles that may read the originals.")
    phone_regions: list[str] = Field(description="Regions whose national phone formats are recognised.")

class AttachmentsConfigured(ChatEvent):
    """The tenant's attachment limits changed."""
    TYPE: ClassVar[str] = "chat.AttachmentsConfigured"
    KEY: ClassVar[str] = "setting_id"
    setting_id: str = Field("attachments", description="Always 'attachments'.")
    max_bytes: int = Field(description="Largest file accepted, in bytes.")
    allowed_types: list[str] = Field(description="Content types accepted.")


class CustomerIdentified(ChatEvent):
    """The conversation's customer was linked to a contact (customer.CustomerLinked, U5): its customer name is the
    contact's now (masked like any name), for this conversation and the customer's other open ones."""
    TYPE: ClassVar[str] = "chat.CustomerIdentified"
    conversation_id: str = CONVERSATION
    customer_id: str = Field(description="The conversation's customer.")
    customer_name: str = Field(description="Its name now (masked).")
    contact_id: str | None = Field(description="The contact it is linked to (None: linked to an account only).")
    agents: list[str] = Field(description="Agents who may work it now (the desks to tell).")
    at: datetime = Field(description="When the link was made (customer.CustomerLinked's time, UTC): both "
                                     "announcements of one link carry the same time.")


class CustomerErased(ChatEvent):
    """Chat obeyed a contact's erasure (customer.ContactErased): for these customer ids it deleted the originals
    and the files, replaced every message text by "[erased]" and the customer's name by "Erased customer".
    Ids and counts only; views that copied names or texts (the gateway's, routing's) blank them too."""
    TYPE: ClassVar[str] = "chat.CustomerErased"
    KEY: ClassVar[str] = "contact_id"
    contact_id: str = Field(description="The erased contact (customer's id).")
    customer_ids: list[str] = Field(description="Chat's customer ids that were the contact's.")
    conversation_ids: list[str] = Field(description="The conversations blanked.")
    counts: dict[str, int] = Field(description="What was erased, by count: conversations, messages, originals, "
                                               "attachments.")
    erased_by: str | None = Field(description="Who asked for the erasure (a staff user id).")
    at: datetime = Field(description="When chat obeyed (UTC).")


# --- sentiment (C5) -------------------------------------------------------------------------------------

SentimentLevel = Literal["very_negative", "negative", "slightly_negative", "neutral", "slightly_positive",
                         "positive", "very_positive"]


class SentimentAssessed(ChatEvent):
    """A customer message's sentiment and the conversation's after it (over its last customer messages), from
    chat's sentiment consumer (its own consumer group: it may lag behind the message, never holds it up)."""
    TYPE: ClassVar[str] = "chat.SentimentAssessed"
    conversation_id: str = CONVERSATION
    message_id: str = Field(description="The customer message assessed.")
    seq: int = Field(description="Its position in the conversation.")
    message_level: SentimentLevel = Field(description="The message's level.")
    message_score: float = Field(ge=-1, le=1, description="The message's score, -1 (very negative) to 1.")
    conversation_level: SentimentLevel = Field(description="The conversation's level over its last customer "
                                                           "messages (the newest weigh most).")
    threshold: SentimentLevel = Field(description="The tenant's alert threshold when it was assessed.")
    alert: bool = Field(description="The conversation's level is at or below the threshold.")
    fell: bool = Field(False, description="It has just fallen there: alerting now, not after the previous "
                                         "assessed message (the first one alerting counts as a fall).")
    queue_id: str = Field(description="The queue the conversation is in (its supervisors see the alert).")
    agents: list[str] = Field(description="Agents working the conversation.")
    at: datetime = Field(description="When it was assessed (UTC).")


class SentimentConfigured(ChatEvent):
    """The tenant's sentiment alert threshold (C5) changed."""
    TYPE: ClassVar[str] = "chat.SentimentConfigured"
    KEY: ClassVar[str] = "setting_id"
    setting_id: str = Field("sentiment", description="Always 'sentiment'.")
    threshold: SentimentLevel = Field(description="Alert when a conversation's level is at or below this one.")


EVENTS: tuple[type[ChatEvent], ...] = tuple(ChatEvent.__subclasses__())
