"""Knowledge base (K4) commands and events: articles, and the answers suggested for a customer's message."""

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from shared.contracts.cases.commands import CasesCommand
from shared.contracts.cases.common import CONVERSATION
from shared.contracts.cases.events import CasesEvent
from shared.contracts.envelope import Identifier

ARTICLE = Field(description="Article id (unique in the tenant).", examples=["kb-returns"])
ArticleStatus = Literal["draft", "published"]


class SaveArticle(CasesCommand):
    """Create or replace an article (staff). Only published articles are suggested and hinted."""
    TYPE: ClassVar[str] = "cases.SaveArticle"
    KEY: ClassVar[str] = "article_id"
    article_id: Identifier = ARTICLE
    title: str = Field(min_length=1, max_length=300, description="Title.")
    body: str = Field(min_length=1, max_length=50_000, description="Body (plain text).")
    tags: list[str] = Field(default_factory=list, max_length=30, description="Tags.")
    language: str = Field("en", pattern=r"^[a-z]{2}$", description="ISO 639-1 language of the article.")
    status: ArticleStatus = Field("draft", description="draft or published.")
    version: int | None = Field(None, ge=1, description="The version read, for an edit (stale: 409); None: new.")


class DraftArticleFromReply(CasesCommand):
    """Make a draft article from an agent's reply in a conversation (K4), for an editor to finish."""
    TYPE: ClassVar[str] = "cases.DraftArticleFromReply"
    KEY: ClassVar[str] = "article_id"
    article_id: Identifier = ARTICLE
    conversation_id: Identifier = CONVERSATION
    message_id: str = Field(description="Chat's id of the reply.")
    title: str = Field(min_length=1, max_length=300, description="Title for the draft.")
    text: str = Field(min_length=1, max_length=50_000, description="The reply's text (as chat holds it: masked).")


class ArticleSaved(CasesEvent):
    """An article was created or changed."""
    TYPE: ClassVar[str] = "cases.ArticleSaved"
    KEY: ClassVar[str] = "article_id"
    article_id: str = ARTICLE
    version: int = Field(description="Its version now.")
    title: str = Field(description="Title.")
    language: str = Field(description="Language.")
    status: ArticleStatus = Field(description="draft or published.")
    at: datetime = Field(description="When (UTC).")


class Suggestion(BaseModel):
    article_id: str = ARTICLE
    title: str = Field(description="The article's title.")
    snippet: str = Field(description="The start of its body.")
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
