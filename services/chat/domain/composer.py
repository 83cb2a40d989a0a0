"""Composer rules (C3) and message previews: what a sender may write, checked before anything is stored."""

from __future__ import annotations

from shared.contracts.answers import Rejected
from shared.contracts.chat.common import MAX_AGENT_TEXT, MAX_CUSTOMER_TEXT, SenderKind

RESERVED = ("<", ">")  # reserved for template parameters: agents cannot send them


def check_text(text: str, *, sender: SenderKind) -> None:
    """Refuse a text its sender may not send (code invalid_text). The text itself is never altered:
    line breaks, repeated ones included, are stored exactly as sent."""
    if not text.strip():
        raise Rejected("invalid_text", "the message is empty")
    if len(text) > MAX_CUSTOMER_TEXT:
        raise Rejected("invalid_text", f"a message is at most {MAX_CUSTOMER_TEXT} characters")
    if sender != "agent":
        return
    if len(text) > MAX_AGENT_TEXT:
        raise Rejected("invalid_text", f"an agent's message is at most {MAX_AGENT_TEXT} characters, "
                                       f"this one has {len(text)}")
    if any(mark in text for mark in RESERVED):
        raise Rejected("invalid_text", "< and > are reserved for template parameters and cannot be sent")


def preview(text: str | None, *, words: int = 12, max_chars: int = 100) -> str:
    """The first words of a message on one line, as an offer shows them."""
    if not text:
        return ""
    parts = text.split()
    short = " ".join(parts[:words])
    if len(short) > max_chars:
        short = short[:max_chars - 1].rstrip()
        return f"{short}…"
    return f"{short}…" if len(parts) > words else short
