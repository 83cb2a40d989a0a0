"""One collection of one tenant's aggregates inside the unit of work's transaction, read and written
version-checked: what each of routing's repositories shares.

Every aggregate read records the version it had; a write inserts an aggregate never read, or replaces
(or deletes) the version read, and bumps it. If another transaction got there first the write matches
nothing (or hits the unique _id), and ConcurrencyConflict makes the unit of work run again on fresh data."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, TypeVar

import bson
from bson.raw_bson import RawBSONDocument
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
        # Told each document read (its BSON) and each written (by entity id; None: deleted):
        # the repository's cache of what this process committed (state_cache.py).
        self.on_read: Callable[[bytes], None] | None = None
        self.on_write: Callable[[str, Doc | None], None] | None = None

    @property
    def codec(self) -> Any:
        """How this collection's documents are decoded (a cached document decodes as a read would)."""
        return self._coll.codec_options

    async def find_docs(self, query: Doc) -> list[Doc]:
        """The documents matching a query, as stored (for `take`, once the caller has kept what it needs)."""
        return await self._coll.find(query, session=self._session).batch_size(FIRST_BATCH).to_list()

    def take(self, docs: Iterable[Doc]) -> dict[str, E]:
        """Aggregates from documents read before (find_docs) or kept since (a cache), by id, their versions noted
        as if read now: a write then replaces exactly that version."""
        found: dict[str, E] = {}
        for doc in docs:
            entity = self._from_doc(doc)
            found[self._id_of(entity)] = self._note(entity)
        return found

    async def find(self, query: Doc, *, sort: list[tuple[str, int]] | None = None,
                   limit: int | None = None) -> dict[str, E]:
        """The aggregates matching a query (scoped to the tenant by the caller), by id; their versions are noted."""
        # All in one reply where they fit (16 MB): the server's default first batch is 101 documents, and a queue's
        # members often number more, which took a second round trip (getMore).
        # Watched (on_read), the documents come as the server sent them, decoded here: the watcher keeps the
        # bytes as they are instead of encoding each document again.
        watched = self.on_read
        coll = self._coll.with_options(codec_options=self.codec.with_options(document_class=RawBSONDocument)) \
            if watched is not None else self._coll
        cursor = coll.find(query, session=self._session).batch_size(FIRST_BATCH)
        if sort is not None:
            cursor = cursor.sort(sort)
        if limit is not None:
            cursor = cursor.limit(limit)
        docs = await cursor.to_list()
        if watched is not None:
            for raw in docs:
                watched(raw.raw)
            docs = [bson.decode(raw.raw, self.codec) for raw in docs]
        return self.take(docs)

    async def write(self, entities: Iterable[E], to_doc: Callable[[E], Doc], *, deleted: Iterable[str] = ()) -> None:
        """One ordered bulk write: the deletions, then each aggregate inserted or replaced at its version read.

        An aggregate never read is inserted by an upsert whose filter matches no document (no version is
        negative): it inserts, or fails on the unique _id if the aggregate exists, as an insert would. So the
        inserts and the replacements are one `update` command (an insert among them was a command of its own,
        a round trip more per transaction that creates a work item: most of routing's)."""
        entities, deleted = list(entities), list(deleted)
        ops: list[Any] = [DeleteOne({"_id": doc_id(self.tenant_id, entity_id), "version": self._read.get(entity_id)})
                          for entity_id in deleted]
        docs = []
        for entity in entities:
            read = self._read.get(self._id_of(entity))
            entity.version = (read or 0) + 1
            doc = to_doc(entity)
            docs.append(doc)
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
        if self.on_write is not None:
            for entity_id in deleted:
                self.on_write(entity_id, None)
            for entity, doc in zip(entities, docs, strict=True):
                self.on_write(self._id_of(entity), doc)

    def _note(self, entity: E) -> E:
        self._read[self._id_of(entity)] = entity.version
        return entity
