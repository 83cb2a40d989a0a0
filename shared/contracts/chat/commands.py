"""The commands chat accepts on chat.commands: its input API, owned by the chat service.

Conversation commands are keyed by conversation_id (so one conversation's history stays in order),
settings by the queue id or "settings". The gateway sends them, with the signed-in actor; each is
answered on chat.events by the shared CommandAccepted or CommandRejected carrying its request id."""

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints, model_validator

from shared.contracts.chat.common import (
    CONVERSATION,
    MAX_AGENT_TEXT,
    MAX_CUSTOMER_TEXT,
    MAX_GROUP_COLLEAGUES,
    MAX_SURVEY_COMMENT,
    SURVEY_QUESTION,
    Context,
    Customer,
    OperatingHours,
    QuickReplyName,
    QuickReplyScope,
    WrapUpReason,
)
from shared.contracts.chat.attachments import CONTENT_TYPE, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_MESSAGE
from shared.contracts.envelope import Command, Identifier


class ChatCommand(Command):
    KEY: ClassVar[str] = "conversation_id"


class StartConversation(ChatCommand):
    """A customer opens a chat from the widget, or (proactive, C8) the business opens one to a customer.
    Chat creates the conversation and asks routing to route it."""
    TYPE: ClassVar[str] = "chat.StartConversation"
    conversation_id: Identifier = CONVERSATION
    queue_id: Identifier = Field(description="Entry point: the queue the chat is routed to.")
    customer: Customer = Field(description="Who the customer is.")
    context: Context = Field(default_factory=Context, description="Pre-chat answers, visitor details, trail...")
    skills: dict[Identifier, int] = Field(default_factory=dict, description="Required skill -> minimum level.")
    priority: int = Field(0, description="Higher is more urgent.")
    first_message: str | None = Field(None, max_length=MAX_CUSTOMER_TEXT,
                                      description="The customer's first message, if the widget sent one.")
    proactive: bool = Field(False, description="Started by the business (C8), not the customer.")
    colleagues: list[Identifier] = Field(
        default_factory=list, max_length=MAX_GROUP_COLLEAGUES,
        description="A group conversation (U6, proactive only): staff of the tenant who take part from the start "
                    "beside the agent who holds it; they read and write without being offered it.")
    topic: str | None = Field(None, max_length=200, description="What a group conversation is about (U6).")


class SendMessage(ChatCommand):
    """A customer, agent or bot writes in the conversation; an agent may write a private note instead."""
    TYPE: ClassVar[str] = "chat.SendMessage"
    conversation_id: Identifier = CONVERSATION
    client_message_id: Identifier = Field(
        description="The sender's id for this message: a retried send with the same id stores nothing twice "
                    "and returns the original message.")
    text: str = Field("", max_length=MAX_CUSTOMER_TEXT,
                      description="Message text; line breaks are kept. Agents: at most 1000 characters, no < or >. "
                                  "May be empty when the message carries attachments.")
    private: bool = Field(False, description="A private note: agents only, never shown to the customer.")
    attachment_ids: list[Identifier] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS_PER_MESSAGE,
        description="Files the sender uploaded to this conversation (chat's attachment API) and attaches now; "
                    "each is attached once. A message needs a text or at least one attachment.")

    @model_validator(mode="after")
    def _text_or_attachments(self) -> "SendMessage":
        if not self.text and not self.attachment_ids:
            raise ValueError("a message needs a text or at least one attachment")
        return self


class LeaveOfflineMessage(ChatCommand):
    """A customer leaves a message while the queue is closed or nobody is online: it is kept as a conversation
    that is closed at once (the queue's members find it in their Closed list), and nobody is offered it."""
    TYPE: ClassVar[str] = "chat.LeaveOfflineMessage"
    conversation_id: Identifier = CONVERSATION
    queue_id: Identifier = Field(description="The queue the customer tried to reach.")
    customer: Customer = Field(description="Who the customer is (an e-mail to answer to, if they gave one).")
    context: Context = Field(default_factory=Context, description="Pre-chat answers, visitor details, trail...")
    text: str = Field(min_length=1, max_length=MAX_CUSTOMER_TEXT, description="The customer's message.")


class LeaveGroup(ChatCommand):
    """A colleague leaves a group conversation (U6); the agent who holds it and the customer stay."""
    TYPE: ClassVar[str] = "chat.LeaveGroup"
    conversation_id: Identifier = CONVERSATION


class MarkRead(ChatCommand):
    """The actor (customer or agent) has read the conversation up to a sequence number; also marks delivered."""
    TYPE: ClassVar[str] = "chat.MarkRead"
    conversation_id: Identifier = CONVERSATION
    up_to_seq: int = Field(ge=0, description="Highest message sequence number read.")


class EndConversation(ChatCommand):
    """The customer (from the widget) or an agent ends the conversation; it goes to wrap-up and the agent's
    capacity stays taken until the wrap-up."""
    TYPE: ClassVar[str] = "chat.EndConversation"
    conversation_id: Identifier = CONVERSATION


class WrapUp(ChatCommand):
    """The agent's wrap-up closes the conversation; then chat tells routing to end it (capacity freed)."""
    TYPE: ClassVar[str] = "chat.WrapUp"
    conversation_id: Identifier = CONVERSATION
    reason_code: Identifier | None = Field(None, description="A code of the tenant's wrap-up reasons; required "
                                                             "where the queue's chat settings say so.")
    note: str = Field("", max_length=2000, description="The agent's closing note (agents only).")


class CloseToWaiting(ChatCommand):
    """Persistent chat: the agent parks the conversation; the customer's next message resumes it."""
    TYPE: ClassVar[str] = "chat.CloseToWaiting"
    conversation_id: Identifier = CONVERSATION


class ConfigureQueueChat(ChatCommand):
    """A queue's chat settings (admin)."""
    TYPE: ClassVar[str] = "chat.ConfigureQueueChat"
    KEY: ClassVar[str] = "queue_id"
    queue_id: Identifier = Field(description="Queue id (the same as routing's).")
    wrap_up_required: bool = Field(False, description="Whether closing needs a wrap-up reason.")
    persistent: bool = Field(False, description="Persistent chat: the agent closes into waiting.")
    operating_hours: OperatingHours | None = Field(
        None, description="When the queue takes chats (None: always); outside them customers cannot start a "
                          "chat and the widget offers an offline message.")
    offline_messages: bool = Field(True, description="Whether the widget offers an offline message when the "
                                                     "queue is closed or no agent is online.")


class ConfigureWrapUpReasons(ChatCommand):
    """Replace the tenant's list of wrap-up reasons (admin)."""
    TYPE: ClassVar[str] = "chat.ConfigureWrapUpReasons"
    KEY: ClassVar[str] = "list_id"
    list_id: Identifier = Field("wrap-up-reasons", description="Always 'wrap-up-reasons' (one list per tenant).")
    reasons: list[WrapUpReason] = Field(max_length=200, description="The reasons, in display order.")


# --- after the chat: survey (CSAT) and quick replies ----------------------------------------------------

class ConfigureSurvey(ChatCommand):
    """Switch the tenant's post-chat survey (CSAT: a rating 1-5 and a comment) on or off (admin)."""
    TYPE: ClassVar[str] = "chat.ConfigureSurvey"
    KEY: ClassVar[str] = "setting_id"
    setting_id: Literal["survey"] = Field("survey", description="Always 'survey' (one survey per tenant).")
    enabled: bool = Field(description="Whether customers are asked to rate a conversation once it ended.")
    question: str = Field(SURVEY_QUESTION, min_length=1, max_length=200,
                          description="What the widget asks, e.g. 'How would you rate this conversation?'.")


class SubmitSurvey(ChatCommand):
    """The customer rates their own conversation once it ended (once; only while the tenant's survey is on)."""
    TYPE: ClassVar[str] = "chat.SubmitSurvey"
    conversation_id: Identifier = CONVERSATION
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str = Field("", max_length=MAX_SURVEY_COMMENT, description="The customer's words, if any.")


class PutQuickReply(ChatCommand):
    """Create or replace a canned response: the tenant's (admin) or the actor's own (any staff member).
    Variables {customer_name}, {agent_name} and {queue} are filled from the conversation when it is used."""
    TYPE: ClassVar[str] = "chat.PutQuickReply"
    KEY: ClassVar[str] = "name"
    name: QuickReplyName = Field(description="The shortcut: an agent sends '/name'.", examples=["greet"])
    scope: QuickReplyScope = Field(description="tenant: everyone's (admin); agent: the actor's own, which wins "
                                               "over the tenant's reply of the same name.")
    text: str = Field(min_length=1, max_length=MAX_AGENT_TEXT,
                      description="The text, with variables, e.g. 'Hello {customer_name}, I am {agent_name}'.")


class RemoveQuickReply(ChatCommand):
    """Remove a canned response: the tenant's (admin) or the actor's own."""
    TYPE: ClassVar[str] = "chat.RemoveQuickReply"
    KEY: ClassVar[str] = "name"
    name: QuickReplyName = Field(description="The shortcut to remove.")
    scope: QuickReplyScope = Field(description="tenant (admin) or agent (the actor's own).")

# --- masking of sensitive data (C4) ---------------------------------------------------------------------

PhoneRegion = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]  # ISO 3166 alpha-2, e.g. LV


class ConfigureMasking(ChatCommand):
    """The tenant's masking policy (admin): which kinds of sensitive data chat masks where text enters
    (messages, names, e-mails, context), and which roles may read the originals through chat's read API.
    A tenant that never sent one has every kind masked and originals for admins only."""
    TYPE: ClassVar[str] = "chat.ConfigureMasking"
    KEY: ClassVar[str] = "policy_id"
    policy_id: Literal["masking"] = Field("masking", description="Always 'masking' (one policy per tenant).")
    card: bool = Field(True, description="Mask card numbers (Luhn-valid, of a known card scheme).")
    iban: bool = Field(True, description="Mask IBANs (checksum-valid).")
    ssn: bool = Field(True, description="Mask US social security numbers (123-45-6789).")
    email: bool = Field(True, description="Mask e-mail addresses (first character and domain kept).")
    phone: bool = Field(True, description="Mask phone numbers (international ones always; national ones of "
                                          "phone_regions).")
    originals_roles: list[Literal["agent", "supervisor", "admin"]] = Field(
        default_factory=lambda: ["admin"], max_length=3,
        description="Staff roles that may read the originals (besides reading the conversation at all).")
    phone_regions: list[PhoneRegion] | None = Field(
        None, max_length=60, description="Regions (ISO 3166 alpha-2) whose national phone formats are recognised; "
                                         "None: chat's default list (US, GB, DE, FR, LV, CZ, UA, PT, PL).",
        examples=[["LV", "GB"]])

# --- attachments (C9) -----------------------------------------------------------------------------------

class ConfigureAttachments(ChatCommand):
    """The tenant's attachment limits (admin): the largest file and the content types accepted."""
    TYPE: ClassVar[str] = "chat.ConfigureAttachments"
    KEY: ClassVar[str] = "setting_id"
    setting_id: Literal["attachments"] = Field("attachments", description="Always 'attachments' (one per tenant).")
    max_bytes: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES, description="Largest file accepted, in bytes.")
    allowed_types: list[Annotated[str, StringConstraints(pattern=CONTENT_TYPE)]] = Field(
        min_length=1, max_length=100, description="Content types accepted, lower case without parameters "
                                                  "(HTML, SVG, XML and scripts are always served as downloads).",
        examples=[["image/png", "application/pdf"]])



# --- sentiment (C5) -------------------------------------------------------------------------------------

class ConfigureSentiment(ChatCommand):
    """The tenant's sentiment alert threshold (admin): the agent and the queue's supervisors are alerted when a
    conversation's level falls to or below it. A tenant that never sent one alerts at slightly_negative."""
    TYPE: ClassVar[str] = "chat.ConfigureSentiment"
    KEY: ClassVar[str] = "setting_id"
    setting_id: Literal["sentiment"] = Field("sentiment", description="Always 'sentiment' (one per tenant).")
    threshold: Literal["very_negative", "negative", "slightly_negative", "neutral", "slightly_positive",
                       "positive", "very_positive"] = Field(
        "slightly_negative", description="Alert at or below this level.", examples=["slightly_negative"])


COMMANDS: tuple[type[ChatCommand], ...] = tuple(ChatCommand.__subclasses__())
