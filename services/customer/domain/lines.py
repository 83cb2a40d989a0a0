"""The users of a support line (U3), pure: who belongs to a line, what their row shows, which rows an agent
sees (every user of a small line; on a line of more than STREAMING_ABOVE users only the relevant ones:
added by the agent, favourites, or worked with inside the agent's relevance window), the order of the
list and its keyset cursor.

A user belongs to a line when an admin connects them or when they first write on it (chat's
ConversationStarted names the queue, which is the line). Rows follow chat's events per conversation; a
user's row on a line sums up that user's conversations on it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.contracts.answers import Rejected

STREAMING_ABOVE = 100  # more users than this on a line: streaming mode
DEFAULT_WINDOW_DAYS, MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 60, 7, 90
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # "no message yet": sorts after every real time, newest first
PREVIEW_CHARS = 120

Status = Literal["online", "away", "offline"]


@dataclass
class ConversationTrace:
    """What the line list needs of one conversation: whose, which line, its state and agents."""
    conversation_id: str
    customer_id: str
    line_id: str
    state: str = "requested"
    agents: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.state != "closed"


def status_of(conversations: Iterable[ConversationTrace]) -> Status:
    """Online while a conversation is open and being worked or waiting for an agent; away while it is only
    parked (persistent chat); offline with none open."""
    states = {c.state for c in conversations if c.open}
    if states - {"waiting"}:
        return "online"
    return "away" if states else "offline"


def open_with(conversations: Iterable[ConversationTrace]) -> list[str]:
    """Agents the user has an open appeal with (the marker on their row in those agents' lists)."""
    return sorted({a for c in conversations if c.open for a in c.agents})


def preview(text: str) -> str:
    """The row's last-message preview (chat's text, already masked)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[:PREVIEW_CHARS - 1] + "…"


def check_window(days: int) -> int:
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise Rejected("invalid_argument", f"relevance window: {days} days is outside {MIN_WINDOW_DAYS}-"
                                           f"{MAX_WINDOW_DAYS}")
    return days


@dataclass(frozen=True)
class AgentTies:
    """An agent's own ties to one user: added to its list, a favourite, last worked with."""
    added: bool = False
    favourite: bool = False
    last_worked_at: datetime | None = None


def window_start(now: datetime, window_days: int) -> datetime:
    """Worked with at or after this counts as relevant; added users and favourites always are."""
    return now - timedelta(days=check_window(window_days))


def streaming(line_size: int) -> bool:
    return line_size > STREAMING_ABOVE


# --- order and cursor: (last message time, newest first; name; id) ---------------------------------------

@dataclass(frozen=True)
class Position:
    """Where a row stands in the list; a cursor is the position of the last row served."""
    last_message_at: datetime
    sort_name: str
    customer_id: str

    def encode(self) -> str:
        raw = json.dumps([self.last_message_at.isoformat(), self.sort_name, self.customer_id])
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Position:
        try:
            at, name, cid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            return cls(datetime.fromisoformat(at), str(name), str(cid))
        except (ValueError, TypeError) as exc:
            raise Rejected("invalid_argument", f"cursor: not one this list gave out ({type(exc).__name__})") from None

    def sort_key(self) -> tuple[float, str, str]:
        return (-self.last_message_at.timestamp(), self.sort_name, self.customer_id)


def after(position: Position) -> dict[str, object]:
    """The MongoDB filter for rows strictly after `position` in the list's order (keyset: no row twice)."""
    at, name, cid = position.last_message_at, position.sort_name, position.customer_id
    return {"$or": [{"last_message_at": {"$lt": at}},
                    {"last_message_at": at, "sort_name": {"$gt": name}},
                    {"last_message_at": at, "sort_name": name, "customer_id": {"$gt": cid}}]}


ORDER = [("last_message_at", -1), ("sort_name", 1), ("customer_id", 1)]
