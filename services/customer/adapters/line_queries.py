"""The line list's read (U3, MongoDB): one page of a line's users for one agent, in the list's order with a
keyset cursor; in streaming mode (a line of more than 100 users) only the users relevant to that agent,
unless the agent searches, which covers everyone on the line. Every query is on an index
(adapters/lines.py ensure_line_indexes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.customer.adapters.lines import AGENT_SETTINGS, AGENT_TIES, LINE_USERS
from services.customer.domain.checks import words
from services.customer.domain.lines import DEFAULT_WINDOW_DAYS, ORDER, Position, after, streaming, window_start
from shared.contracts.customer.reads import LinePage, LineUserRow

Doc = dict[str, Any]


def _position(doc: Doc) -> Position:
    return Position(doc["last_message_at"], doc["sort_name"], doc["customer_id"])


class LineQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def page(self, tenant_id: str, line_id: str, *, agent_id: str, now: datetime, limit: int = 50,
                   cursor: str | None = None, q: str | None = None, status: str | None = None,
                   open_with_me: bool = False) -> LinePage:
        line = {"tenant_id": tenant_id, "line_id": line_id}
        size = await self.db[LINE_USERS].count_documents(line)
        query: Doc = dict(line)
        conditions: list[Doc] = []
        tokens = words(q or "")
        if tokens:  # search covers every user of the line
            *whole, last = tokens
            conditions += [*({"words": w} for w in whole),
                           {"words": {"$elemMatch": {"$gte": last, "$lt": last + "\U0010ffff"}}}]
        elif streaming(size):
            conditions.append({"customer_id": {"$in": await self._relevant(tenant_id, agent_id, now)}})
        if status:
            query["status"] = status
        if open_with_me:
            query["open_with"] = agent_id
        if cursor:
            conditions.append(after(Position.decode(cursor)))
        if conditions:
            query["$and"] = conditions
        docs = await self.db[LINE_USERS].find(query).sort(ORDER).limit(limit + 1).to_list()
        more = len(docs) > limit
        docs = docs[:limit]
        ties = {d["customer_id"]: d async for d in self.db[AGENT_TIES].find(
            {"tenant_id": tenant_id, "agent_id": agent_id, "customer_id": {"$in": [d["customer_id"] for d in docs]}})}
        rows = [LineUserRow(
            customer_id=d["customer_id"], name=d["name"], status=d["status"], company=d.get("company"),
            last_message_at=d["last_message_at"] if d["last_message_at"].year > 1970 else None, preview=d["preview"],
            open_with_me=agent_id in d["open_with"], favourite=ties.get(d["customer_id"], {}).get("favourite", False),
            added=ties.get(d["customer_id"], {}).get("added", False)) for d in docs]
        return LinePage(rows=rows, next_cursor=_position(docs[-1]).encode() if more else None,
                        streaming=streaming(size) and not tokens, line_size=size)

    async def _relevant(self, tenant_id: str, agent_id: str, now: datetime) -> list[str]:
        """Users the agent added, made favourites, or worked with inside its relevance window."""
        settings = await self.db[AGENT_SETTINGS].find_one({"_id": f"{tenant_id}|{agent_id}"})
        since = window_start(now, settings["window_days"] if settings else DEFAULT_WINDOW_DAYS)
        found = self.db[AGENT_TIES].find({"tenant_id": tenant_id, "agent_id": agent_id, "$or": [
            {"added": True}, {"favourite": True}, {"last_worked_at": {"$gte": since}}]}, {"customer_id": 1})
        return [d["customer_id"] async for d in found]
