"""The read API's queries: routing's state as stored, straight from MongoDB (no transaction: each answer is a
read of committed data), always within one tenant. A conversation's place is counted, not loaded, so it is
exact however long the queue is."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.agents import AGENTS, agent_from_doc
from services.routing.adapters.documents import doc_id
from services.routing.adapters.queues import QUEUES, queue_from_doc
from services.routing.adapters.work_items import ITEMS, item_from_doc
from services.routing.domain.model import Agent, ItemState, QueueConfig, WorkItem

Doc = dict[str, Any]
WAITING = [ItemState.QUEUED.value, ItemState.OFFERED.value]


class RoutingQueries(Protocol):
    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None: ...
    async def agents(self, tenant_id: str, agent_ids: Iterable[str]) -> dict[str, Agent]: ...
    async def item(self, tenant_id: str, conversation_id: str) -> WorkItem | None: ...
    async def waiting(self, tenant_id: str, queue_id: str) -> dict[str, int]: ...
    async def waiting_ahead(self, tenant_id: str, item: WorkItem) -> dict[str, int]: ...


def ahead_of(item: WorkItem) -> Doc:
    """Waiting items before this one in queue order (WorkItem.order: priority, time in the queue, id)."""
    return {"queue_id": item.queue_id, "state": {"$in": WAITING}, "$or": [
        {"priority": {"$gt": item.priority}},
        {"priority": item.priority, "enqueued_at": {"$lt": item.enqueued_at}},
        {"priority": item.priority, "enqueued_at": item.enqueued_at, "conversation_id": {"$lt": item.conversation_id}},
    ]}


class MongoRoutingQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        doc = await self._db[QUEUES].find_one({"_id": doc_id(tenant_id, queue_id)})
        return queue_from_doc(doc) if doc else None

    async def agents(self, tenant_id: str, agent_ids: Iterable[str]) -> dict[str, Agent]:
        docs = await self._db[AGENTS].find({"_id": {"$in": [doc_id(tenant_id, a) for a in sorted(agent_ids)]}}
                                           ).to_list()
        return {d["agent_id"]: agent_from_doc(d) for d in docs}

    async def item(self, tenant_id: str, conversation_id: str) -> WorkItem | None:
        doc = await self._db[ITEMS].find_one({"_id": doc_id(tenant_id, conversation_id)})
        return item_from_doc(doc) if doc else None

    async def waiting(self, tenant_id: str, queue_id: str) -> dict[str, int]:
        return await self._count_by_state({"tenant_id": tenant_id, "queue_id": queue_id, "state": {"$in": WAITING}})

    async def waiting_ahead(self, tenant_id: str, item: WorkItem) -> dict[str, int]:
        return await self._count_by_state({"tenant_id": tenant_id, **ahead_of(item)})

    async def _count_by_state(self, match: Doc) -> dict[str, int]:
        """state -> how many match, in one round trip."""
        cursor = await self._db[ITEMS].aggregate([{"$match": match}, {"$group": {"_id": "$state", "n": {"$sum": 1}}}])
        return {row["_id"]: row["n"] for row in await cursor.to_list()}
