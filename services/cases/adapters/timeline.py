"""The timeline (K2) <-> MongoDB: one document per entry in `timeline`, written in the unit of work's transaction
(the repository speaks only load, find, put and update_many, so MongoDB and the fakes run the same code), and
the read API's page query.

An entry document carries `records`, every timeline it is in (["case:k1", "contact:ann", "account:acme"]): its
own ones (`own`: a case change's case and that case's customer, a note's record) and, for a conversation's
entries, the case, contact and account the conversation is linked to now, which `relink` rewrites on all of the
conversation's entries when a link changes. One index, (tenant, records, at desc, _id desc), serves every page
of every timeline newest first, without a sort in memory; a partial one on the same keys serves a record's quick
notes alone. A quick note's text is not copied: the page reads it from `notes`, so erasing it there erases it here.

Two small collections keep concurrent transactions apart: `timeline_conversations` (one per conversation: its
customer and what its entries are linked to) is written by every transaction that adds an entry of the
conversation or moves its entries, and `timeline_customers` (one per chat customer: its conversations) by every
transaction that learns of a conversation of the customer or of its link. MongoDB's snapshot transactions only
conflict on writes: without these, an entry added while another transaction moved the conversation's other
entries would be left behind (write skew), and the result would depend on timing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.cases.adapters.store import NOTES, doc_id
from services.cases.domain.timeline import Entry, Position, record, records_of
from shared.contracts.cases.timeline import TimelineEntry, TimelinePage

TIMELINE, CONVERSATIONS, CUSTOMERS = "timeline", "timeline_conversations", "timeline_customers"
ORDER = [("at", DESCENDING), ("_id", DESCENDING)]
Doc = dict[str, Any]


@dataclass(frozen=True)
class Linked:
    """What a conversation's entries are linked to: its case, and the records that makes with its contact's and
    account's."""
    case_id: str | None = None
    records: tuple[str, ...] = ()


@dataclass
class TrackedConversation:
    """What the timeline knows of a conversation: its chat customer, and what its entries are linked to."""
    conversation_id: str
    customer_id: str | None = None
    linked: Linked = Linked()
    version: int = 0


def entry_doc(tenant_id: str, entry: Entry, linked: Linked | None) -> Doc:
    doc: Doc = {"_id": doc_id(tenant_id, entry.key), "tenant_id": tenant_id, "entry_id": entry.key,
                "kind": entry.kind, "at": entry.at, "title": entry.title, "detail": entry.detail, "by": entry.by,
                "case_id": entry.case_id or (linked.case_id if linked else None), "own": list(entry.own),
                "records": records_of(entry.own, linked.records if linked else ()), "version": 1}
    # absent when empty, so the partial indexes leave them out (an equality query implies $exists)
    optional = {"conversation_id": entry.conversation_id, "own_case_id": entry.case_id, "note_id": entry.note_id}
    return doc | {k: v for k, v in optional.items() if v is not None}


def entry_view(doc: Doc, notes: dict[str, str]) -> TimelineEntry:
    detail = notes.get(doc["note_id"], "") if doc.get("note_id") else doc["detail"]
    return TimelineEntry(entry_id=doc["entry_id"], kind=doc["kind"], at=doc["at"], title=doc["title"],
                         detail=detail, conversation_id=doc.get("conversation_id"), case_id=doc.get("case_id"),
                         by=doc.get("by"))


async def ensure_timeline_indexes(db: AsyncDatabase[Doc]) -> None:
    t = ("tenant_id", ASCENDING)
    await db[TIMELINE].create_index([t, ("records", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                                    name="by_record")
    await db[TIMELINE].create_index([t, ("conversation_id", ASCENDING)], name="by_conversation",
                                    partialFilterExpression={"conversation_id": {"$exists": True}})
    # A record's quick notes alone (the active-conversation view reads them on every load): without it, a page of
    # notes walks the record's whole timeline past its other entries. Partial: only notes are in it.
    await db[TIMELINE].create_index([t, ("records", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                                    name="notes_by_record", partialFilterExpression={"kind": "quick_note"})


class Timeline:
    """One tenant's timeline entries in a unit of work."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.t = tenant_id

    async def add(self, entry: Entry, linked: Linked | None) -> bool:
        """Write the entry unless it is there already (the same event delivered again): False then."""
        if await self.tx.load(TIMELINE, doc_id(self.t, entry.key)) is not None:
            return False
        await self.tx.put(TIMELINE, entry_doc(self.t, entry, linked), read_version=None)
        return True

    async def of_conversation(self, conversation_id: str) -> list[Doc]:
        return await self.tx.find(TIMELINE, {"tenant_id": self.t, "conversation_id": conversation_id})

    async def in_timeline(self, kind: str, record_id: str) -> list[Doc]:
        return await self.tx.find(TIMELINE, {"tenant_id": self.t, "records": record(kind, record_id)})

    async def relink(self, conversation_id: str, linked: Linked) -> int:
        """Put every entry of the conversation into the timelines it is linked to now (and out of the ones it
        left, unless it belongs to them by itself); how many changed."""
        changed = 0
        for doc in await self.of_conversation(conversation_id):
            want = {"records": records_of(doc["own"], linked.records),
                    "case_id": doc.get("own_case_id") or linked.case_id}
            if any(doc.get(k) != v for k, v in want.items()):
                changed += await self.set(doc, **want)
        return changed

    # what the timeline knows of conversations and customers
    async def conversation(self, conversation_id: str) -> TrackedConversation:
        doc = await self.tx.load(CONVERSATIONS, doc_id(self.t, conversation_id))
        if doc is None:
            return TrackedConversation(conversation_id)
        return TrackedConversation(conversation_id, doc["customer_id"],
                                   Linked(doc["case_id"], tuple(doc["records"])), doc["version"])

    async def save_conversation(self, tracked: TrackedConversation) -> None:
        """Saved by every transaction that adds or moves the conversation's entries, changed or not: two at once
        conflict, and one runs again on what the other did."""
        await self.tx.put(CONVERSATIONS, {
            "_id": doc_id(self.t, tracked.conversation_id), "tenant_id": self.t,
            "conversation_id": tracked.conversation_id, "customer_id": tracked.customer_id,
            "case_id": tracked.linked.case_id, "records": list(tracked.linked.records),
            "version": tracked.version + 1}, read_version=tracked.version or None)
        tracked.version += 1

    async def conversations_of(self, customer_id: str, *, adding: str | None = None) -> list[str]:
        """The customer's conversations (with `adding`, which is remembered). Saved either way, so that learning of
        a conversation and of the customer's link at once conflict."""
        key = doc_id(self.t, customer_id)
        doc = await self.tx.load(CUSTOMERS, key)
        known = list(doc["conversations"]) if doc else []
        if adding and adding not in known:
            known.append(adding)
        await self.tx.put(CUSTOMERS, {"_id": key, "tenant_id": self.t, "customer_id": customer_id,
                                      "conversations": known, "version": (doc["version"] if doc else 0) + 1},
                          read_version=doc["version"] if doc else None)
        return known

    async def set(self, doc: Doc, **values: Any) -> int:
        return await self.tx.update_many(TIMELINE, {"_id": doc["_id"]}, values)


class TimelineQueries:
    """The read API's timeline pages (MongoDB, outside transactions)."""

    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def page(self, tenant_id: str, kind: str, record_id: str, *, cursor: str | None = None,
                   limit: int = 10, only: Sequence[str] = ()) -> TimelinePage:
        """Newest first; `cursor` (from the previous page) continues after it; `only`: entries of these kinds
        (e.g. the record's quick notes). Rejected for a cursor this timeline did not give out."""
        timeline = record(kind, record_id)
        query: Doc = {"tenant_id": tenant_id, "records": timeline}
        if only:  # one kind as an equality, so that a partial index on it (notes_by_record) serves the query
            query["kind"] = only[0] if len(only) == 1 else {"$in": list(only)}
        if cursor:
            after = Position.decode(cursor, timeline)
            query["$or"] = [{"at": {"$lt": after.at}},
                            {"at": after.at, "_id": {"$lt": doc_id(tenant_id, after.entry_id)}}]
        docs = await self.db[TIMELINE].find(query).sort(ORDER).limit(limit + 1).to_list()
        more, docs = len(docs) > limit, docs[:limit]
        note_ids = [doc_id(tenant_id, d["note_id"]) for d in docs if d.get("note_id")]
        notes = {d["id"]: d["text"] async for d in self.db[NOTES].find({"_id": {"$in": note_ids}})} if note_ids \
            else {}
        last = docs[-1] if docs else None
        return TimelinePage(entries=[entry_view(d, notes) for d in docs],
                            next_cursor=Position(timeline, last["at"], last["entry_id"]).encode() if more and last
                            else None)
