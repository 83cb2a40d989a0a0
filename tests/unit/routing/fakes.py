"""Routing's storage adapters over shared/testing/fakes.py's FakeUnitOfWork, for use-case tests.

One in-memory repository per aggregate, as in MongoDB: the same documents (adapters/queues.py, agents.py,
work_items.py) and the same version check on save. They are composed by InMemoryRoutingRepository, which
saves through RoutingRepository's own save; its load is simpler than the MongoDB one's: it hands the Router
everything the tenant has (a superset of any scope), which the Router must cope with anyway."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from services.routing.adapters.agents import AGENTS, agent_from_doc, agent_to_doc
from services.routing.adapters.deadlines import ExpiredOffer, ExpiredWait, Overdue, QueueWithWork
from services.routing.adapters.documents import doc_id
from services.routing.adapters.queues import QUEUES, queue_from_doc, queue_to_doc
from services.routing.adapters.repository import RoutingRepository, Scope, Snapshot
from services.routing.adapters.work_items import ITEMS, item_from_doc, item_to_doc
from services.routing.domain.model import Agent, ItemState, QueueConfig, WorkItem
from shared.mongo import ConcurrencyConflict
from shared.testing.fakes import FakeTransaction, FakeUnitOfWork

E = TypeVar("E", Agent, QueueConfig, WorkItem)


class InMemoryCollection(Generic[E]):
    """One tenant's aggregates of one collection in the fake transaction, version-checked as in MongoDB."""

    def __init__(self, tx: FakeTransaction, tenant_id: str, name: str, *, id_of: Callable[[E], str],
                 from_doc: Callable[[dict[str, Any]], E]) -> None:
        self._docs = tx.collection(name)
        self.name = name
        self.tenant_id = tenant_id
        self._id_of = id_of
        self._from_doc = from_doc
        self._read: dict[str, int] = {}

    async def all(self) -> dict[str, E]:
        found = [self._from_doc(d) for d in self._docs.values() if d["tenant_id"] == self.tenant_id]
        self._read.update((self._id_of(e), e.version) for e in found)
        return {self._id_of(e): e for e in found}

    def write(self, entities: Iterable[E], to_doc: Callable[[E], dict[str, Any]], *,
              deleted: Iterable[str] = ()) -> None:
        for entity_id in deleted:
            self._check(entity_id)
            self._docs.pop(doc_id(self.tenant_id, entity_id), None)
        for entity in entities:
            entity_id = self._id_of(entity)
            self._check(entity_id)
            entity.version = (self._read.get(entity_id) or 0) + 1
            doc = to_doc(entity)
            self._docs[doc["_id"]] = doc
            self._read[entity_id] = entity.version

    def _check(self, entity_id: str) -> None:
        stored = self._docs.get(doc_id(self.tenant_id, entity_id))
        if (stored["version"] if stored else None) != self._read.get(entity_id):
            raise ConcurrencyConflict(f"{self.name}: {entity_id} changed since it was read")


class InMemoryQueues(InMemoryCollection[QueueConfig]):
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        super().__init__(tx, tenant_id, QUEUES, id_of=lambda q: q.queue_id, from_doc=queue_from_doc)

    async def save(self, queues: Iterable[QueueConfig], *, removed: Iterable[str] = ()) -> None:
        self.write(queues, lambda q: queue_to_doc(self.tenant_id, q), deleted=removed)


class InMemoryAgents(InMemoryCollection[Agent]):
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        super().__init__(tx, tenant_id, AGENTS, id_of=lambda a: a.agent_id, from_doc=agent_from_doc)

    async def save(self, agents: Iterable[Agent]) -> None:
        self.write(agents, lambda a: agent_to_doc(self.tenant_id, a))


class InMemoryWorkItems(InMemoryCollection[WorkItem]):
    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:
        super().__init__(tx, tenant_id, ITEMS, id_of=lambda i: i.conversation_id, from_doc=item_from_doc)

    async def save(self, items: Iterable[WorkItem], *, now: datetime) -> None:
        self.write(items, lambda item: item_to_doc(self.tenant_id, item, now))


class InMemoryRoutingRepository(RoutingRepository):
    """RoutingRepository over the in-memory repositories: its save, and a load of everything."""

    def __init__(self, tx: FakeTransaction, tenant_id: str) -> None:  # not super(): no MongoDB repositories
        self.tenant_id = tenant_id
        self.queues = InMemoryQueues(tx, tenant_id)  # type: ignore[assignment]
        self.agents = InMemoryAgents(tx, tenant_id)  # type: ignore[assignment]
        self.items = InMemoryWorkItems(tx, tenant_id)  # type: ignore[assignment]

    async def claim(self) -> None:
        """Nothing to claim: the fake unit of work runs one unit at a time."""

    async def load(self, scope: Scope) -> Snapshot:
        queues = await self.queues.all()
        return Snapshot(queues, await self.agents.all(), await self.items.all(),
                        set(queues) if scope.dispatch else set())


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


class InMemoryRoutingQueries:
    """adapters/queries.py's read API queries over the fake unit of work's committed documents."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _docs(self, name: str) -> dict[str, dict[str, Any]]:
        return self._uow.docs.get(name, {})

    async def queue(self, tenant_id: str, queue_id: str) -> QueueConfig | None:
        doc = self._docs(QUEUES).get(doc_id(tenant_id, queue_id))
        return queue_from_doc(doc) if doc else None

    async def agents(self, tenant_id: str, agent_ids: Iterable[str]) -> dict[str, Agent]:
        docs = (self._docs(AGENTS).get(doc_id(tenant_id, a)) for a in agent_ids)
        return {d["agent_id"]: agent_from_doc(d) for d in docs if d}

    async def item(self, tenant_id: str, conversation_id: str) -> WorkItem | None:
        doc = self._docs(ITEMS).get(doc_id(tenant_id, conversation_id))
        return item_from_doc(doc) if doc else None

    def _waiting(self, tenant_id: str, queue_id: str) -> list[WorkItem]:
        return [item_from_doc(d) for d in self._docs(ITEMS).values() if d["tenant_id"] == tenant_id
                and d["queue_id"] == queue_id and d["state"] in (ItemState.QUEUED.value, ItemState.OFFERED.value)]

    async def waiting(self, tenant_id: str, queue_id: str) -> dict[str, int]:
        return dict(Counter(i.state.value for i in self._waiting(tenant_id, queue_id)))

    async def waiting_ahead(self, tenant_id: str, item: WorkItem) -> dict[str, int]:
        return dict(Counter(i.state.value for i in self._waiting(tenant_id, item.queue_id) if i.order() < item.order()))
