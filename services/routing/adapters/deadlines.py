"""The queries routing's clock needs, across tenants: what is due now. Each answer names the slice a
timer use case must then load and decide on inside its own transaction (where the state is checked
again, so a deadline another instance already handled changes nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.queues import QUEUES
from services.routing.adapters.work_items import ITEMS
from services.routing.domain.model import ItemState


@dataclass(frozen=True)
class ExpiredOffer:
    tenant_id: str
    conversation_id: str
    agent_id: str


@dataclass(frozen=True)
class ExpiredWait:
    tenant_id: str
    conversation_id: str


@dataclass(frozen=True)
class Overdue:
    """Items that waited in a queue past its max_wait_s, to move to its overflow queue."""

    tenant_id: str
    queue_id: str
    overflow_queue_id: str
    conversation_ids: frozenset[str]


@dataclass(frozen=True)
class QueueWithWork:
    tenant_id: str
    queue_id: str


class RoutingDeadlines:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def expired_offers(self, now: datetime, *, limit: int) -> list[ExpiredOffer]:
        cursor = self._db[ITEMS].find({"state": ItemState.OFFERED.value, "offer.expires_at": {"$lte": now}},
                                      {"tenant_id": 1, "conversation_id": 1, "offer.agent_id": 1}).limit(limit)
        return [ExpiredOffer(d["tenant_id"], d["conversation_id"], d["offer"]["agent_id"]) async for d in cursor]

    async def expired_waits(self, now: datetime, *, limit: int) -> list[ExpiredWait]:
        """Persistent chats parked past their waiting period."""
        cursor = self._db[ITEMS].find({"state": ItemState.WAITING.value, "waiting_until": {"$lte": now}},
                                      {"tenant_id": 1, "conversation_id": 1}).limit(limit)
        return [ExpiredWait(d["tenant_id"], d["conversation_id"]) async for d in cursor]

    async def overdue(self, now: datetime, *, limit: int) -> list[Overdue]:
        found = []
        async for q in self._db[QUEUES].find({"overflow_queue_id": {"$ne": None}, "max_wait_s": {"$ne": None}}):
            cursor = self._db[ITEMS].find({"tenant_id": q["tenant_id"], "state": ItemState.QUEUED.value,
                                           "queue_id": q["queue_id"],
                                           "enqueued_at": {"$lte": now - timedelta(seconds=q["max_wait_s"])}},
                                          {"conversation_id": 1}).limit(limit)
            conversations = frozenset([d["conversation_id"] async for d in cursor])
            if conversations:
                found.append(Overdue(q["tenant_id"], q["queue_id"], q["overflow_queue_id"], conversations))
        return found

    async def queues_with_queued_work(self) -> list[QueueWithWork]:
        cursor = await self._db[ITEMS].aggregate([
            {"$match": {"state": ItemState.QUEUED.value}},
            {"$group": {"_id": {"tenant_id": "$tenant_id", "queue_id": "$queue_id"}}}])
        return [QueueWithWork(p["_id"]["tenant_id"], p["_id"]["queue_id"]) for p in await cursor.to_list()]
