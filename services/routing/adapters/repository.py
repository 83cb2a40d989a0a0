"""Loads the slice of a tenant's routing state one use case needs, and saves what the Router changed.

Every save is version-checked (a document changed since it was read raises ConcurrencyConflict and the
unit of work runs again), and the queues in scope are saved with a new version even when unchanged:
two transactions that could both hand work in the same queue (an arrival and a freed agent, say)
therefore always conflict, and the retried one sees the other's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo import DeleteOne, InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError

from services.routing.adapters.documents import (agent_from_doc, agent_to_doc, doc_id, item_from_doc, item_to_doc,
                                                 queue_from_doc, queue_to_doc)
from services.routing.domain.model import Agent, ItemState, QueueConfig, WorkItem
from services.routing.domain.router import Router
from shared.mongo import ConcurrencyConflict, Transaction

QUEUES, AGENTS, ITEMS = "queues", "agents", "work_items"
QUEUED_ITEMS_PER_LOAD = 1000


@dataclass
class Scope:
    """What a use case touches directly; the repository adds the queues and agents that dispatch needs."""

    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    conversations: set[str] = field(default_factory=set)
    offers_to_agents: bool = False  # also load items currently offered to the scope's agents
    active_items_of_queues: bool = False  # also load offered/assigned items of the scope's queues
    all_queues: bool = False  # queue configuration checks references between queues
    dispatch: bool = True  # False: the use case cannot add work or free capacity, so skip dispatch candidates


@dataclass
class Snapshot:
    queues: dict[str, QueueConfig]
    agents: dict[str, Agent]
    items: dict[str, WorkItem]
    dispatch_queues: set[str]


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], *, keep_ended_days: int = 30) -> None:
    await db[QUEUES].create_index([("tenant_id", ASCENDING), ("member_ids", ASCENDING)])
    await db[AGENTS].create_index([("tenant_id", ASCENDING)])
    await db[ITEMS].create_index([("tenant_id", ASCENDING), ("state", ASCENDING), ("queue_id", ASCENDING),
                                  ("priority", DESCENDING), ("enqueued_at", ASCENDING)], name="queue_order")
    await db[ITEMS].create_index([("state", ASCENDING), ("offer.expires_at", ASCENDING)], name="offer_timers")
    await db[ITEMS].create_index([("state", ASCENDING), ("waiting_until", ASCENDING)], name="waiting_timers")
    await db[ITEMS].create_index([("tenant_id", ASCENDING), ("holders", ASCENDING)], name="held_by")
    ttl = keep_ended_days * 24 * 3600
    existing = {i["name"]: i for i in await (await db[ITEMS].list_indexes()).to_list()}
    if existing.get("ended_ttl", {}).get("expireAfterSeconds", ttl) != ttl:  # setting changed since last start
        await db.command("collMod", ITEMS, index={"name": "ended_ttl", "expireAfterSeconds": ttl})
    else:
        await db[ITEMS].create_index("ended_at", name="ended_ttl", expireAfterSeconds=ttl)


class RoutingRepository:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self._tx = tx
        self._db = tx.db
        self._s = tx.session
        self.tenant_id = tenant_id
        self._versions: dict[tuple[str, str], int] = {}  # (collection, entity id) -> version read

    async def load(self, scope: Scope) -> Snapshot:
        t = self.tenant_id
        item_filter: list[dict[str, Any]] = []
        if scope.conversations:
            item_filter.append({"_id": {"$in": [doc_id(t, c) for c in scope.conversations]}})
        if scope.offers_to_agents and scope.agents:
            item_filter.append({"tenant_id": t, "state": ItemState.OFFERED.value,
                                "offer.agent_id": {"$in": sorted(scope.agents)}})
        if scope.active_items_of_queues and scope.queues:
            item_filter.append({"tenant_id": t, "queue_id": {"$in": sorted(scope.queues)},
                                "state": {"$in": [ItemState.OFFERED.value, ItemState.ASSIGNED.value]}})
        items = await self._items({"$or": item_filter}) if item_filter else {}

        involved = set(scope.agents)
        for item in items.values():
            involved.update(a for a in (*item.capacity_holders(), *item.invites, item.last_agent_id,
                                        item.responsible_agent_id, item.target_agent_id) if a)
        named = set(scope.queues) | {i.queue_id for i in items.values()}
        queues = await self._queues(None if scope.all_queues else
                                    {"$or": [{"queue_id": {"$in": sorted(named)}},
                                             {"member_ids": {"$in": sorted(involved)}}]})
        # Overflow and second-line targets: items may move there.
        referenced = {x for q in queues.values() for x in (q.overflow_queue_id, q.second_level_queue_id) if x}
        if missing := referenced - queues.keys():
            queues |= await self._queues({"queue_id": {"$in": sorted(missing)}})

        dispatch_queues: set[str] = set()
        if scope.dispatch:
            dispatch_queues = (named | {q.queue_id for q in queues.values() if involved & q.members.keys()}
                               | referenced) & queues.keys()
            queued = await self._items({"tenant_id": t, "state": ItemState.QUEUED.value,
                                        "queue_id": {"$in": sorted(dispatch_queues)}},
                                       sort=[("priority", DESCENDING), ("enqueued_at", ASCENDING)],
                                       limit=QUEUED_ITEMS_PER_LOAD)
            for cid, item in queued.items():
                items.setdefault(cid, item)
                involved.update(a for a in (item.last_agent_id, item.responsible_agent_id, item.target_agent_id)
                                if a)
            for qid in dispatch_queues:
                involved.update(queues[qid].members)
        agents = {a.agent_id: a for a in map(agent_from_doc, await self._find(
            AGENTS, {"_id": {"$in": [doc_id(t, a) for a in sorted(involved)]}}))}
        for q in queues.values():
            self._versions[(QUEUES, q.queue_id)] = q.version
        for a in agents.values():
            self._versions[(AGENTS, a.agent_id)] = a.version
        for i in items.values():
            self._versions[(ITEMS, i.conversation_id)] = i.version
        return Snapshot(queues, agents, items, dispatch_queues)

    async def save(self, router: Router, *, touch_queues: set[str]) -> None:
        """Write what changed (and bump the scope's queues), one version-checked bulk write per collection."""
        queue_ids = sorted((router.changed_queues | touch_queues) - router.removed_queues)
        await self._write(QUEUES, [(q, router.queues[q]) for q in queue_ids if q in router.queues], queue_to_doc,
                          deleted=sorted(router.removed_queues))
        await self._write(AGENTS, [(a, router.agents[a]) for a in sorted(router.changed_agents)], agent_to_doc)
        await self._write(ITEMS, [(c, router.items[c]) for c in sorted(router.changed_items)],
                          lambda tenant_id, item: item_to_doc(tenant_id, item, router.now))

    # --- helpers ----------------------------------------------------------------------------------

    async def _find(self, coll: str, query: dict[str, Any], **kw: Any) -> list[dict[str, Any]]:
        cursor = self._db[coll].find(query, session=self._s)
        if "sort" in kw:
            cursor = cursor.sort(kw["sort"])
        if "limit" in kw:
            cursor = cursor.limit(kw["limit"])
        return await cursor.to_list()

    async def _queues(self, query: dict[str, Any] | None) -> dict[str, QueueConfig]:
        docs = await self._find(QUEUES, {"tenant_id": self.tenant_id, **(query or {})})
        return {q.queue_id: q for q in map(queue_from_doc, docs)}

    async def _items(self, query: dict[str, Any], **kw: Any) -> dict[str, WorkItem]:
        return {i.conversation_id: i for i in map(item_from_doc, await self._find(ITEMS, query, **kw))}

    async def _write(self, coll: str, entities: list[tuple[str, Any]], to_doc: Any, deleted: list[str] = ()) -> None:
        ops: list[Any] = []
        for entity_id in deleted:
            ops.append(DeleteOne({"_id": doc_id(self.tenant_id, entity_id),
                                  "version": self._versions.get((coll, entity_id))}))
        for entity_id, entity in entities:
            read = self._versions.get((coll, entity_id))
            entity.version = (read or 0) + 1
            doc = to_doc(self.tenant_id, entity)
            ops.append(InsertOne(doc) if read is None else ReplaceOne({"_id": doc["_id"], "version": read}, doc))
        if not ops:
            return
        try:
            result = await self._db[coll].bulk_write(ops, ordered=True, session=self._s)
        except BulkWriteError as exc:
            if any(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
                raise ConcurrencyConflict(f"{coll}: created concurrently") from None
            raise
        if result.inserted_count + result.matched_count + result.deleted_count != len(ops):
            raise ConcurrencyConflict(f"{coll}: changed since it was read")
        for entity_id, entity in entities:
            self._versions[(coll, entity_id)] = entity.version
