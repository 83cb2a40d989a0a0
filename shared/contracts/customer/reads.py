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
