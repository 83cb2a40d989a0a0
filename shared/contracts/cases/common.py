"""Field types cases' commands, events and reads share: a case's editable fields, priorities, statuses."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.envelope import Identifier

CASE = Field(description="Case id (unique in the tenant; the number shown to people is `number`).",
             examples=["case-42"])
CONVERSATION = Field(description="Chat's conversation id.", examples=["conv-42"])
VERSION = Field(ge=1, description="The version the editor read: a stale one is refused (version_conflict, 409, "
                                  "with the current version), so an inline edit never overwrites a change it "
                                  "did not see.")

Priority = Literal["low", "normal", "high", "urgent"]
CaseStatus = Literal["new", "active", "on_hold", "resolved", "cancelled"]
# A case in one of these is "active": it can be linked to a conversation automatically.
ACTIVE_STATUSES: tuple[CaseStatus, ...] = ("new", "active", "on_hold")
CaseOrigin = Literal["agent", "conversation", "offline_message"]
RecordKind = Literal["case", "contact", "account"]
ServiceRequestStatus = Literal["registered", "in_progress", "done", "cancelled"]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaseFields(_Part):
    """A case's editable fields (K1). Status changes follow the allowed transitions (see the read API's case)."""
    title: str | None = Field(None, min_length=1, max_length=200, description="What it is about.")
    description: str | None = Field(None, max_length=5000, description="Details.")
    priority: Priority | None = Field(None, description="low, normal, high or urgent.")
    status: CaseStatus | None = Field(None, description="new, active, on_hold, resolved or cancelled.")
    contact_id: Identifier | None = Field(None, description="The customer (a contact of the customer service).")
    account_id: Identifier | None = Field(None, description="The customer's company (an account).")
    owner_id: Identifier | None = Field(None, description="The staff member who owns it.")


CaseField = Literal["title", "description", "priority", "status", "contact_id", "account_id", "owner_id"]
