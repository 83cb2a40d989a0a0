"""The work-item repository: conversations in routing as MongoDB documents in one tenant, the queries
loading needs (by conversation, offered to agents, active or queued in queues, in queue order) and their
version-checked save, so an item leaves `queued` once; with the indexes behind those queries and the
timers' (adapters/deadlines.py), and the TTL that purges ended items."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.documents import doc_id, entity_doc, entity_fields
from services.routing.adapters.versioned import VersionedCollection
from services.routing.domain.model import ItemState, Offer, WorkItem
from shared.mongo import Transaction

ITEMS = "work_items"
QUEUE_ORDER = [("priority", DESCENDING), ("enqueued_at", ASCENDING)]  # WorkItem.order, for the database


def item_to_doc(tenant_id: str, item: WorkItem, now: datetime) -> dict[str, Any]:
    # holders: agents whose capacity this item uses or who are invited, for "what does agent X hold?" queries.
    holders = sorted({*item.capacity_holders(), *item.invites})
    # ended_at: a TTL index purges ended items; one that comes back before then is replaced, so None again.
    ended_at = now if item.state == ItemState.ENDED else None
    return entity_doc(item, tenant_id, item.conversation_id, holders=holders, ended_at=ended_at)


def item_from_doc(doc: dict[str, Any]) -> WorkItem:
    values = entity_fields(WorkItem, doc)
    values["state"] = ItemState(values["state"])
    values["participants"] = set(values.get("participants") or ())
    if values.get("offer"):
        values["offer"] = Offer(**values["offer"])
    return WorkItem(**values)


async def ensure_item_indexes(db: AsyncDatabase[dict[str, Any]], *, keep_ended_days: int) -> None:
    items = db[ITEMS]
    await items.create_index([("tenant_id", ASCENDING), ("state", ASCENDING), ("queue_id", ASCENDING), *QUEUE_ORDER],
                             name="queue_order")
    await items.create_index([("state", ASCENDING), ("offer.expires_at", ASCENDING)], name="offer_timers")
    await items.create_index([("state", ASCENDING), ("waiting_until", ASCENDING)], name="waiting_timers")
    await items.create_index([("tenant_id", ASCENDING), ("holders", ASCENDING)], name="held_by")
    ttl = keep_ended_days * 24 * 3600
    existing = {i["name"]: i for i in await (await items.list_indexes()).to_list()}
    if existing.get("ended_ttl", {}).get("expireAfterSeconds", ttl) != ttl:  # setting changed since last start
        await db.command("collMod", ITEMS, index={"name": "ended_ttl", "expireAfterSeconds": ttl})
    else:
        await items.create_index("ended_at", name="ended_ttl", expireAfterSeconds=ttl)


class MongoWorkItems:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._docs = VersionedCollection(tx, tenant_id, ITEMS, id_of=lambda i: i.conversation_id,
                                         from_doc=item_from_doc)

    async def matching(self, *, conversations: Iterable[str] = (), offered_to: Iterable[str] = (),
                       active_in: Iterable[str] = ()) -> dict[str, WorkItem]:
        """In one query: these conversations, the items offered to these agents, and the offered or
        assigned items of these queues (nothing asked, nothing read)."""
        t, either = self.tenant_id, []
        if conversations := sorted(conversations):
            either.append({"_id": {"$in": [doc_id(t, c) for c in conversations]}})
        if offered_to := sorted(offered_to):
            either.append({"tenant_id": t, "state": ItemState.OFFERED.value, "offer.agent_id": {"$in": offered_to}})
        if active_in := sorted(active_in):
            either.append({"tenant_id": t, "queue_id": {"$in": active_in},
                           "state": {"$in": [ItemState.OFFERED.value, ItemState.ASSIGNED.value]}})
        return await self._docs.find({"$or": either}) if either else {}

    async def waiting_in(self, queue_ids: Iterable[str], *, limit: int) -> dict[str, WorkItem]:
        """The first `limit` waiting (queued or offered) items of these queues, in queue order."""
        return await self._docs.find({"tenant_id": self.tenant_id,
                                      "state": {"$in": [ItemState.QUEUED.value, ItemState.OFFERED.value]},
                                      "queue_id": {"$in": sorted(queue_ids)}}, sort=QUEUE_ORDER, limit=limit)

    async def save(self, items: Iterable[WorkItem], *, now: datetime) -> None:
        await self._docs.write(items, lambda item: item_to_doc(self.tenant_id, item, now))
