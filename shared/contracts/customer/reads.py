"""Customer's internal read API, the response models: part of customer's contract (the gateway reads them
and passes them on to staff)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.customer.common import AccountFields, ContactFields


class ContactView(ContactFields):
    contact_id: str
    version: int = Field(description="Send it back with an edit.")
    created_at: datetime
    updated_at: datetime


class ContactCustomers(BaseModel):
    """The chat customers linked to a contact (U5), e.g. to start a group conversation with it (U6)."""
    contact_id: str
    customer_ids: list[str] = Field(description="Chat's customer ids linked to the contact, in id order.")


class AccountView(AccountFields):
    account_id: str
    version: int = Field(description="Send it back with an edit.")
    created_at: datetime
    updated_at: datetime


class SearchHit(BaseModel):
    kind: Literal["contact", "account"]
    id: str = Field(description="The contact or account id.")
    name: str = Field(description="Full name or company name.")
    account_id: str | None = Field(None, description="A contact's company.")
    matched: str = Field(description="What matched: name, login_id, email, phone, tax_id or id.")


class SearchResult(BaseModel):
    hits: list[SearchHit] = Field(description="Best first: exact identifiers, then whole-word, then prefix "
                                              "name matches; contacts before accounts on a tie, then by name.")


class LineUserRow(BaseModel):
    customer_id: str = Field(description="The user (chat's customer id).")
    name: str
    status: Literal["online", "away", "offline"] = Field(description="Online in the widget, away, offline.")
    company: str | None = Field(None, description="The linked contact's company (or position, for own staff).")
    last_message_at: datetime | None = Field(description="Its last message on this line.")
    preview: str = Field(description="The last message, shortened and masked.")
    open_with_me: bool = Field(description="It has an open appeal with the agent asking.")
    favourite: bool = Field(description="A favourite of the agent asking.")
    added: bool = Field(description="On the asking agent's own list.")


class LinePage(BaseModel):
    rows: list[LineUserRow] = Field(description="Newest last message first, then by name, then id.")
    next_cursor: str | None = Field(description="Give it back for the next page (None: this was the last).")
    streaming: bool = Field(description="The line has more than 100 users: only the relevant ones are listed "
                                        "(added, favourites, worked with inside the relevance window); a search "
                                        "(q) still covers everyone.")
    line_size: int = Field(description="How many users the line has.")
