"""A conversation's transcript, as a customer or staff member downloads it: who wrote what and when, system
messages included, private notes only when the reader may read them (the caller fetches the messages that
way). Pure: built from chat's conversation and message reads and the gateway's staff display names."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from shared.contracts.chat.reads import ConversationView, MessageView

SYSTEM_NAME = "System"


class TranscriptEntry(BaseModel):
    seq: int = Field(description="The message's position in the conversation.")
    sent_at: datetime
    sender_kind: str = Field(description="customer, agent, bot or system.")
    sender_id: str
    sender_name: str = Field(description="The customer's name, the agent's display name, the bot's id, 'System'.")
    text: str
    private: bool = Field(description="A private note (only in staff transcripts that may read notes).")
    attachments: list[str] = Field(default_factory=list, description="Names of the files attached.")


class Transcript(BaseModel):
    conversation_id: str
    queue_id: str
    state: str
    customer_name: str
    started_at: datetime
    closed_at: datetime | None
    entries: list[TranscriptEntry] = Field(description="In sequence order.")


def name_of(sender: Mapping[str, str], *, customer_name: str, staff_names: Mapping[str, str]) -> str:
    kind, who = sender["kind"], sender["id"]
    if kind == "customer":
        return customer_name
    if kind == "agent":
        return staff_names.get(who) or who
    if kind == "system" and who == "system":
        return SYSTEM_NAME
    return who


def build(view: ConversationView, messages: list[MessageView], staff_names: Mapping[str, str]) -> Transcript:
    customer_name = view.customer.name
    entries = [TranscriptEntry(
        seq=m.seq, sent_at=m.sent_at, sender_kind=m.sender.kind, sender_id=m.sender.id,
        sender_name=name_of(m.sender.model_dump(), customer_name=customer_name, staff_names=staff_names),
        text=m.text, private=m.private, attachments=[a.name for a in getattr(m, "attachments", [])])
        for m in messages]
    return Transcript(conversation_id=view.conversation_id, queue_id=view.queue_id, state=view.state,
                      customer_name=customer_name, started_at=view.started_at, closed_at=view.closed_at,
                      entries=entries)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_text(t: Transcript) -> str:
    """Plain text, one message per paragraph: '[when] who: text', continuation lines indented."""
    lines = [f"Conversation {t.conversation_id}", f"Customer: {t.customer_name}", f"Queue: {t.queue_id}",
             f"Started: {_when(t.started_at)}"]
    if t.closed_at is not None:
        lines.append(f"Closed: {_when(t.closed_at)}")
    lines.append("")
    for e in t.entries:
        who = e.sender_name + (" (private note)" if e.private else "")
        first, *rest = e.text.split("\n") if e.text else [""]
        lines.append(f"[{_when(e.sent_at)}] {who}: {first}")
        lines += [f"    {line}" for line in rest]
        lines += [f"    [file: {name}]" for name in e.attachments]
    return "\n".join(lines) + "\n"


def staff_ids(messages: list[MessageView]) -> list[str]:
    return sorted({m.sender.id for m in messages if m.sender.kind == "agent"})


def parse_page(page: dict[str, Any]) -> tuple[list[MessageView], int]:
    """Chat's message page: its messages and the conversation's last sequence number."""
    return [MessageView.model_validate(m) for m in page["messages"]], page["last_seq"]
