"""The timeline (K2), pure: the entry each followed event makes (kind, words, who, the records it belongs to by
itself), the records a conversation's entries belong to, and a page's keyset cursor.

An entry's key derives from the event it records (another service's event: its envelope id; cases' own events:
what they are about and their version), so the same event never makes two entries. A conversation's entries
also belong to the conversation's case, contact and account as they are now (timeline_cases.py keeps them so)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.contracts import cases as c
from shared.contracts import chat, routing
from shared.contracts.answers import Rejected
from shared.contracts.cases.timeline import EntryKind

ERASED = "[erased]"
# Kinds whose detail may hold personal text (the customer's name, a transfer's reason in an agent's words): a
# contact's erasure blanks them. Notes' texts are not copied into entries at all (read from `notes`).
PERSONAL: tuple[EntryKind, ...] = ("conversation_started", "conversation_transferred")
CASE_FIELDS = {"title": "title", "priority": "priority", "status": "status", "owner_id": "owner",
               "contact_id": "contact", "account_id": "account"}
HOW = {"offer": "accepted an offer", "manual_take": "taken from the queue", "manual_open": "opened by the agent",
       "returned_from_waiting": "the customer wrote again"}


def record(kind: str, record_id: str) -> str:
    """How a timeline is named in an entry's `records`: case:k1, contact:ann, account:acme."""
    return f"{kind}:{record_id}"


@dataclass(frozen=True)
class Entry:
    key: str  # unique in the tenant, derived from the source event
    kind: EntryKind
    at: datetime
    title: str
    detail: str = ""
    by: str | None = None
    conversation_id: str | None = None
    case_id: str | None = None
    own: tuple[str, ...] = ()  # records it belongs to by itself, whatever its conversation is linked to later
    note_id: str | None = None  # a quick note: its text is read from `notes`


def conversation_records(case_id: str | None, contact_id: str | None, account_id: str | None) -> tuple[str, ...]:
    """The records a conversation's entries belong to, given what the conversation is linked to."""
    return tuple(record(k, v) for k, v in (("case", case_id), ("contact", contact_id), ("account", account_id))
                 if v)


def records_of(own: Iterable[str], linked: Iterable[str]) -> list[str]:
    return sorted({*own, *linked})


# --- one entry per event ---------------------------------------------------------------------------------

def started(e: chat.ConversationStarted, source: str) -> Entry:
    what = ("Offline message" if e.offline else "Group conversation started" if e.colleagues
            else "Proactive conversation started" if e.proactive else "Conversation started")
    detail = e.customer.name + (f"; topic: {e.topic}" if e.topic else "")
    return Entry(f"{source}|started", "conversation_started", e.started_at, f"{what} in {e.queue_id}", detail,
                 conversation_id=e.conversation_id)


def assigned(e: routing.ConversationAssigned, source: str, at: datetime) -> Entry:
    return Entry(f"{source}|assigned", "conversation_assigned", at, f"Conversation assigned to {e.agent_id}",
                 f"{HOW.get(e.how, e.how)} (queue {e.queue_id})", by=e.agent_id, conversation_id=e.conversation_id)


def transferred(e: routing.ConversationTransferred, source: str, at: datetime) -> Entry:
    to = " in ".join(filter(None, (e.to_agent_id, e.to_queue_id and f"queue {e.to_queue_id}")))
    return Entry(f"{source}|transferred", "conversation_transferred", at,
                 f"Conversation transferred to {to}" if to else "Conversation transferred", e.reason,
                 by=e.from_agent_id, conversation_id=e.conversation_id)


def ended(e: chat.ConversationClosed, source: str) -> Entry:
    who = {"customer": "the customer", "agent": e.agent_id or "an agent"}.get(e.ended_by, "the system")
    wrap_up = f"Wrap-up: {e.wrap_up_reason}" if e.wrap_up_reason else "No wrap-up reason"
    return Entry(f"{source}|ended", "conversation_ended", e.closed_at, f"Conversation ended by {who}",
                 f"{wrap_up}; {e.messages} message{'s' * (e.messages != 1)}", by=e.agent_id,
                 conversation_id=e.conversation_id)


def case_changed(e: c.CaseChanged) -> Entry:
    """A case's opening or edit: in the case's timeline and its contact's and account's (as they were then)."""
    own = (record("case", e.case_id), *conversation_records(None, e.contact_id, e.account_id))
    if e.version == 1:
        origin = {"conversation": "; from a conversation", "offline_message": "; from an offline message"}
        return Entry(f"case|{e.case_id}|v1", "case_opened", e.at, f"Case {e.number} opened: {e.title}",
                     f"Priority {e.priority}, status {e.status}{origin.get(e.origin, '')}", by=e.by,
                     case_id=e.case_id, own=own)
    changes = [f"{CASE_FIELDS[f]}: {getattr(e, f) or 'none'}" if f in CASE_FIELDS else f for f in e.changed]
    return Entry(f"case|{e.case_id}|v{e.version}", "case_changed", e.at, f"Case {e.number} changed",
                 "; ".join(changes), by=e.by, case_id=e.case_id, own=own)


def linked(e: c.ConversationLinked, by: str | None) -> Entry:
    """In the new case's timeline and, when it moved, the previous one's (which keeps the record of the move)."""
    own = tuple(record("case", k) for k in (e.case_id, e.previous_case_id) if k)
    return Entry(f"link|{e.conversation_id}|{e.case_id}|{e.at.isoformat()}", "case_linked", e.at,
                 f"Conversation linked to case {e.number}" + (" automatically" if e.automatic else ""),
                 f"moved from case {e.previous_case_id}" if e.previous_case_id else "", by=by,
                 conversation_id=e.conversation_id, case_id=e.case_id, own=own)


def quick_note(e: c.QuickNoteAdded) -> Entry:
    return Entry(f"note|{e.note_id}", "quick_note", e.at, f"Note by {e.by}" if e.by else "Note", by=e.by,
                 case_id=e.record_id if e.record_kind == "case" else None, own=(record(e.record_kind, e.record_id),),
                 note_id=e.note_id)


def service_request(e: c.ServiceRequestChanged) -> Entry:
    title = (f"Service request registered: {e.title}" if e.version == 1
             else f"Service request {e.title}: {e.status.replace('_', ' ')}")
    return Entry(f"sr|{e.service_request_id}|v{e.version}", "service_request", e.at, title, f"Status {e.status}",
                 by=e.by, conversation_id=e.conversation_id,
                 own=conversation_records(None, e.contact_id, None))


# --- paging --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    """Where a page ended in one timeline (newest first: by time, then entry id); a cursor is its encoding."""
    timeline: str
    at: datetime
    entry_id: str

    def encode(self) -> str:
        raw = json.dumps([self.timeline, self.at.isoformat(), self.entry_id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, timeline: str) -> Position:
        """The position a cursor of `timeline` names; Rejected (invalid_argument) for anything else."""
        try:
            named, at, entry_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            position = cls(str(named), datetime.fromisoformat(at), str(entry_id))
        except (ValueError, TypeError) as exc:
            raise Rejected("invalid_argument", f"cursor: not one this timeline gave out ({type(exc).__name__})"
                           ) from None
        if position.timeline != timeline:
            raise Rejected("invalid_argument", f"cursor: given out for the timeline of {position.timeline}, "
                                               f"not {timeline}")
        if position.at.tzinfo is None:
            raise Rejected("invalid_argument", "cursor: not one this timeline gave out (a time without a zone)")
        return position
