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


class SearchHit(BaseModel):
    conversation_id: str
    message_id: str
    seq: int
    sender: Sender
    text: str = Field(description="The message as everyone sees it (masked).")
    sent_at: datetime
    customer_id: str
    queue_id: str


class SearchResults(BaseModel):
    hits: list[SearchHit] = Field(description="Newest first. Only masked text is searched, never originals.")
