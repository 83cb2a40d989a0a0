"""Field types and descriptions chat's commands and events share."""

from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from shared.contracts.envelope import Identifier

ConversationState = Literal["requested", "queued", "offered", "active", "wrap_up", "closed", "waiting"]
SenderKind = Literal["customer", "agent", "bot", "system"]

CONVERSATION = Field(description="Conversation id.", examples=["conv-42"])
MAX_SEQ = 2**53 - 1  # a message's sequence number fits a JSON number exactly (and MongoDB's 64-bit integers)
MAX_AGENT_TEXT = 1000  # C3: an agent's message is at most this many characters
MAX_CUSTOMER_TEXT = 4000  # a customer's message (the widget's limit)
MAX_GROUP_COLLEAGUES = 20  # U6: colleagues named when a group conversation starts


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Customer(_Part):
    """Who the customer is, as far as the widget knows (U5: an anonymous visitor is "Visitor N")."""
    customer_id: Identifier = Field(description="The authenticated user id, or the widget's signed visitor id.")
    name: str = Field(max_length=200, description="Display name; 'Visitor N' for an anonymous visitor.")
    authenticated: bool = Field(False, description="Whether the tenant's site vouched for this user (HMAC).")
    email: str | None = Field(None, max_length=320, description="E-mail, when the customer gave one.")


class Visitor(_Part):
    """Visitor details (C7) reported by the widget."""
    browser: str | None = Field(None, max_length=200, description="Browser name and version.")
    os: str | None = Field(None, max_length=200, description="Operating system.")
    location: str | None = Field(None, max_length=200, description="Location (city, country).")
    language: str | None = Field(None, max_length=35, description="Preferred language (BCP 47).")


class TrailStep(_Part):
    """One self-service step before the chat (C7)."""
    kind: Literal["page_visited", "phrase_searched", "article_viewed", "custom_action"] = Field(
        description="What the customer did.")
    title: str = Field(max_length=500, description="The page, phrase, article or action.")
    at: datetime = Field(description="When (UTC).")


# A question or variable name MongoDB can keep as a field name (a NUL byte is refused by the database: found by
# fuzzing, a start with one was dead-lettered by chat and its caller never answered), and its answer.
FormKey = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]
FormValue = Annotated[str, StringConstraints(max_length=4000)]
FormAnswers = Annotated[dict[FormKey, FormValue], Field(max_length=100)]


class Context(_Part):
    """What the agent sees about the conversation before reading a word (C7)."""
    channel: Identifier = Field("chat", description="Engagement channel.")
    prechat: FormAnswers = Field(default_factory=dict, description="Pre-chat survey: question -> answer.")
    visitor: Visitor = Field(default_factory=Visitor, description="Visitor details.")
    trail: list[TrailStep] = Field(default_factory=list, max_length=100,
                                   description="Self-service trail before the chat (stored newest first).")
    variables: FormAnswers = Field(default_factory=dict, description="Additional context variables.")


class Sender(_Part):
    """Who wrote a message."""
    kind: SenderKind = Field(description="customer, agent, bot or system.")
    id: str = Field(description="Customer, agent or bot id; 'system' for system messages.")


class WrapUpReason(_Part):
    """One disposition of the tenant's list (C1)."""
    code: Identifier = Field(description="Stable code, e.g. 'resolved'.")
    label: str = Field(max_length=200, description="What agents see, e.g. 'Resolved on first contact'.")


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class OpenInterval(_Part):
    """One opening of a day, wall clock in the queue's time zone."""
    start: str = Field(pattern=CLOCK, description="Opens at HH:MM.", examples=["09:00"])
    end: str = Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$",
                     description="Closes at HH:MM; not after the start (or 24:00) means it runs past midnight "
                                 "into the next day.", examples=["18:00", "06:00"])


class OperatingHours(_Part):
    """When a queue takes chats (outside them the widget offers an offline message)."""
    timezone: str = Field(description="IANA time zone of the calendar.", examples=["Europe/Riga"])
    weekly: dict[Weekday, list[OpenInterval]] = Field(
        default_factory=dict, description="Openings per weekday; a day not listed is closed.")
    holidays: list[date] = Field(default_factory=list, max_length=400,
                                 description="Local dates closed all day (an overnight opening from the evening "
                                             "before still runs into them).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Riga)") from None
        return value


# --- after the chat: survey (CSAT) and quick replies ----------------------------------------------------

MAX_SURVEY_COMMENT = 1000  # a survey comment's characters
SURVEY_QUESTION = "How would you rate this conversation?"
QuickReplyName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
QuickReplyScope = Literal["tenant", "agent"]


class SurveyResult(_Part):
    """A customer's rating of a conversation (CSAT)."""
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str = Field(description="The customer's words (masked like messages), empty if none.")
    submitted_at: datetime = Field(description="When (UTC).")
