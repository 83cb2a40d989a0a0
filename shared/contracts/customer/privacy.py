"""Customer's read API answer for a contact's export (privacy): everything customer holds about a contact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.contracts.customer.reads import AccountView, ContactView


class LinkedCustomer(BaseModel):
    """A chat customer linked to the contact (U5), as customer keeps it."""
    customer_id: str
    lines: list[str] = Field(description="The support lines it is on.")
    name: str | None = Field(description="What it is shown as (the contact's name).")
    company: str | None


class LineRowExport(BaseModel):
    line_id: str
    customer_id: str
    name: str = Field(description="How it is listed.")
    chat_name: str | None = Field(None, description="Chat's name for it.")
    status: str
    last_message_at: datetime | None
    preview: str = Field(description="Its last message, shortened (masked by chat).")
    open_with: list[str]


class AgentTieExport(BaseModel):
    agent_id: str
    customer_id: str
    added: bool
    favourite: bool
    last_worked_at: datetime | None


class ContactExport(BaseModel):
    contact: ContactView
    account: AccountView | None = Field(description="Its company, if it has one.")
    primary_contact_of: list[str] = Field(description="Accounts naming it as their primary contact.")
    customer_ids: list[str] = Field(description="Chat's customer ids linked to it (their conversations are chat's).")
    linked_customers: list[LinkedCustomer]
    line_rows: list[LineRowExport]
    agent_ties: list[AgentTieExport]
    line_conversations: list[dict[str, Any]] = Field(description="Which line each of its conversations is on.")
