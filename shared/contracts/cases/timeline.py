"""Cases' timeline read (K2): the page its read API answers for a case's, contact's or account's timeline. Part of
cases' contract: the gateway passes it on to staff as it is."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

EntryKind = Literal["conversation_started", "conversation_assigned", "conversation_transferred",
                    "conversation_ended", "case_opened", "case_changed", "case_linked", "quick_note",
                    "service_request"]


class TimelineEntry(BaseModel):
    entry_id: str = Field(description="Stable id of the entry (derived from the event it records).",
                          examples=["3f0c...|conversation_assigned"])
    kind: EntryKind = Field(description="What happened.")
    at: datetime = Field(description="When it happened (the event's own time, UTC).")
    title: str = Field(description="Short, for people.", examples=["Conversation assigned to alice"])
    detail: str = Field(description="More: the note's text, the wrap-up reason, the fields changed... (may be "
                                    "empty; '[erased]' after the contact's erasure).",
                        examples=["Wrap-up: resolved; 12 messages"])
    conversation_id: str | None = Field(description="The conversation it belongs to (None: not a conversation's).")
    case_id: str | None = Field(description="The case it concerns: the case itself, or the case the conversation "
                                            "is linked to now.")
    by: str | None = Field(description="Who did it (a staff user id; None: the customer or the system).")


class TimelinePage(BaseModel):
    entries: list[TimelineEntry] = Field(description="Newest first (ties: by entry id, descending).")
    next_cursor: str | None = Field(description="Give it back for the next, older page (None: this was the last).")
