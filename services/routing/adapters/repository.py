"""Loads the slice of a tenant's routing state one use case needs, and saves what the Router changed:
the unit the handlers use, composed of one repository per aggregate (queues.py, agents.py, work_items.py).

Every save is version-checked (a document changed since it was read raises ConcurrencyConflict and the
unit of work runs again), and the queues in scope are saved with a new version even when unchanged:
two transactions that could both hand work in the same queue (an arrival and a freed agent, say)
therefore always conflict, and the retried one sees the other's result."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import bson
from bson.raw_bson import RawBSONDocument
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.routing.adapters.agents import AGENTS, MongoAgents, ensure_agent_indexes
from services.routing.adapters.queues import QUEUES, MongoQueues, ensure_queue_indexes
from services.routing.adapters.state_cache import Reads, StateCache, TenantState, queue_docs, queue_entry
from services.routing.adapters.work_items import ITEMS, MongoWorkItems, ensure_item_indexes
from services.routing.domain.model import Agent, ItemState, QueueConfig, WorkItem
from services.routing.domain.router import Router
from services.routing.domain.waiting import OrderKey, order_key
from shared.mongo import ConcurrencyConflict, Transaction

__all__ = ["AGENTS", "ITEMS", "QUEUES", "RoutingRepository", "Scope", "Snapshot", "ensure_indexes"]

# Waiting items (queued or offered) loaded per use case, first in queue order: dispatch offers from these, and
# live places are published for these only (further back, the read API's position is exact: a count query).
QUEUED_ITEMS_PER_LOAD = 1000
CLAIMS = "tenant_claims"  # one document per tenant, written first by each of its routing transactions
CLAIM_BACKOFF_S = 0.005  # before starting again when another transaction holds the tenant's claim


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

    @classmethod
    def union(cls, scopes: Iterable[Scope]) -> Scope:
        """What several use cases touch, loaded at once for a batch of them (handlers.handle_commands)."""
        scopes = list(scopes)
        return cls(queues=set().union(*(s.queues for s in scopes)), agents=set().union(*(s.agents for s in scopes)),
                   conversations=set().union(*(s.conversations for s in scopes)),
                   offers_to_agents=any(s.offers_to_agents for s in scopes),
                   active_items_of_queues=any(s.active_items_of_queues for s in scopes),
                   all_queues=any(s.all_queues for s in scopes), dispatch=any(s.dispatch for s in scopes))


@dataclass
class Snapshot:
    queues: dict[str, QueueConfig]
    agents: dict[str, Agent]
    items: dict[str, WorkItem]
    dispatch_queues: set[str]
    # Offered items of the dispatch queues not handed to the Router (the use case cannot change them): they
    # count in the waiting customers' places (domain/waiting.py).
    bystanders: dict[str, WorkItem] = field(default_factory=dict)
    # The waiting items of the dispatch queues are known in queue order up to (not including) this key; None:
    # all of them (fewer than QUEUED_ITEMS_PER_LOAD were waiting).
    known_before: OrderKey | None = None


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]], *, keep_ended_days: int = 30) -> None:
    await ensure_queue_indexes(db)
    await ensure_agent_indexes(db)
    await ensure_item_indexes(db, keep_ended_days=keep_ended_days)


class RoutingRepository:
    def __init__(self, tx: Transaction, tenant_id: str, *, cache: StateCache | None = None) -> None:
        """With a `cache` (the service's: one per process), queues and agents this process committed last are
        not read again while the claim proves nothing else wrote them since (state_cache.py)."""
        self.tenant_id = tenant_id
        self._tx = tx
        self.queues = MongoQueues(tx, tenant_id)
        self.agents = MongoAgents(tx, tenant_id)
        self.items = MongoWorkItems(tx, tenant_id)
        self._cache = cache
        self._cached: TenantState | None = None  # the cache's entries, when valid for this transaction
        self._reads = Reads()
        if cache is not None:
            self.agents.docs.on_read = self._agent_read
            self.agents.docs.on_write = self._agent_written
            self.queues.docs.on_write = self._queue_written

    async def claim(self) -> None:
        """The first write of a routing transaction of this tenant, so that two instances' transactions of one
        tenant run one after the other: the second one's write conflicts at once, before it has loaded or
        decided anything (not at its save, having done all of it, as the queues' version bump alone would
        make it), and it starts again, after a short wait, on what the first one committed. The counter it
        increments also tells the cache whether anything else committed since this process last did."""
        try:
            claim = await self._tx.db[CLAIMS].find_one_and_update(
                {"_id": self.tenant_id}, {"$inc": {"n": 1}, "$setOnInsert": {"epoch": uuid4().hex}}, upsert=True,
                return_document=ReturnDocument.AFTER, session=self._tx.session)
        except DuplicateKeyError:  # both inserted the tenant's first claim: one of them starts again
            raise ConcurrencyConflict(f"{CLAIMS}/{self.tenant_id}: created concurrently") from None
        except OperationFailure as exc:
            if exc.has_error_label("TransientTransactionError"):
                await asyncio.sleep(CLAIM_BACKOFF_S)  # PyMongo starts the transaction again right after
            raise
        if self._cache is not None:
            cache, epoch, claimed = self._cache, claim.get("epoch", ""), claim["n"]
            self._cached = cache.valid(self.tenant_id, epoch, claimed)
            self._tx.after_commit(lambda: cache.committed(self.tenant_id, epoch, claimed, self._cached, self._reads))

    # --- what the cache learns from this transaction ------------------------------------------------------

    def _agent_read(self, raw: bytes) -> None:
        self._reads.agents[RawBSONDocument(raw)["agent_id"]] = raw

    def _agent_written(self, agent_id: str, doc: dict[str, Any] | None) -> None:
        self._reads.agents[agent_id] = None if doc is None else bson.encode(doc)

    def _queue_written(self, queue_id: str, doc: dict[str, Any] | None) -> None:
        self._reads.queues_written[queue_id] = None if doc is None else queue_entry(doc)

    async def _queues(self, ids: set[str] | None = None, members: set[str] | None = None
                      ) -> dict[str, QueueConfig]:
        """The queues with these ids or with any of these members; every queue when both are None."""
        if self._cache is None:
            return await self._query_queues(ids, members)
        cached = self._cached
        entries = cached.queues if cached is not None and cached.queues is not None else self._reads.all_queues
        if entries is None:
            if cached is None and (ids is not None or members is not None):  # a miss: only what is asked for
                return await self._query_queues(ids, members)
            # every queue of the tenant, this once: the next transaction may take them from the cache
            docs = await self.queues.docs.find_docs({"tenant_id": self.tenant_id})
            entries = self._reads.all_queues = {doc["queue_id"]: queue_entry(doc) for doc in docs}
        return self.queues.docs.take(queue_docs(entries, self.queues.docs.codec, ids, members))

    async def _query_queues(self, ids: set[str] | None, members: set[str] | None) -> dict[str, QueueConfig]:
        if ids is None and members is None:
            return await self.queues.all()
        if members is None:
            return await self.queues.by_ids(ids or ())
        return await self.queues.named_or_with_members(ids or (), members)

    async def _agents(self, agent_ids: set[str]) -> dict[str, Agent]:
        if self._cache is None:
            return await self.agents.by_ids(agent_ids)
        known = self._cached.agents if self._cached is not None else {}
        codec = self.agents.docs.codec
        wanted = sorted(agent_ids)
        found = self.agents.docs.take(bson.decode(raw, codec) for raw in (known.get(a) for a in wanted)
                                      if raw is not None)
        if missing := [a for a in wanted if a not in known]:
            found |= await self.agents.by_ids(missing)
            self._reads.agents.update((a, None) for a in missing if a not in found)  # known not to exist
            found = dict(sorted(found.items()))
        return found

    async def load(self, scope: Scope) -> Snapshot:
        items = await self.items.matching(conversations=scope.conversations,
                                          offered_to=scope.agents if scope.offers_to_agents else (),
                                          active_in=scope.queues if scope.active_items_of_queues else ())
        involved = set(scope.agents)
        for item in items.values():
            involved.update(a for a in (*item.capacity_holders(), *item.invites, item.last_agent_id,
                                        item.responsible_agent_id, item.target_agent_id) if a)
        named = set(scope.queues) | {i.queue_id for i in items.values()}
        queues = await (self._queues() if scope.all_queues else self._queues(named, involved))
        # Overflow and second-line targets: items may move there.
        referenced = {x for q in queues.values() for x in (q.overflow_queue_id, q.second_level_queue_id) if x}
        if missing := referenced - queues.keys():
            queues |= await self._queues(missing)

        dispatch_queues: set[str] = set()
        bystanders: dict[str, WorkItem] = {}
        known_before: OrderKey | None = None
        if scope.dispatch:
            dispatch_queues = (named | {q.queue_id for q in queues.values() if involved & q.members.keys()}
                               | referenced) & queues.keys()
            waiting = await self.items.waiting_in(dispatch_queues, limit=QUEUED_ITEMS_PER_LOAD)
            if len(waiting) == QUEUED_ITEMS_PER_LOAD:  # more may wait behind the last one loaded
                known_before = order_key(list(waiting.values())[-1])
            for cid, item in waiting.items():
                if item.state != ItemState.QUEUED:
                    if cid not in items:
                        bystanders[cid] = item  # offered: only its place in line matters here
                    continue
                items.setdefault(cid, item)
                involved.update(a for a in (item.last_agent_id, item.responsible_agent_id, item.target_agent_id)
                                if a)
            for qid in dispatch_queues:
                involved.update(queues[qid].members)
        agents = await self._agents(involved)
        return Snapshot(queues, agents, items, dispatch_queues, bystanders, known_before)

    async def save(self, router: Router, *, touch_queues: set[str]) -> None:
        """Write what changed (and bump the scope's queues), one version-checked bulk write per aggregate."""
        queue_ids = sorted((router.changed_queues | touch_queues) - router.removed_queues)
        await self.queues.save([router.queues[q] for q in queue_ids if q in router.queues],
                               removed=sorted(router.removed_queues))
        await self.agents.save([router.agents[a] for a in sorted(router.changed_agents)])
        await self.items.save([router.items[c] for c in sorted(router.changed_items)], now=router.now)
