"""Routing's storage adapters over shared/testing/fakes.py's FakeUnitOfWork, for use-case tests.

Documents are the same as in MongoDB (adapters/documents.py), and saves are version-checked the same way.
Loading is simpler than the MongoDB repository's: it hands the Router everything the tenant has (a
superset of any scope), which the Router must cope with anyway."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from services.routing.adapters.deadlines import ExpiredOffer, ExpiredWait, Overdue, QueueWithWork
from services.routing.adapters.documents import (agent_from_doc, agent_to_doc, doc_id, item_from_doc, item_to_doc,
                                                 queue_from_doc, queue_to_doc)
from services.routing.adapters.repository import AGENTS, ITEMS, QUEUES, Scope, Snapshot
from services.routing.domain.model import ItemState
from services.routing.domain.router import Router
from shared.mongo import ConcurrencyConflict
from shared.testing.fakes import FakeTransaction, FakeUnitOfWork


class InMemoryRoutingRepository:
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id
        self._versions: dict[tuple[str, str], int] = {}

    def _docs(self, coll: str) -> list[dict[str, Any]]:
        return [d for d in self._tx.collection(coll).values() if d["tenant_id"] == self.tenant_id]

    async def load(self, scope: Scope) -> Snapshot:
        queues = {q.queue_id: q for q in map(queue_from_doc, self._docs(QUEUES))}
        agents = {a.agent_id: a for a in map(agent_from_doc, self._docs(AGENTS))}
        items = {i.conversation_id: i for i in map(item_from_doc, self._docs(ITEMS))}
        for coll, entities in ((QUEUES, queues), (AGENTS, agents), (ITEMS, items)):
            for entity_id, entity in entities.items():
                self._versions[(coll, entity_id)] = entity.version
        return Snapshot(queues, agents, items, set(queues) if scope.dispatch else set())

    async def save(self, router: Router, *, touch_queues: set[str]) -> None:
        queue_ids = sorted((router.changed_queues | touch_queues) - router.removed_queues)
        for queue_id in sorted(router.removed_queues):
            self._check(QUEUES, queue_id)
            self._tx.collection(QUEUES).pop(doc_id(self.tenant_id, queue_id), None)
        self._write(QUEUES, [(q, router.queues[q]) for q in queue_ids if q in router.queues], queue_to_doc)
        self._write(AGENTS, [(a, router.agents[a]) for a in sorted(router.changed_agents)], agent_to_doc)
        self._write(ITEMS, [(c, router.items[c]) for c in sorted(router.changed_items)],
                    lambda tenant_id, item: item_to_doc(tenant_id, item, router.now))

    def _check(self, coll: str, entity_id: str) -> None:
        stored = self._tx.collection(coll).get(doc_id(self.tenant_id, entity_id))
        if (stored["version"] if stored else None) != self._versions.get((coll, entity_id)):
            raise ConcurrencyConflict(f"{coll}: {entity_id} changed since it was read")

    def _write(self, coll: str, entities: list[tuple[str, Any]], to_doc: Any) -> None:
        for entity_id, entity in entities:
            self._check(coll, entity_id)
            entity.version = (self._versions.get((coll, entity_id)) or 0) + 1
            doc = to_doc(self.tenant_id, entity)
            self._tx.collection(coll)[doc["_id"]] = doc
            self._versions[(coll, entity_id)] = entity.version


class InMemoryDeadlines:
    """adapters/deadlines.py's queries over the fake unit of work's committed documents."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _items(self, state: ItemState) -> list[dict[str, Any]]:
        return [d for d in self._uow.docs.get(ITEMS, {}).values() if d["state"] == state.value]

    async def expired_offers(self, now: datetime, *, limit: int) -> list[ExpiredOffer]:
        return [ExpiredOffer(d["tenant_id"], d["conversation_id"], d["offer"]["agent_id"])
                for d in self._items(ItemState.OFFERED) if d["offer"]["expires_at"] <= now][:limit]

    async def expired_waits(self, now: datetime, *, limit: int) -> list[ExpiredWait]:
        return [ExpiredWait(d["tenant_id"], d["conversation_id"])
                for d in self._items(ItemState.WAITING) if d["waiting_until"] <= now][:limit]

    async def overdue(self, now: datetime, *, limit: int) -> list[Overdue]:
        found = []
        for q in self._uow.docs.get(QUEUES, {}).values():
            if q["overflow_queue_id"] is None or q["max_wait_s"] is None:
                continue
            late = frozenset(d["conversation_id"] for d in self._items(ItemState.QUEUED)
                             if d["tenant_id"] == q["tenant_id"] and d["queue_id"] == q["queue_id"]
                             and d["enqueued_at"] <= now - timedelta(seconds=q["max_wait_s"]))
            if late:
                found.append(Overdue(q["tenant_id"], q["queue_id"], q["overflow_queue_id"], frozenset(list(late)[:limit])))
        return found

    async def queues_with_queued_work(self) -> list[QueueWithWork]:
        return sorted({QueueWithWork(d["tenant_id"], d["queue_id"]) for d in self._items(ItemState.QUEUED)},
                      key=lambda q: (q.tenant_id, q.queue_id))
