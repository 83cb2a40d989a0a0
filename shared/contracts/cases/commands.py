"""The commands cases accepts on cases.commands: its input API, owned by the cases service.

Keyed by the case id (quick notes and service requests: the record they belong to); answered on
cases.events by the shared CommandAccepted (result_id: the id of what was created or changed) or
CommandRejected."""

from typing import ClassVar

from pydantic import Field

from shared.contracts.cases.common import (
    CASE,
    CONVERSATION,
    VERSION,
    CaseField,
    CaseFields,
    RecordKind,
    ServiceRequestStatus,
)
from shared.contracts.envelope import Command, Identifier


class CasesCommand(Command):
    KEY: ClassVar[str] = "case_id"


class OpenCase(CasesCommand):
    """Open a case (staff), for a contact and/or an account, optionally from a conversation (which it links)."""
    TYPE: ClassVar[str] = "cases.OpenCase"
    case_id: Identifier = CASE
    fields: CaseFields = Field(description="Its fields; title required; priority defaults to normal, status to new.")
    conversation_id: Identifier | None = Field(None, description=(
        "The conversation it is opened from (linked), which the sender has checked exists. Opened before cases "
        "followed the conversation's start, with no contact or account given: it takes the conversation's "
        "customer when the start arrives."))


class EditCase(CasesCommand):
    """Edit a case inline: set the given fields, clear the listed ones, if `version` is still current."""
    TYPE: ClassVar[str] = "cases.EditCase"
    case_id: Identifier = CASE
    version: int = VERSION
    changes: CaseFields = Field(default_factory=CaseFields, description="Fields to set (others unchanged).")
    clear: list[CaseField] = Field(default_factory=list, description="Fields to empty (not title, priority, status).")


class LinkConversation(CasesCommand):
    """Link a conversation to a case (a conversation has at most one case: linking moves it)."""
    TYPE: ClassVar[str] = "cases.LinkConversation"
    case_id: Identifier = CASE
    conversation_id: Identifier = CONVERSATION


class AddQuickNote(CasesCommand):
    """A quick note on a case, contact or account (K2): shown in its timeline."""
    TYPE: ClassVar[str] = "cases.AddQuickNote"
    KEY: ClassVar[str] = "record_id"
    note_id: Identifier = Field(description="Your id for the note.")
    record_kind: RecordKind = Field(description="case, contact or account.")
    record_id: Identifier = Field(description="The case's, contact's or account's id.")
    text: str = Field(min_length=1, max_length=2000, description="The note.")


class RegisterServiceRequest(CasesCommand):
    """Register a service request (K3) from a chat: linked to the conversation and its customer."""
    TYPE: ClassVar[str] = "cases.RegisterServiceRequest"
    KEY: ClassVar[str] = "service_request_id"
    service_request_id: Identifier = Field(description="Your id for it.")
    conversation_id: Identifier = CONVERSATION
    title: str = Field(min_length=1, max_length=200, description="What is asked for.")
    details: str = Field("", max_length=5000, description="Details.")
    contact_id: Identifier | None = Field(None, description="The customer, when known (else the conversation's "
                                                            "linked contact is used).")


class ChangeServiceRequest(CasesCommand):
    """Move a service request to another status (registered -> in_progress -> done; cancelled from any open one)."""
    TYPE: ClassVar[str] = "cases.ChangeServiceRequest"
    KEY: ClassVar[str] = "service_request_id"
    service_request_id: Identifier = Field(description="The service request.")
    version: int = VERSION
    status: ServiceRequestStatus = Field(description="The new status.")


COMMANDS: tuple[type[CasesCommand], ...] = (OpenCase, EditCase, LinkConversation, AddQuickNote,
                                             RegisterServiceRequest, ChangeServiceRequest)
