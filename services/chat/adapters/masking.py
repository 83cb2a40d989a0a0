"""Masking's storage (C4): the tenant's policy, and the originals of what chat masked, kept beside the masked
documents in their own collection (`originals`) so that nothing that reads messages or conversations
(views, search, events) can ever see them. Works in a unit of work's transaction through its generic
document API (load, store, put), so MongoDB and the in-memory fakes run the same code.

Also the read API's queries: the policy, the originals of a conversation, and history search (C6) over the
words index of masked text (`terms` on each message, domain/search.py)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.documents import CONVERSATIONS, MESSAGES, doc_id
from services.chat.domain.masking import ORIGINALS_ROLES_DEFAULT, MaskingPolicy
from services.chat.domain.pii import DEFAULT_PHONE_REGIONS
from services.chat.domain.search import SearchQuery

MASKING_POLICY, ORIGINALS = "masking_policy", "originals"
Doc = dict[str, Any]


def policy_to_doc(tenant_id: str, policy: MaskingPolicy, version: int) -> Doc:
    return {"_id": tenant_id, "tenant_id": tenant_id, "version": version,
            **{kind: getattr(policy, kind) for kind in ("card", "iban", "ssn", "email", "phone")},
            "originals_roles": sorted(policy.originals_roles), "phone_regions": list(policy.phone_regions)}


def policy_from_doc(doc: Doc | None) -> MaskingPolicy:
    if doc is None:
        return MaskingPolicy()
    return MaskingPolicy(card=doc["card"], iban=doc["iban"], ssn=doc["ssn"], email=doc["email"], phone=doc["phone"],
                         originals_roles=frozenset(doc.get("originals_roles", ORIGINALS_ROLES_DEFAULT)),
                         phone_regions=tuple(doc.get("phone_regions", DEFAULT_PHONE_REGIONS)), configured=True)


def message_original_id(tenant_id: str, message_id: str) -> str:
    return doc_id(tenant_id, f"message:{message_id}")


def conversation_original_id(tenant_id: str, conversation_id: str) -> str:
    return doc_id(tenant_id, f"conversation:{conversation_id}")


class TransactionMaskingStore:
    """The tenant's policy and originals inside one unit of work (MongoDB's Transaction or the fake's)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self._tx = tx
        self.tenant_id = tenant_id

    async def policy(self) -> MaskingPolicy:
        return policy_from_doc(await self._tx.load(MASKING_POLICY, self.tenant_id))

    async def save_policy(self, policy: MaskingPolicy) -> None:
        stored = await self._tx.load(MASKING_POLICY, self.tenant_id)
        read = stored["version"] if stored else None
        await self._tx.put(MASKING_POLICY, policy_to_doc(self.tenant_id, policy, (read or 0) + 1), read_version=read)

    async def keep_message_original(self, *, conversation_id: str, message_id: str, text: str) -> None:
        await self._tx.store(ORIGINALS, {"_id": message_original_id(self.tenant_id, message_id),
                                         "tenant_id": self.tenant_id, "kind": "message",
                                         "conversation_id": conversation_id, "message_id": message_id, "text": text})

    async def keep_conversation_originals(self, *, conversation_id: str, fields: Doc) -> None:
        """The conversation's fields as given (customer, context, wrap-up note...), merged into what is kept."""
        key = conversation_original_id(self.tenant_id, conversation_id)
        stored = await self._tx.load(ORIGINALS, key)
        read = stored["version"] if stored else None
        doc = {**(stored or {"_id": key, "tenant_id": self.tenant_id, "kind": "conversation",
                             "conversation_id": conversation_id, "fields": {}}), "version": (read or 0) + 1}
        doc["fields"] = {**doc["fields"], **fields}
        await self._tx.put(ORIGINALS, doc, read_version=read)


# --- the read API's queries --------------------------------------------------------------------------------

SEARCH_CANDIDATES = 500  # at most this many matching messages are ranked per search: a bound on its cost
ENTRIES_COUNTED = 5000  # choosing where a scan starts counts each word's entries up to this many
MIN_PREFIX_BOUND = 3  # a shorter prefix is never where a scan of several words starts (its range is wide)
PREFIX_START_CONVERSATIONS = 100  # nor a prefix in more conversations than this (its range once per conversation)
SCANNED = 2000  # a search of several words reads at most this many of its start's entries (then: not complete)


class MaskingQueries(Protocol):
    async def policy(self, tenant_id: str) -> Doc | None: ...
    async def originals(self, tenant_id: str, conversation_id: str, message_ids: list[str]) -> list[Doc]: ...
    async def search(self, tenant_id: str, query: SearchQuery, *, conversation_ids: list[str] | None
                     ) -> tuple[list[Doc], dict[str, Doc], bool]: ...


def search_filter(tenant_id: str, query: SearchQuery, conversation_ids: list[str] | None) -> Doc:
    """Messages (not private notes) holding every word of the query, in the given conversations or the whole
    tenant's. Only one condition can bound the index scan: the bound word's equality (the prefix's range when
    the query is one word being typed); the others are checked on the fetched documents ($expr), so neither
    the planner nor its cached plan for this query shape can scan a common word's or a short prefix's entries."""
    found = scan_bound(tenant_id, query, conversation_ids)
    if (check := others_check(query)) is not None:
        found["$expr"] = check
    return found


def scan_bound(tenant_id: str, query: SearchQuery, conversation_ids: list[str] | None) -> Doc:
    """The condition that bounds the index scan: the bound word, or the prefix's words."""
    found: Doc = {"tenant_id": tenant_id}
    if query.bound is None:
        found["terms"] = {"$elemMatch": {"$gte": query.prefix, "$lt": query.prefix + "\U0010ffff"}}
    else:
        found["terms"] = query.bound
    if conversation_ids is not None:
        found["conversation_id"] = {"$in": conversation_ids}
    found["private"] = False
    return found


def others_check(query: SearchQuery) -> Doc | None:
    """The query's other words, checked on each fetched document ($expr); None when the bound is all of it."""
    if query.bound is None:
        return {"$setIsSubset": [{"$literal": list(query.whole)}, "$terms"]} if query.whole else None
    low, high = query.prefix, query.prefix + "\U0010ffff"
    others = [w for w in query.whole if w != query.bound]
    starts = {"$filter": {"input": "$terms", "as": "t",
                          "cond": {"$and": [{"$gte": ["$$t", low]}, {"$lt": ["$$t", high]}]}}}
    return {"$and": [{"$setIsSubset": [{"$literal": others}, "$terms"]}, {"$gt": [{"$size": starts}, 0]}]}


SEARCH_IN_CONVERSATIONS, SEARCH_NEWEST = "history_in_conversations", "history_newest"


def words_index(conversation_ids: list[str] | None) -> str:
    """The words index a search's scan runs on: by conversation for a scope, by time for the tenant's."""
    return SEARCH_IN_CONVERSATIONS if conversation_ids is not None else SEARCH_NEWEST


async def ensure_masking_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[ORIGINALS].create_index([("tenant_id", ASCENDING), ("conversation_id", ASCENDING)], name="of_conversation")
    # History search: a word's entries in given conversations (a customer's, one, those a caller may read), and
    # a word's newest entries across the tenant; private notes are not searched, so not indexed.
    not_private = {"private": False}
    await db[MESSAGES].create_index([("tenant_id", ASCENDING), ("terms", ASCENDING), ("conversation_id", ASCENDING)],
                                    name=SEARCH_IN_CONVERSATIONS, partialFilterExpression=not_private)
    await db[MESSAGES].create_index([("tenant_id", ASCENDING), ("terms", ASCENDING), ("sent_at", DESCENDING)],
                                    name=SEARCH_NEWEST, partialFilterExpression=not_private)


class MongoMaskingQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def policy(self, tenant_id: str) -> Doc | None:
        return await self._db[MASKING_POLICY].find_one({"_id": tenant_id})

    async def originals(self, tenant_id: str, conversation_id: str, message_ids: list[str]) -> list[Doc]:
        ids = [conversation_original_id(tenant_id, conversation_id),
               *(message_original_id(tenant_id, m) for m in message_ids)]
        return await self._db[ORIGINALS].find({"_id": {"$in": ids}}).to_list()

    def search_cursor(self, tenant_id: str, query: SearchQuery, conversation_ids: list[str] | None) -> Any:
        """The candidates' query: in conversations, a word's entries for them; else the word's newest entries
        (for a query of one word being typed, the first entries of the words it starts)."""
        found = self._db[MESSAGES].find(search_filter(tenant_id, query, conversation_ids), {"terms": 0}).hint(
            words_index(conversation_ids))
        if conversation_ids is not None:
            return found.limit(SEARCH_CANDIDATES)
        if query.bound is not None:  # one word's entries are in time order: the newest first, no sort in memory
            found = found.sort("sent_at", DESCENDING)
        return found.limit(SEARCH_CANDIDATES)

    async def entries(self, tenant_id: str, query: SearchQuery, conversation_ids: list[str] | None) -> int:
        """How many index entries the scan of `query` starts from (its bound word's, or its prefix's), counted
        on the index alone up to ENTRIES_COUNTED."""
        return await self._db[MESSAGES].count_documents(
            scan_bound(tenant_id, query, conversation_ids), limit=ENTRIES_COUNTED, hint=words_index(conversation_ids))

    async def fewest_entries(self, tenant_id: str, query: SearchQuery, conversation_ids: list[str] | None
                             ) -> tuple[SearchQuery, int | None]:
        """The query starting its scan from whichever of its whole words and its prefix has the fewest entries
        (counted together), and that count (None: one word, not counted). A common word scanned first reads its
        entries for few matches when another word is rare. The prefix is a start only in the tenant or a few
        conversations: in many, its range is scanned once per conversation."""
        prefix_may_start = len(query.prefix) >= MIN_PREFIX_BOUND and (
            conversation_ids is None or len(conversation_ids) <= PREFIX_START_CONVERSATIONS)
        starts: list[str | None] = [*query.whole, None] if prefix_may_start else [*query.whole]
        if len(starts) < 2:
            return query, None
        counts = await asyncio.gather(*(self.entries(tenant_id, query.starting_from(s), conversation_ids)
                                        for s in starts))
        entries, fewest = min(zip(counts, starts, strict=True), key=lambda pair: (pair[0], -len(pair[1] or "")))
        return query.starting_from(fewest), entries

    async def search(self, tenant_id: str, query: SearchQuery, *, conversation_ids: list[str] | None
                     ) -> tuple[list[Doc], dict[str, Doc], bool]:
        """At most SEARCH_CANDIDATES messages holding every query word, their conversations by id, and whether
        that is all of them. When the scan's start has more than SCANNED entries, only the first SCANNED in index
        order (the newest, when a word starts a tenant-wide scan) are looked at: a bound on what one search reads,
        and then not complete."""
        query, entries = await self.fewest_entries(tenant_id, query, conversation_ids)
        if entries is not None and entries > SCANNED:
            newest = conversation_ids is None and query.bound is not None
            cursor = await self._db[MESSAGES].aggregate([
                {"$match": scan_bound(tenant_id, query, conversation_ids)},
                *([{"$sort": {"sent_at": DESCENDING}}] if newest else []), {"$limit": SCANNED},
                {"$match": {"$expr": others_check(query)}}, {"$limit": SEARCH_CANDIDATES}, {"$project": {"terms": 0}}],
                hint=words_index(conversation_ids))
            messages = await cursor.to_list()
            complete = False
        else:
            messages = await self.search_cursor(tenant_id, query, conversation_ids).to_list()
            complete = len(messages) < SEARCH_CANDIDATES
        ids = sorted({m["conversation_id"] for m in messages})
        conversations = {c["conversation_id"]: c async for c in self._db[CONVERSATIONS].find(
            {"_id": {"$in": [doc_id(tenant_id, cid) for cid in ids]}},
            {"conversation_id": 1, "customer.customer_id": 1, "queue_id": 1})}
        return messages, conversations, complete
