"""Storage of the agents' sessions panels (G3, agent_sessions.py) and their drafts, in the gateway's database.

- `agent_panels`: one document per agent (`tenant:agent`), its sessions and which one is focused, with a
  `version` that every change increments and `refs` (its session ids) to find the panels holding a session;
- `session_drafts`: one document per session with a draft (`tenant:agent:session`), any JSON.

Every change of a panel is written with its `sessions` frame on the agent's stream in one transaction, so the
agent's other devices follow it exactly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from pymongo import ASCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway import agent_sessions
from services.gateway.adapters.store import agent_stream, append, wake_relays
from shared.mongo import hot

PANELS, DRAFTS = "agent_panels", "session_drafts"
Doc = dict[str, Any]
T = TypeVar("T")


async def ensure_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[PANELS].create_index([("tenant_id", ASCENDING), ("refs", ASCENDING)], name="by_session")


class Panels:
    """Panels read and written inside one transaction (the consumer's, or a route's)."""

    def __init__(self, db: AsyncDatabase[Doc], session: AsyncClientSession, tenant_id: str, *,
                 frames: list[tuple[str, Doc]] | None = None) -> None:
        """`frames`: where saved panels put their `sessions` frames for the caller to queue with the rest of what
        its transaction pushes (one write for all of them); without it, each save queues its own."""
        self.db, self.session, self.tenant_id = db, session, tenant_id
        self.frames = frames

    async def get(self, agent_id: str) -> Doc:
        found = await self.db[PANELS].find_one({"_id": f"{self.tenant_id}:{agent_id}"}, session=self.session)
        return found or agent_sessions.new_panel(self.tenant_id, agent_id)

    async def holding(self, sid: str) -> list[Doc]:
        """The panels with the session `sid` open (e.g. every agent's session of one conversation)."""
        return await self.db[PANELS].find({"tenant_id": self.tenant_id, "refs": sid},
                                          session=self.session).to_list()

    async def save(self, panel: Doc, at: datetime) -> None:
        """Store the panel (its version one higher) and push its `sessions` frame to the agent."""
        panel["version"] += 1
        hot(agent_stream(self.tenant_id, panel["agent_id"]))  # an agent's panel: its conversations' events
        await self.db[PANELS].replace_one({"_id": panel["_id"]}, panel, upsert=True, session=self.session)
        frame = (agent_stream(self.tenant_id, panel["agent_id"]), agent_sessions.frame(panel, at))
        if self.frames is not None:
            self.frames.append(frame)
        else:
            await append(self.db, self.session, [frame])

    async def keep_holds(self, panel: Doc) -> None:
        """Store the panel after a hold or release (agent_sessions.hold): what clients see is unchanged, so
        no frame and the same version."""
        await self.db[PANELS].replace_one({"_id": panel["_id"]}, panel, upsert=True, session=self.session)

    async def draft(self, agent_id: str, sid: str) -> Any:
        found = await self.db[DRAFTS].find_one({"_id": f"{self.tenant_id}:{agent_id}:{sid}"}, session=self.session)
        return found["draft"] if found else None

    async def keep_draft(self, agent_id: str, sid: str, draft: Any, at: datetime) -> None:
        key = {"_id": f"{self.tenant_id}:{agent_id}:{sid}"}
        if draft is None:
            await self.db[DRAFTS].delete_one(key, session=self.session)
        else:
            await self.db[DRAFTS].replace_one(key, {**key, "draft": draft, "saved_at": at}, upsert=True,
                                              session=self.session)


async def in_transaction(db: AsyncDatabase[Doc], tenant_id: str, work: Callable[[Panels], Awaitable[T]]) -> T:
    """Run `work` on the panels in a transaction of its own (retried on a write conflict, e.g. with the
    consumer changing the same panel)."""
    async with db.client.start_session() as session:
        async def callback(s: AsyncClientSession) -> T:
            return await work(Panels(db, s, tenant_id))
        result = await session.with_transaction(callback)
    wake_relays()  # a saved panel queued its frame
    return result


def now() -> datetime:
    return datetime.now(UTC)
