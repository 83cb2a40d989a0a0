"""Chat's read contract for masking (C4) and history search (C6): the response models of its internal read
API's policy, originals and search routes (the gateway reads them and passes them on). Owned by chat."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.contracts.chat.common import Context, Customer, Sender


class MaskingPolicyView(BaseModel):
    card: bool
    iban: bool
    ssn: bool
    email: bool
    phone: bool
    originals_roles: list[str] = Field(description="Staff roles that may read the originals.")
    phone_regions: list[str] = Field(description="Regions whose national phone formats are recognised.")
    configured: bool = Field(description="False: the tenant never set one; these are the defaults.")


class OriginalMessage(BaseModel):
    message_id: str
    seq: int
    sender: Sender
    text: str = Field(description="As the sender wrote it (the masked text where nothing was masked).")
    masked: bool = Field(description="Whether chat masked this message (everything else shows it masked).")
    private: bool
    sent_at: datetime


class OriginalsPage(BaseModel):
    """What was masked, as it was sent: only for the roles the tenant's policy allows."""
    conversation_id: str
    customer: Customer = Field(description="The customer as given (name, e-mail).")
    context: Context = Field(description="Pre-chat answers, variables, visitor fields and trail as given.")
    messages: list[OriginalMessage] = Field(description="In sequence order, after the requested after_seq.")
    last_seq: int


MAX_SEARCH_CONVERSATIONS = 5000  # a search names at most this many conversations (or none: the tenant's)


class SearchRequest(BaseModel):
    """History search (C6): messages whose masked text holds every word of `q`, best first."""
    q: str = Field(min_length=1, max_length=200, description="Words, all of which must appear; the last one may be "
                                                             "the start of a word (as one types).",
                   examples=["charged twice"])
    conversation_ids: list[str] | None = Field(
        None, max_length=MAX_SEARCH_CONVERSATIONS,
        description="Only these conversations (a customer's, one, those the caller may read); None: the whole "
                    "tenant's, ranked among the newest matches.")
    limit: int = Field(50, ge=1, le=500)


class Fragment(BaseModel):
    """A piece of a snippet. Show `text` as text (never as HTML); mark it when `match`."""
    text: str
    match: bool = Field(description="A word of the query.")


class SearchHit(BaseModel):
    conversation_id: str
    message_id: str
    seq: int
    sender: Sender
    text: str = Field(description="The message as everyone sees it (masked).")
    snippet: list[Fragment] = Field(default_factory=list,
                                    description="The message, or the part of a long one around its first match, "
                                                "in pieces with the matched words apart.")
    score: float = Field(0.0, description="Relevance: higher first (term frequency, shorter messages, whole words "
                                          "over prefixes, words together as a phrase).")
    sent_at: datetime
    customer_id: str
    queue_id: str


class SearchResults(BaseModel):
    hits: list[SearchHit] = Field(description="Best first, then newest. Only masked text is searched, never "
                                              "originals.")
    complete: bool = Field(True, description="False: more messages matched than one search ranks (the newest or "
                                             "the first of them were); add words to narrow it.")
