"""One collection of one tenant's aggregates inside the unit of work's transaction, read and written
version-checked: what each of routing's repositories shares.

Every aggregate read records the version it had; a write inserts an aggregate never read, or replaces
(or deletes) the version read, and bumps it. If another transaction got there first the write matches
nothing (or hits the unique _id), and ConcurrencyConflict makes the unit of work run again on fresh data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

from pymongo import DeleteOne, ReplaceOne
from pymongo.errors import BulkWriteError

from services.routing.adapters.documents import doc_id
from shared.mongo import ConcurrencyConflict, Transaction

Doc = dict[str, Any]
FIRST_BATCH = 10_000
NEVER = {"$lt": 0}  # the version filter of an aggregate never read: matches no document


class Versioned(Protocol):
    version: int


E = TypeVar("E", bound=Versioned)


class VersionedCollection(Generic[E]):
    def __init__(self, tx: Transaction, tenant_id: str, name: str, *, id_of: Callable[[E], str],
                 from_doc: Callable[[Doc], E]) -> None:
        self.name = name
        self.tenant_id = tenant_id
        self._coll = tx.db[name]
        self._session = tx.session
        self._id_of = id_of
        self._from_doc = from_doc
        self._read: dict[str, int] = {}  # entity id -> version read

    async def find(self, query: Doc, *, sort: list[tuple[str, int]] | None = None,
                   limit: int | None = None) -> dict[str, E]:
        """The aggregates matching a query (scoped to the tenant by the caller), by id; their versions are noted."""
        # All in one reply where they fit (16 MB): the server's default first batch is 101 documents, and a queue's
        # members often number more, which took a second round trip (getMore).
        cursor = self._coll.find(query, session=self._session).batch_size(FIRST_BATCH)
        if sort is not None:
            cursor = cursor.sort(sort)
        if limit is not None:
            cursor = cursor.limit(limit)
        found: dict[str, E] = {}
        for doc in await cursor.to_list():
            entity = self._from_doc(doc)
            found[self._id_of(entity)] = self._note(entity)
        return found

    async def write(self, entities: Iterable[E], to_doc: Callable[[E], Doc], *, deleted: Iterable[str] = ()) -> None:
        """One ordered bulk write: the deletions, then each aggregate inserted or replaced at its version read.

        An aggregate never read is inserted by an upsert whose filter matches no document (no version is
        negative): it inserts, or fails on the unique _id if the aggregate exists, as an insert would. So the
        inserts and the replacements are one `update` command (an insert among them was a command of its own,
        a round trip more per transaction that creates a work item: most of routing's)."""
        entities = list(entities)
        ops: list[Any] = [DeleteOne({"_id": doc_id(self.tenant_id, entity_id), "version": self._read.get(entity_id)})
                          for entity_id in deleted]
        for entity in entities:
            read = self._read.get(self._id_of(entity))
            entity.version = (read or 0) + 1
            doc = to_doc(entity)
            ops.append(ReplaceOne({"_id": doc["_id"], "version": NEVER if read is None else read}, doc,
                                  upsert=read is None))
        if not ops:
            return
        try:
            result = await self._coll.bulk_write(ops, ordered=True, session=self._session)
        except BulkWriteError as exc:
            if any(e.get("code") == 11000 for e in exc.details.get("writeErrors", [])):
                raise ConcurrencyConflict(f"{self.name}: created concurrently") from None
            raise
        if result.upserted_count + result.matched_count + result.deleted_count != len(ops):
            raise ConcurrencyConflict(f"{self.name}: changed since it was read")
        for entity in entities:
            self._note(entity)

    def _note(self, entity: E) -> E:
        self._read[self._id_of(entity)] = entity.version
        return entity
