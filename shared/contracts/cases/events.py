"""The events cases publishes on cases.events, owned by the cases service, keyed by case id (service requests:
their id). They carry titles and links; descriptions and notes stay in cases' read API."""

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.contracts.cases.common import CASE, CONVERSATION, CaseOrigin, CaseStatus, Priority, RecordKind, \
    ServiceRequestStatus
from shared.contracts.envelope import Event


class CasesEvent(Event):
    KEY: ClassVar[str] = "case_id"


class CaseChanged(CasesEvent):
    """A case was opened (version 1) or edited: its state now."""
    TYPE: ClassVar[str] = "cases.CaseChanged"
    case_id: str = CASE
    number: str = Field(description="Its number, unique in the tenant (e.g. CAS-000042).")
    version: int = Field(description="Its version after the change (1: opened).")
    title: str = Field(description="Its title now.")
    priority: Priority = Field(description="Its priority now.")
    status: CaseStatus = Field(description="Its status now.")
    contact_id: str | None = Field(description="Its contact now.")
    account_id: str | None = Field(description="Its account now.")
    owner_id: str | None = Field(description="Its owner now.")
    origin: CaseOrigin = Field(description="How it was opened: by an agent, from a conversation or an offline "
                                           "message.")
    changed: list[str] = Field(description="The fields that changed (all set fields when opened).")
    by: str | None = Field(description="Who changed it (a staff user id; None: the system).")
    at: datetime = Field(description="When (UTC).")


class ConversationLinked(CasesEvent):
    """A conversation was linked to a case, by an agent or automatically (the customer's only active case)."""
    TYPE: ClassVar[str] = "cases.ConversationLinked"
    case_id: str = CASE
    conversation_id: str = CONVERSATION
    number: str = Field(description="The case's number.")
    previous_case_id: str | None = Field(description="The case the conversation was linked to before (None: none).")
    automatic: bool = Field(description="Linked by the service: the customer had exactly one active case.")
    at: datetime = Field(description="When (UTC).")


class QuickNoteAdded(CasesEvent):
    """A quick note was written on a case, contact or account (its text is in cases' read API)."""
    TYPE: ClassVar[str] = "cases.QuickNoteAdded"
    KEY: ClassVar[str] = "record_id"
    note_id: str = Field(description="The note's id.")
    record_kind: RecordKind = Field(description="case, contact or account.")
    record_id: str = Field(description="The record's id.")
    by: str | None = Field(description="Who wrote it.")
    at: datetime = Field(description="When (UTC).")


class ServiceRequestChanged(CasesEvent):
    """A service request was registered (version 1) or changed status."""
    TYPE: ClassVar[str] = "cases.ServiceRequestChanged"
    KEY: ClassVar[str] = "service_request_id"
    service_request_id: str = Field(description="Its id.")
    version: int = Field(description="Its version after the change.")
    conversation_id: str = CONVERSATION
    contact_id: str | None = Field(description="The customer.")
    title: str = Field(description="What is asked for.")
    status: ServiceRequestStatus = Field(description="Its status now.")
    by: str | None = Field(description="Who changed it.")
    at: datetime = Field(description="When (UTC).")


EVENTS_CASES: tuple[type[CasesEvent], ...] = (CaseChanged, ConversationLinked, QuickNoteAdded, ServiceRequestChanged)
