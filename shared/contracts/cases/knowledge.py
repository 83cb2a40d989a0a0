"""Knowledge base (K4) commands, events and read models: articles, and the answers suggested for a customer's
message. Owned by the cases service."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from shared.contracts.cases.commands import CasesCommand
from shared.contracts.cases.common import CONVERSATION
from shared.contracts.cases.events import CasesEvent
from shared.contracts.envelope import Identifier

ARTICLE = Field(description="Article id (unique in the tenant).", examples=["kb-returns"])
LANGUAGE = Field("en", pattern=r"^[a-z]{2}$", description="ISO 639-1 language of the article (its text index "
                                                          "stems in it where MongoDB knows the language).")
ArticleStatus = Literal["draft", "published"]
COMPOSER_LIMIT = 1000  # chat's composer takes at most this many characters (C3)


class SaveArticle(CasesCommand):
    """Create or replace an article (staff). Only published articles are suggested and hinted."""
    TYPE: ClassVar[str] = "cases.SaveArticle"
    KEY: ClassVar[str] = "article_id"
    article_id: Identifier = ARTICLE
    title: str = Field(min_length=1, max_length=300, description="Title.")
    body: str = Field(min_length=1, max_length=50_000, description="Body (plain text).")
    tags: list[str] = Field(default_factory=list, max_length=30, description="Tags.")
    language: str = LANGUAGE
    status: ArticleStatus = Field("draft", description="draft or published.")
    version: int | None = Field(None, ge=1, description="The version read, for an edit (stale: 409); None: new "
                                                        "(an existing id: 409).")


class DraftArticleFromReply(CasesCommand):
    """Make a draft article from an agent's reply in a conversation (K4), for an editor to finish."""
    TYPE: ClassVar[str] = "cases.DraftArticleFromReply"
    KEY: ClassVar[str] = "article_id"
    article_id: Identifier = ARTICLE
    conversation_id: Identifier = CONVERSATION
    message_id: str = Field(description="Chat's id of the reply.")
    title: str = Field(min_length=1, max_length=300, description="Title for the draft.")
    text: str = Field(min_length=1, max_length=50_000, description="The reply's text (as chat holds it: masked).")
    language: str = LANGUAGE


class ArticleSaved(CasesEvent):
    """An article was created or changed."""
    TYPE: ClassVar[str] = "cases.ArticleSaved"
    KEY: ClassVar[str] = "article_id"
    article_id: str = ARTICLE
    version: int = Field(description="Its version now (1: created).")
    title: str = Field(description="Title.")
    language: str = Field(description="Language.")
    status: ArticleStatus = Field(description="draft or published.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    source_conversation_id: str | None = Field(None, description="The conversation of the reply it was drafted "
                                                                 "from, if it was.")
    by: str | None = Field(None, description="Who saved it (a staff user id).")
    at: datetime = Field(description="When (UTC).")


class Suggestion(BaseModel):
    article_id: str = ARTICLE
    title: str = Field(description="The article's title.")
    snippet: str = Field(description="The start of its body.")
    text: str = Field("", description=f"What the composer gets when the agent picks it: the body, cut at a word "
                                      f"to at most {COMPOSER_LIMIT} characters.")
    score: float = Field(description="Relevance, higher is better (comparable within one suggestion list).")


class AnswersSuggested(CasesEvent):
    """Articles that may answer a customer's message (K4), for the agents working the conversation."""
    TYPE: ClassVar[str] = "cases.AnswersSuggested"
    KEY: ClassVar[str] = "conversation_id"
    conversation_id: str = CONVERSATION
    message_id: str = Field(description="The customer's message.")
    agents: list[str] = Field(description="Agents working the conversation when the message was posted.")
    suggestions: list[Suggestion] = Field(description="Best first (may be empty).")
    message_sent_at: datetime = Field(description="When chat stored the message (UTC).")
    at: datetime = Field(description="When the suggestions were made (UTC): at - message_sent_at is how far "
                                     "behind the suggestions consumer is.")


# --- the read API's answers -------------------------------------------------------------------------------

class ArticleView(BaseModel):
    article_id: str
    title: str
    body: str
    tags: list[str]
    language: str
    status: ArticleStatus
    version: int = Field(description="Send it back with an edit.")
    source_conversation_id: str | None = Field(description="Drafted from a reply in this conversation, if it was.")
    source_message_id: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


class ArticleHit(BaseModel):
    article_id: str
    title: str
    snippet: str = Field(description="The start of its body.")
    text: str = Field(description=f"The body cut to at most {COMPOSER_LIMIT} characters (for the composer).")
    language: str
    status: ArticleStatus
    score: float = Field(description="Relevance within this list, higher is better.")


class ArticleList(BaseModel):
    hits: list[ArticleHit] = Field(description="Best first (a search), or most recently changed first (a list).")


class Hint(BaseModel):
    article_id: str
    title: str
    snippet: str


class HintList(BaseModel):
    hints: list[Hint] = Field(description="Published articles that may answer what the customer is typing, best "
                                          "first.")


class SuggestionLag(BaseModel):
    """How far behind this instance's suggestions consumer is (K4: it may fall behind, never holds up messages)."""
    group: str = Field(description="Its Kafka consumer group (its offsets: kafka-consumer-groups --describe).")
    handled: int = Field(description="Customer messages given suggestions since the process started.")
    skipped_stale: int = Field(description="Messages older than max_age_s when reached: skipped, not suggested.")
    ignored: int = Field(description="Other messages (agents', private notes, nobody working the conversation).")
    last_lag_ms: float | None = Field(description="For the last message handled: its suggestions' time minus its "
                                                  "sent_at.")
    last_message_sent_at: datetime | None
    lag_p50_ms: float | None = Field(description="Over the messages handled in the last minute.")
    lag_p99_ms: float | None = Field(description="Over the messages handled in the last minute.")
    lag_max_ms: float | None = Field(description="Over the messages handled in the last minute.")
    max_age_s: float = Field(description="Messages older than this when reached are skipped.")
