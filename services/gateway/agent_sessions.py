"""The agent's sessions panel (G3), pure: one document per agent (the panel) with a Home session that cannot be
closed and at most MAX_SESSIONS others, one per conversation, contact, account or case; titles, icons, unread
counts, alerts and what closing one would lose. No I/O: adapters/agent_sessions.py stores panels, the
projection (desk.py) and the routes (api_agent_sessions.py) change them through these functions.

A session's id says what it is (`conversation:<id>`, `contact:<id>`, `account:<id>`, `case:<id>`, `home`), so
opening one twice opens it once, from any device. Drafts are stored beside the panel (one per session): the
panel only says whether there is one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

Doc = dict[str, Any]
Kind = Literal["home", "conversation", "contact", "account", "case"]
HOME = "home"
MAX_SESSIONS = 10  # besides Home
MAX_DRAFT_BYTES = 64 * 1024  # a draft's JSON, as stored
# How long a slot held for an accept in flight counts (see hold): past the command's answer and the projection
# of the assignment, which opens the session and ends the hold, on a system that is not far behind.
HOLD = timedelta(seconds=30)
ALERT = "{title}. Your conversation urgently needs attention."
UNFINISHED = frozenset({"active", "wrap_up"})  # the assignee still owes the wrap-up


class SessionLimit(Exception):
    """The panel is full: a session must be closed first."""

    code = "session_limit"

    def __init__(self) -> None:
        super().__init__(f"{MAX_SESSIONS} sessions are open (or being opened): close one before opening another")


class HomeSession(Exception):
    code = "home_session"

    def __init__(self) -> None:
        super().__init__("the Home session cannot be closed")


def session_id(kind: Kind, ref: str | None = None) -> str:
    return HOME if kind == "home" else f"{kind}:{ref}"


def icon(title: str) -> str:
    """The first two letters of the title (letters or digits), upper-case: "Visitor 12" -> "VI"."""
    letters = [ch for ch in title if ch.isalnum()]
    return "".join(letters[:2]).upper()


def unread_display(unread: int) -> str:
    return "9+" if unread > 9 else str(unread)


def new_panel(tenant_id: str, agent_id: str) -> Doc:
    home = {"id": HOME, "kind": "home", "ref": None, "title": "Home", "unread": 0, "last_seq": 0, "alert": None,
            "has_draft": False, "state": None, "opened_at": None}
    return {"_id": f"{tenant_id}:{agent_id}", "tenant_id": tenant_id, "agent_id": agent_id, "focused": HOME,
            "sessions": [home], "refs": [], "held": [], "version": 0}


def find(panel: Doc, sid: str) -> Doc | None:
    return next((s for s in panel["sessions"] if s["id"] == sid), None)


def count(panel: Doc, at: datetime | None = None, *, besides: str | None = None) -> int:
    """Sessions open besides Home, and, given the time, the slots held for accepts in flight (hold) that have
    not run out, except the hold of conversation `besides` (the one being opened)."""
    held = 0 if at is None else len({h["conversation_id"] for h in _held(panel, at, besides=besides)})
    return sum(1 for s in panel["sessions"] if s["kind"] != "home") + held


def is_full(panel: Doc, at: datetime | None = None, *, besides: str | None = None) -> bool:
    return count(panel, at, besides=besides) >= MAX_SESSIONS


def can_open(panel: Doc, kind: Kind, ref: str, at: datetime | None = None) -> bool:
    """Whether opening (kind, ref) would succeed: it is open already, or there is room (counting the slots held
    for other conversations' accepts, given the time)."""
    return find(panel, session_id(kind, ref)) is not None or not is_full(
        panel, at, besides=ref if kind == "conversation" else None)


def hold(panel: Doc, conversation_id: str, at: datetime, token: str) -> bool:
    """Hold a slot for a conversation the agent is accepting (or taking), before the command goes to routing:
    two accepts at once with 9 sessions open then cannot both pass the limit, since each holds a slot in the
    panel, in a transaction. Each request holds under its own `token`; a conversation takes one slot however
    many requests hold it (a double click), and a refused one releases only its own hold. The session's opening
    (the projection of the assignment) takes the slot; a hold nobody took runs out after HOLD. False when
    nothing is to be held (its session is open); SessionLimit when the panel is full."""
    if find(panel, session_id("conversation", conversation_id)) is not None:
        return False
    if is_full(panel, at, besides=conversation_id):
        raise SessionLimit()
    panel["held"] = [*_held(panel, at, besides=None),
                     {"conversation_id": conversation_id, "token": token, "until": at + HOLD}]
    return True


def release(panel: Doc, conversation_id: str, token: str) -> bool:
    """A refused accept gives back its hold (another request's hold of the same conversation stays). False when
    it held none."""
    held = panel.get("held", [])
    panel["held"] = [h for h in held if (h["conversation_id"], h.get("token")) != (conversation_id, token)]
    return len(panel["held"]) != len(held)


def open_session(panel: Doc, kind: Kind, ref: str, title: str, at: datetime, *, focus: bool = False,
                 state: str | None = None) -> Doc:
    """The session of (kind, ref), opened if it is not (SessionLimit when the panel is full, counting slots held
    for other conversations); a conversation's session takes the slot held for it."""
    sid = session_id(kind, ref)
    found = find(panel, sid)
    if found is None:
        besides = ref if kind == "conversation" else None
        if is_full(panel, at, besides=besides):
            raise SessionLimit()
        panel["held"] = _held(panel, at, besides=besides)
        found = {"id": sid, "kind": kind, "ref": ref, "title": title, "unread": 0, "last_seq": 0, "alert": None,
                 "has_draft": False, "state": state, "opened_at": at}
        panel["sessions"].append(found)
        panel["refs"] = _refs(panel)
    if focus:
        panel["focused"] = sid
    return found


def close_session(panel: Doc, sid: str) -> None:
    if sid == HOME:
        raise HomeSession()
    panel["sessions"] = [s for s in panel["sessions"] if s["id"] != sid]
    panel["refs"] = _refs(panel)
    if panel["focused"] == sid:
        panel["focused"] = HOME


def focus(panel: Doc, sid: str) -> Doc | None:
    """Focus a session; its alert has been seen. None when there is no such session."""
    found = find(panel, sid)
    if found is not None:
        panel["focused"] = sid
        found["alert"] = None
    return found


def retitle(panel: Doc, sid: str, title: str | None) -> bool:
    found = find(panel, sid)
    if found is None or not title or found["title"] == title:
        return False
    found["title"] = title
    if found["alert"]:
        found["alert"] = {**found["alert"], "text": ALERT.format(title=title)}
    return True


def message_posted(panel: Doc, conversation_id: str, seq: int, *, from_customer: bool) -> bool:
    """A message in the conversation: the session knows the newest seq (focus marks it read) and counts the
    customer's messages as unread until chat says otherwise."""
    found = find(panel, session_id("conversation", conversation_id))
    if found is None or seq <= found["last_seq"]:
        return False
    found["last_seq"] = seq
    if from_customer:
        found["unread"] += 1
    return True


def messages_read(panel: Doc, conversation_id: str, unread: int) -> bool:
    """Chat's per-agent unread count after this agent read (chat.MessagesRead's `unread`)."""
    found = find(panel, session_id("conversation", conversation_id))
    if found is None or found["unread"] == unread:
        return False
    found["unread"] = unread
    return True


def state_changed(panel: Doc, conversation_id: str, state: str) -> bool:
    found = find(panel, session_id("conversation", conversation_id))
    if found is None or found["state"] == state:
        return False
    found["state"] = state
    return True


def set_alert(panel: Doc, conversation_id: str, at: datetime) -> bool:
    """The sentiment alert (C5) on the agent's session of the conversation: "<title>. Your conversation urgently
    needs attention." False when the agent has no session of it. Focusing the session clears it."""
    found = find(panel, session_id("conversation", conversation_id))
    if found is None:
        return False
    found["alert"] = {"text": ALERT.format(title=found["title"]), "at": at}
    return True


@dataclass(frozen=True)
class Loss:
    what: Literal["draft", "conversation"]
    detail: str


def losses(session: Doc, *, conversation_state: str | None, assigned: bool = True) -> list[Loss]:
    """What closing the session would lose or leave undone: an unsent draft; a conversation its assignee has
    not wrapped up yet (closing does the wrap-up, with a reason where the queue requires one)."""
    out = []
    if session["has_draft"]:
        out.append(Loss("draft", "an unsent draft (composer text or unsaved edits) is discarded"))
    if session["kind"] == "conversation" and assigned and conversation_state in UNFINISHED:
        out.append(Loss("conversation", f"the conversation is {conversation_state.replace('_', '-')}: "
                                        "closing the session wraps it up and ends it"))
    return out


def public(panel: Doc) -> Doc:
    """The panel as clients see it."""
    return {"focused": panel["focused"], "version": panel["version"],
            "sessions": [public_session(s) for s in panel["sessions"]]}


def public_session(s: Doc) -> Doc:
    alert = {**s["alert"], "at": _iso(s["alert"]["at"])} if s.get("alert") else None
    return {"id": s["id"], "kind": s["kind"], "ref": s["ref"], "title": s["title"], "icon": icon(s["title"]),
            "unread": s["unread"], "unread_display": unread_display(s["unread"]), "alert": alert,
            "has_draft": s["has_draft"], "state": s["state"], "opened_at": _iso(s["opened_at"])}


def frame(panel: Doc, at: datetime) -> Doc:
    """The `sessions` frame: the whole panel (small: drafts are not in it), so every device shows the same."""
    return {"type": "sessions", "conversation_id": None, "at": at.isoformat(), **public(panel)}


def _held(panel: Doc, at: datetime, *, besides: str | None) -> list[Doc]:
    """The holds still running, without those of conversation `besides`."""
    return [h for h in panel.get("held", []) if h["until"] > at and h["conversation_id"] != besides]


def _refs(panel: Doc) -> list[str]:
    return [s["id"] for s in panel["sessions"] if s["kind"] != "home"]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
