"""In-memory stand-ins for a service's unit of work, for use-case tests that run in milliseconds.

`FakeUnitOfWork` keeps documents in dicts and behaves as `shared.mongo.MongoUnitOfWork` does (the same
contract test runs against both: tests/integration/test_unit_of_work_contract.py): a failing unit of
work changes nothing, a message id seen before raises AlreadyProcessed, a ConcurrencyConflict runs the
work again on fresh state, and by default the id of the message being consumed is recorded. What a
unit of work emits is kept in `outbox`, in commit order, as the relay would publish it."""

from __future__ import annotations

import contextlib
import copy
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.contracts.envelope import Envelope
from shared.mongo import (
    CONSUMED_MESSAGE,
    OUTBOX,
    AlreadyProcessed,
    ConcurrencyConflict,
    DuplicateRecord,
    Member,
    GroupCommit,
    consumed_message_id,
    current_group,
    join_group,
    run_members,
)
from shared.tracing import stamped

T = TypeVar("T")
Documents = dict[str, dict[str, dict[str, Any]]]  # collection -> document id -> document


def _get(doc: dict[str, Any], path: str) -> Any:
    """A field by its dotted path, as MongoDB reads `customer.customer_id`."""
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _equal(value: Any, wanted: Any) -> bool:
    """MongoDB's equality: the value itself, or, for an array field, one of its elements."""
    return value == wanted or (isinstance(value, list) and not isinstance(wanted, list) and wanted in value)


def _matches(doc: dict[str, Any], equal: dict[str, Any]) -> bool:
    return all(_equal(_get(doc, k), v) for k, v in equal.items())


_LATER_IDS = itertools.count(1)  # FakeTransaction.insert_later's ids


@dataclass
class FakeTransaction:
    """What a handler gets inside a fake unit of work: a private copy of every collection, and an outbox."""

    docs: Documents
    pending: list[tuple[str, Envelope[Any]]] = field(default_factory=list)
    inserted_later: set[str] = field(default_factory=set)  # the collections insert_later wrote into
    committed: list[Callable[[], None]] = field(default_factory=list)  # after_commit's

    def emit(self, topic: str, env: Envelope[Any]) -> None:
        self.pending.append((topic, stamped(env)))  # the trace context, as MongoUnitOfWork's transaction does

    def after_commit(self, callback: Callable[[], None]) -> None:
        """As MongoUnitOfWork's: called once this transaction has committed, never for a retried attempt."""
        self.committed.append(callback)

    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        return self.docs.setdefault(name, {})

    def insert_later(self, collection: str, doc: dict[str, Any]) -> None:
        """As MongoUnitOfWork's: kept with the transaction's other writes (an id given if it has none)."""
        key = doc.get("_id", f"later-{next(_LATER_IDS):09d}")  # increasing: sorted, they are in call order
        self.inserted_later.add(collection)
        self.collection(collection)[key] = copy.deepcopy({**doc, "_id": key})

    async def load(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        found = self.collection(collection).get(doc_id)
        return copy.deepcopy(found) if found is not None else None

    async def find_one(self, collection: str, equal: dict[str, Any]) -> dict[str, Any] | None:
        found = next((d for d in self.collection(collection).values() if _matches(d, equal)), None)
        return copy.deepcopy(found) if found is not None else None

    async def find(self, collection: str, equal: dict[str, Any]) -> list[dict[str, Any]]:
        return [copy.deepcopy(d) for d in self.collection(collection).values() if _matches(d, equal)]

    async def update_many(self, collection: str, equal: dict[str, Any], values: dict[str, Any]) -> int:
        changed = 0
        for doc in self.collection(collection).values():
            if _matches(doc, equal) and any(_get(doc, k) != v for k, v in values.items()):
                for path, value in values.items():
                    *parents, last = path.split(".")
                    target = doc
                    for part in parents:
                        target = target.setdefault(part, {})
                    target[last] = copy.deepcopy(value)
                changed += 1
        return changed

    async def delete_many(self, collection: str, equal: dict[str, Any]) -> int:
        docs = self.collection(collection)
        gone = [key for key, d in docs.items() if _matches(d, equal)]
        for key in gone:
            del docs[key]
        return len(gone)

    async def store(self, collection: str, doc: dict[str, Any]) -> None:
        docs = self.collection(collection)
        if doc["_id"] in docs:
            raise DuplicateRecord(f"{collection}/{doc['_id']}")
        docs[doc["_id"]] = copy.deepcopy(doc)

    async def store_many(self, collection: str, docs: Sequence[dict[str, Any]]) -> None:
        stored = self.collection(collection)
        if any(doc["_id"] in stored for doc in docs) or len({doc["_id"] for doc in docs}) < len(docs):
            raise DuplicateRecord(f"{collection}: one of {len(docs)} exists")
        stored.update((doc["_id"], copy.deepcopy(doc)) for doc in docs)

    async def put(self, collection: str, doc: dict[str, Any], *, read_version: int | None) -> None:
        docs = self.collection(collection)
        stored = docs.get(doc["_id"])
        if (stored["version"] if stored is not None else None) != read_version:
            raise ConcurrencyConflict(f"{collection}/{doc['_id']}: changed since it was read")
        docs[doc["_id"]] = copy.deepcopy(doc)


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.docs: Documents = {}
        self.processed: set[str] = set()
        self.outbox: list[tuple[str, Envelope[Any]]] = []
        self.stats: Counter[str] = Counter()
        self._on_commit: list[tuple[str, Callable[[], None]]] = []

    def add_on_commit(self, callback: Callable[[], None], *, wrote: str) -> None:
        """As MongoUnitOfWork's: called after a commit that inserted into `wrote` (insert_later)."""
        self._on_commit.append((wrote, callback))

    async def run(self, work: Callable[[FakeTransaction], Awaitable[T]], *, message_id: str | None = CONSUMED_MESSAGE,
                  max_conflicts: int = 20) -> T:
        group = current_group()
        if group is not None:  # inside run_group: join its transaction
            return await join_group(group, work, message_id, self.stats)
        if message_id is CONSUMED_MESSAGE:
            message_id = consumed_message_id()
        for attempt in range(1, max_conflicts + 1):
            if message_id is not None and message_id in self.processed:
                self.stats["duplicates"] += 1
                raise AlreadyProcessed(message_id)
            self.stats["attempts"] += 1
            tx = FakeTransaction(copy.deepcopy(self.docs))
            try:
                result = await work(tx)
            except ConcurrencyConflict:
                self.stats["conflicts"] += 1
                if attempt == max_conflicts:
                    raise
                continue
            self.docs = tx.docs  # commit: state, processed id and outbox rows together
            if message_id is not None:
                self.processed.add(message_id)
            self.outbox.extend(tx.pending)
            self.stats["committed"] += 1
            for after in tx.committed:  # as MongoUnitOfWork's: the commit stands, a failure is not raised
                with contextlib.suppress(Exception):
                    after()
            for collection, callback in self._on_commit:
                if collection in tx.inserted_later or collection == OUTBOX and tx.pending:
                    callback()
            return result
        raise AssertionError("unreachable")

    async def run_group(self, members: Sequence[Member]) -> int | None:
        """Group commit, as MongoUnitOfWork.run_group: None when every member was committed together, else the
        index of the member that failed (nothing kept)."""
        progress = [0]

        async def work(tx: FakeTransaction) -> list[str]:
            group = GroupCommit(tx, {message_id for message_id, _ in members if message_id in self.processed})
            await run_members(group, members, progress)
            return group.rows

        try:
            recorded = await self.run(work, message_id=None)
        except Exception:
            self.stats["groups_failed"] += 1
            return progress[0]
        self.processed.update(recorded)
        self.stats["grouped"] += len(members)
        return None

    def emitted(self, topic: str | None = None) -> list[Envelope[Any]]:
        """Every envelope committed so far (on one topic), in order."""
        return [env for t, env in self.outbox if topic is None or t == topic]
