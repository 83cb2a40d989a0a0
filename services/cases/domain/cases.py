"""Cases (K1) and service requests (K3): pure rules, no I/O.

A case is a set of fields with a version (inline edits name the version they were made against; a stale one
is refused, never merged), a number unique in the tenant, and the conversations linked to it. Its status moves
only along TRANSITIONS; `resolved` and `cancelled` cases are inactive and can be reactivated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shared.contracts.answers import Rejected
from shared.contracts.cases import events as ev
from shared.contracts.cases.common import ACTIVE_STATUSES, CaseFields, CaseOrigin, ServiceRequestStatus

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("active", "on_hold", "resolved", "cancelled"),
    "active": ("on_hold", "resolved", "cancelled"),
    "on_hold": ("active", "resolved", "cancelled"),
    "resolved": ("active",),  # reactivated
    "cancelled": ("active",),
}
REQUIRED = ("title", "priority", "status")  # never empty


def case_number(sequence: int) -> str:
    """The number people see: CAS-000042 (more digits past a million)."""
    return f"CAS-{sequence:06d}"


@dataclass
class Case:
    id: str
    number: str
    fields: CaseFields
    origin: CaseOrigin
    version: int
    created_at: datetime
    updated_at: datetime
    conversations: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.fields.status in ACTIVE_STATUSES

    @classmethod
    def open(cls, case_id: str, number: str, fields: CaseFields, *, origin: CaseOrigin, by: str | None,
             now: datetime) -> tuple[Case, ev.CaseChanged]:
        if not fields.title or not fields.title.strip():
            raise Rejected("invalid_argument", "title: a new case needs one")
        if fields.status not in (None, "new", "active"):
            raise Rejected("invalid_argument", f"status: a new case is new or active, not {fields.status}")
        given = sorted(fields.model_dump(exclude_none=True))
        fields = fields.model_copy(update={"title": fields.title.strip(), "priority": fields.priority or "normal",
                                           "status": fields.status or "new"})
        case = cls(case_id, number, fields, origin, 1, now, now)
        return case, case.changed_event(sorted({*given, "priority", "status"}), by)

    def edit(self, *, version: int, changes: CaseFields, clear: Sequence[str], by: str | None,
             now: datetime) -> ev.CaseChanged | None:
        """Apply an inline edit made against `version`; None when it changes nothing."""
        if version != self.version:
            raise Rejected("version_conflict", f"case {self.number} is at version {self.version}, the edit was made "
                                               f"against version {version}: read it again")
        given = changes.model_dump(exclude_none=True)
        if both := sorted(set(given) & set(clear)):
            raise Rejected("invalid_argument", f"{', '.join(both)}: both set and cleared")
        if required := sorted(set(clear) & set(REQUIRED)):
            raise Rejected("invalid_argument", f"{', '.join(required)}: a case cannot be without one")
        if "title" in given:
            given["title"] = given["title"].strip()
            if not given["title"]:
                raise Rejected("invalid_argument", "title: a case cannot be without one")
        status = given.get("status", self.fields.status)
        if status != self.fields.status and status not in TRANSITIONS[self.fields.status or "new"]:
            raise Rejected("invalid_state", f"case {self.number} cannot go from {self.fields.status} to {status} "
                                            f"(allowed: {', '.join(TRANSITIONS[self.fields.status or 'new'])})")
        fields = self.fields.model_copy(update={**given, **dict.fromkeys(clear)})
        changed = [name for name in CaseFields.model_fields if getattr(fields, name) != getattr(self.fields, name)]
        if not changed:
            return None
        self.fields, self.version, self.updated_at = fields, self.version + 1, now
        return self.changed_event(changed, by)

    def identify(self, contact_id: str | None, account_id: str | None, *, now: datetime) -> ev.CaseChanged | None:
        """The customer of the conversation it was opened from, learnt after it was opened without one (cases had
        not yet followed the conversation's start); a customer named since stays."""
        if self.fields.contact_id or self.fields.account_id or not (contact_id or account_id):
            return None
        return self.edit(version=self.version, changes=CaseFields(contact_id=contact_id, account_id=account_id),
                         clear=(), by=None, now=now)

    def link(self, conversation_id: str) -> bool:
        """Remember a linked conversation; False if it was linked already."""
        if conversation_id in self.conversations:
            return False
        self.conversations.append(conversation_id)
        return True

    def unlink(self, conversation_id: str) -> None:
        if conversation_id in self.conversations:
            self.conversations.remove(conversation_id)

    def changed_event(self, changed: list[str], by: str | None) -> ev.CaseChanged:
        f = self.fields
        return ev.CaseChanged(case_id=self.id, number=self.number, version=self.version, title=f.title or "",
                              priority=f.priority or "normal", status=f.status or "new", contact_id=f.contact_id,
                              account_id=f.account_id, owner_id=f.owner_id, origin=self.origin, changed=changed,
                              by=by, at=self.updated_at)


def only_active(cases: Sequence[Case]) -> Case | None:
    """The case to link a customer's new conversation to automatically: its one active case, if exactly one."""
    active = [c for c in cases if c.active]
    return active[0] if len(active) == 1 else None


SR_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "registered": ("in_progress", "done", "cancelled"),
    "in_progress": ("done", "cancelled"),
    "done": (),
    "cancelled": (),
}


@dataclass
class ServiceRequest:
    """A service request (K3): registered from a chat, linked to the conversation and the customer."""
    id: str
    conversation_id: str
    contact_id: str | None
    title: str
    details: str
    status: ServiceRequestStatus
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def register(cls, request_id: str, *, conversation_id: str, contact_id: str | None, title: str, details: str,
                 by: str | None, now: datetime) -> tuple[ServiceRequest, ev.ServiceRequestChanged]:
        if not title.strip():
            raise Rejected("invalid_argument", "title: a service request needs one")
        sr = cls(request_id, conversation_id, contact_id, title.strip(), details, "registered", 1, now, now)
        return sr, sr.changed_event(by)

    def change(self, *, version: int, status: ServiceRequestStatus, by: str | None,
               now: datetime) -> ev.ServiceRequestChanged | None:
        if version != self.version:
            raise Rejected("version_conflict", f"service request {self.id} is at version {self.version}, the change "
                                               f"was made against version {version}: read it again")
        if status == self.status:
            return None
        if status not in SR_TRANSITIONS[self.status]:
            allowed = ", ".join(SR_TRANSITIONS[self.status]) or "none: it is finished"
            raise Rejected("invalid_state", f"service request {self.id} cannot go from {self.status} to {status} "
                                            f"(allowed: {allowed})")
        self.status, self.version, self.updated_at = status, self.version + 1, now
        return self.changed_event(by)

    def identify(self, contact_id: str | None, *, now: datetime) -> ev.ServiceRequestChanged | None:
        """The conversation's contact, learnt after the request was registered without one (cases had not yet
        followed the conversation's start)."""
        if self.contact_id is not None or contact_id is None:
            return None
        self.contact_id, self.version, self.updated_at = contact_id, self.version + 1, now
        return self.changed_event(None)

    def changed_event(self, by: str | None) -> ev.ServiceRequestChanged:
        return ev.ServiceRequestChanged(service_request_id=self.id, version=self.version,
                                        conversation_id=self.conversation_id, contact_id=self.contact_id,
                                        title=self.title, status=self.status, by=by, at=self.updated_at)
