"""The queue repository: queues ("lines") as MongoDB documents in one tenant, the queries loading needs
(by id, by member, all of them) and their version-checked save, with the indexes behind those queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.routing.adapters.documents import entity_doc, entity_fields
from services.routing.adapters.versioned import VersionedCollection
from services.routing.domain.model import AssignmentMethod, QueueConfig
from shared.mongo import Transaction

QUEUES = "queues"


def queue_to_doc(tenant_id: str, q: QueueConfig) -> dict[str, Any]:
    # member_ids: an indexable list ("which queues is this agent in?"), since agent ids are map keys.
    return entity_doc(q, tenant_id, q.queue_id, member_ids=sorted(q.members))


def queue_from_doc(doc: dict[str, Any]) -> QueueConfig:
    values = entity_fields(QueueConfig, doc)
    values["method"] = AssignmentMethod(values["method"])
    return QueueConfig(**values)


async def ensure_queue_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db[QUEUES].create_index([("tenant_id", ASCENDING), ("member_ids", ASCENDING)])


class MongoQueues:
    def __init__(self, tx: Transaction, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.docs = VersionedCollection(tx, tenant_id, QUEUES, id_of=lambda q: q.queue_id, from_doc=queue_from_doc)

    async def all(self) -> dict[str, QueueConfig]:
        return await self.docs.find({"tenant_id": self.tenant_id})

    async def by_ids(self, queue_ids: Iterable[str]) -> dict[str, QueueConfig]:
        return await self.docs.find({"tenant_id": self.tenant_id, "queue_id": {"$in": sorted(queue_ids)}})

    async def named_or_with_members(self, queue_ids: Iterable[str], agent_ids: Iterable[str]
                                    ) -> dict[str, QueueConfig]:
        """These queues, and every queue any of these agents is a member of, in one query."""
        return await self.docs.find({"tenant_id": self.tenant_id,
                                      "$or": [{"queue_id": {"$in": sorted(queue_ids)}},
                                              {"member_ids": {"$in": sorted(agent_ids)}}]})

    async def save(self, queues: Iterable[QueueConfig], *, removed: Iterable[str] = ()) -> None:
        await self.docs.write(queues, lambda q: queue_to_doc(self.tenant_id, q), deleted=removed)
