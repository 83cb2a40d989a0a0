"""Cases' internal read API, the response models: part of cases' contract (the gateway reads them and passes
them on to staff)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts.cases.common import CaseFields, CaseOrigin, ServiceRequestStatus


class CaseView(CaseFields):
    case_id: str
    number: str = Field(description="Unique in the tenant, e.g. CAS-000042.")
    version: int = Field(description="Send it back with an edit.")
    origin: CaseOrigin
    conversations: list[str] = Field(description="Conversations linked to it, oldest link first.")
    allowed_statuses: list[str] = Field(description="Statuses it may move to now.")
    customer_name: str = Field(description="Its contact's name (or its account's), as cases last heard it.")
    created_at: datetime
    updated_at: datetime


class CaseHit(BaseModel):
    case_id: str
    number: str
    title: str
    status: str
    priority: str
    contact_id: str | None
    account_id: str | None
    customer_name: str
    created_at: datetime
    updated_at: datetime
    matched: Literal["number", "id", "title", "title_prefix", "customer", "customer_id"] = Field(
        description="What the query matched (results are ranked in this order, then newest first).")


class CaseList(BaseModel):
    hits: list[CaseHit]


class ConversationCase(BaseModel):
    conversation_id: str
    case_id: str | None = Field(description="The case it is linked to (None: none).")
    contact_id: str | None
    account_id: str | None


class ServiceRequestView(BaseModel):
    service_request_id: str
    conversation_id: str
    contact_id: str | None
    title: str
    details: str
    status: ServiceRequestStatus
    version: int = Field(description="Send it back with a status change.")
    created_at: datetime
    updated_at: datetime


class ServiceRequestList(BaseModel):
    items: list[ServiceRequestView] = Field(description="Newest first.")
