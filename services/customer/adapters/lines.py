"""The line lists' records (U3), written through the unit of work's transaction (load, put) so the same code
runs on MongoDB and on the fakes: a row per user and line (with the user's open conversations on it), the
line each conversation belongs to, an agent's ties to users, and agents' relevance windows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.customer.domain.checks import words
from services.customer.domain.lines import (DEFAULT_WINDOW_DAYS, NEVER, AgentTies, ConversationTrace, open_with,
                                            status_of)

LINE_USERS, LINE_CONVERSATIONS, AGENT_TIES, AGENT_SETTINGS = ("line_users", "line_conversations", "agent_ties",
                                                              "agent_settings")


@dataclass
class LineUser:
    line_id: str
    customer_id: str
    name: str
    last_message_at: datetime = NEVER
    preview: str = ""
    conversations: dict[str, ConversationTrace] = field(default_factory=dict)  # its open ones on this line
    version: int = 0
    contact_name: str | None = None  # the linked contact's name (U5), listed instead of chat's name
    company: str | None = None  # the linked account's name, or the contact's position

    @property
    def listed_name(self) -> str:
        return self.contact_name or self.name

    @property
    def status(self) -> str:
        return status_of(self.conversations.values())

    @property
    def open_with(self) -> list[str]:
        return open_with(self.conversations.values())


async def ensure_line_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    line = [("tenant_id", ASCENDING), ("line_id", ASCENDING)]
    await db[LINE_USERS].create_index([*line, ("last_message_at", DESCENDING), ("sort_name", ASCENDING),
                                       ("customer_id", ASCENDING)], name="list_order")
    await db[LINE_USERS].create_index([*line, ("customer_id", ASCENDING)], name="by_user")
    await db[LINE_USERS].create_index([*line, ("words", ASCENDING)], name="words")
    await db[AGENT_TIES].create_index([("tenant_id", ASCENDING), ("agent_id", ASCENDING),
                                       ("customer_id", ASCENDING)], name="by_agent")


def line_user_doc(tenant_id: str, row: LineUser) -> dict[str, Any]:
    """A row as stored (without its version): the list's order and search keys at the top level; `name` is the
    listed one (a linked contact's), `chat_name` chat's name for the user."""
    name = row.listed_name
    return {"_id": f"{tenant_id}|{row.line_id}|{row.customer_id}", "tenant_id": tenant_id, "line_id": row.line_id,
            "customer_id": row.customer_id, "name": name, "chat_name": row.name, "contact_name": row.contact_name,
            "company": row.company, "words": words(name), "sort_name": " ".join(words(name)),
            "last_message_at": row.last_message_at, "preview": row.preview, "status": row.status,
            "open_with": row.open_with,
            "conversations": {cid: {"state": c.state, "agents": list(c.agents)} for cid, c in row.conversations.items()}}


class LineRecords:
    """One tenant's line-list records inside a unit of work (version-checked puts)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.t = tenant_id

    async def _put(self, collection: str, doc: dict[str, Any], read: int | None) -> None:
        await self.tx.put(collection, {**doc, "tenant_id": self.t, "version": (read or 0) + 1}, read_version=read)

    # --- conversations: which line and user each belongs to ------------------------------------------------

    async def trace(self, conversation_id: str) -> ConversationTrace | None:
        doc = await self.tx.load(LINE_CONVERSATIONS, f"{self.t}|{conversation_id}")
        if doc is None:
            return None
        return ConversationTrace(conversation_id, doc["customer_id"], doc["line_id"], doc["state"], doc["agents"])

    async def save_trace(self, trace: ConversationTrace) -> None:
        key = f"{self.t}|{trace.conversation_id}"
        stored = await self.tx.load(LINE_CONVERSATIONS, key)
        await self._put(LINE_CONVERSATIONS, {"_id": key, "conversation_id": trace.conversation_id,
                                             "customer_id": trace.customer_id, "line_id": trace.line_id,
                                             "state": trace.state, "agents": list(trace.agents)},
                        stored["version"] if stored else None)

    # --- rows ---------------------------------------------------------------------------------------------

    async def user(self, line_id: str, customer_id: str) -> LineUser | None:
        doc = await self.tx.load(LINE_USERS, f"{self.t}|{line_id}|{customer_id}")
        if doc is None:
            return None
        return LineUser(line_id, customer_id, doc.get("chat_name", doc["name"]), doc["last_message_at"], doc["preview"],
                        {cid: ConversationTrace(cid, customer_id, line_id, c["state"], c["agents"])
                         for cid, c in doc["conversations"].items()}, doc["version"], doc.get("contact_name"),
                        doc.get("company"))

    async def save_user(self, row: LineUser) -> None:
        await self._put(LINE_USERS, line_user_doc(self.t, row), row.version or None)
        row.version += 1

    # --- an agent's ties and settings ---------------------------------------------------------------------

    async def ties(self, agent_id: str, customer_id: str) -> tuple[AgentTies, int | None]:
        doc = await self.tx.load(AGENT_TIES, f"{self.t}|{agent_id}|{customer_id}")
        if doc is None:
            return AgentTies(), None
        return AgentTies(doc["added"], doc["favourite"], doc["last_worked_at"]), doc["version"]

    async def save_ties(self, agent_id: str, customer_id: str, ties: AgentTies, read: int | None) -> None:
        await self._put(AGENT_TIES, {"_id": f"{self.t}|{agent_id}|{customer_id}", "agent_id": agent_id,
                                     "customer_id": customer_id, "added": ties.added, "favourite": ties.favourite,
                                     "last_worked_at": ties.last_worked_at}, read)

    async def window_days(self, agent_id: str) -> int:
        doc = await self.tx.load(AGENT_SETTINGS, f"{self.t}|{agent_id}")
        return doc["window_days"] if doc else DEFAULT_WINDOW_DAYS

    async def set_window_days(self, agent_id: str, days: int) -> None:
        key = f"{self.t}|{agent_id}"
        stored = await self.tx.load(AGENT_SETTINGS, key)
        await self._put(AGENT_SETTINGS, {"_id": key, "agent_id": agent_id, "window_days": days},
                        stored["version"] if stored else None)
