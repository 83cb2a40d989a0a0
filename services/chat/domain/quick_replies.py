"""Quick replies: canned responses of the tenant (kept by admins) and of each staff member (their own, which
win over the tenant's of the same name), used by sending '/name'; variables are filled from the conversation."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.chat.domain.access import check_admin
from services.chat.domain.composer import RESERVED
from shared.contracts.answers import Rejected
from shared.contracts.chat.common import MAX_AGENT_TEXT, QuickReplyScope
from shared.contracts.envelope import Actor

VARIABLES = ("customer_name", "agent_name", "queue")
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_SHORTCUT = re.compile(r"^/([a-z0-9_-]{1,32})$")
STAFF = ("agent", "supervisor", "admin")


@dataclass(frozen=True)
class QuickReply:
    name: str
    scope: QuickReplyScope
    owner: str | None  # the staff member whose own reply it is; None: the tenant's
    text: str


def owner_for(actor: Actor, scope: QuickReplyScope) -> str | None:
    """Whose reply the actor may change: the tenant's (admins) or its own (any staff member)."""
    if scope == "tenant":
        check_admin(actor, action="change the tenant's quick replies")
        return None
    if actor.role not in STAFF:
        raise Rejected("forbidden", f"a {actor.role} keeps no quick replies")
    return actor.user_id


def check_reply_text(text: str) -> None:
    """A reply an agent could send: not empty, at most 1000 characters, no < or >, known variables only (the
    filled text is checked again by the composer when it is sent)."""
    if not text.strip():
        raise Rejected("invalid_text", "a quick reply is not empty")
    if len(text) > MAX_AGENT_TEXT:
        raise Rejected("invalid_text", f"a quick reply is at most {MAX_AGENT_TEXT} characters")
    if any(mark in text for mark in RESERVED):
        raise Rejected("invalid_text", "< and > are reserved for template parameters and cannot be sent")
    if unknown := sorted({v for v in _VARIABLE.findall(text) if v not in VARIABLES}):
        known = ", ".join(f"{{{v}}}" for v in VARIABLES)
        raise Rejected("invalid_argument", f"unknown variable(s) {', '.join(f'{{{v}}}' for v in unknown)}; "
                                           f"use {known}")


def shortcut(text: str) -> str | None:
    """The quick reply's name if the whole message is '/name' (surrounding blanks ignored), else None."""
    found = _SHORTCUT.match(text.strip())
    return found[1] if found else None


def choose(name: str, *, own: QuickReply | None, tenant: QuickReply | None) -> QuickReply:
    """The staff member's own reply wins over the tenant's of the same name."""
    reply = own or tenant
    if reply is None:
        raise Rejected("unknown_quick_reply", f"there is no quick reply /{name}")
    return reply


def available(replies: Iterable[QuickReply], *, prefix: str = "") -> list[QuickReply]:
    """One reply per name (own over the tenant's), by name, those starting with `prefix`."""
    chosen: dict[str, QuickReply] = {}
    for reply in replies:
        if reply.name.startswith(prefix) and (reply.name not in chosen or reply.owner is not None):
            chosen[reply.name] = reply
    return [chosen[name] for name in sorted(chosen)]


def variables(*, customer_name: str, agent_name: str, queue: str) -> dict[str, str]:
    return {"customer_name": customer_name, "agent_name": agent_name, "queue": queue}


def fill(text: str, values: Mapping[str, str]) -> str:
    """The text with its variables replaced (anything else in braces is left as written)."""
    return _VARIABLE.sub(lambda m: values.get(m[1], m[0]), text)
