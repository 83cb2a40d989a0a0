"""Masking's storage (C4): the tenant's policy, and the originals of what chat masked, kept beside the masked
documents in their own collection (`originals`) so that nothing that reads messages or conversations
(views, search, events) can ever see them. Works in a unit of work's transaction through its generic
document API (load, store, put), so MongoDB and the in-memory fakes run the same code.

Also the read API's queries: the policy, the originals of a conversation, and search over masked text."""

from __future__ import annotations

import re
from typing import Any, Protocol

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.chat.adapters.documents import CONVERSATIONS, MESSAGES, doc_id
from services.chat.domain.masking import ORIGINALS_ROLES_DEFAULT, MaskingPolicy
from services.chat.domain.pii import DEFAULT_PHONE_REGIONS

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

class MaskingQueries(Protocol):
    async def policy(self, tenant_id: str) -> Doc | None: ...
    async def originals(self, tenant_id: str, conversation_id: str, message_ids: list[str]) -> list[Doc]: ...
    async def search(self, tenant_id: str, *, words: list[str], customer_id: str | None, limit: int
                     ) -> list[tuple[Doc, Doc]]: ...


def words_filter(words: list[str]) -> Doc:
    """Every word somewhere in the masked text, case-insensitive, as typed (no pattern syntax)."""
    return {"$and": [{"text": {"$regex": re.escape(w), "$options": "i"}} for w in words]}


async def ensure_masking_indexes(db: AsyncDatabase[Doc]) -> None:
    await db[ORIGINALS].create_index([("tenant_id", ASCENDING), ("conversation_id", ASCENDING)], name="of_conversation")
    await db[MESSAGES].create_index([("tenant_id", ASCENDING), ("private", ASCENDING), ("sent_at", DESCENDING)],
                                    name="search_newest")


class MongoMaskingQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self._db = db

    async def policy(self, tenant_id: str) -> Doc | None:
        return await self._db[MASKING_POLICY].find_one({"_id": tenant_id})

    async def originals(self, tenant_id: str, conversation_id: str, message_ids: list[str]) -> list[Doc]:
        ids = [conversation_original_id(tenant_id, conversation_id),
               *(message_original_id(tenant_id, m) for m in message_ids)]
        return await self._db[ORIGINALS].find({"_id": {"$in": ids}}).to_list()

    async def search(self, tenant_id: str, *, words: list[str], customer_id: str | None, limit: int
                     ) -> list[tuple[Doc, Doc]]:
        """Messages (not private notes) whose masked text holds every word, newest first, with their conversation."""
        query: Doc = {"tenant_id": tenant_id, "private": False, **words_filter(words)}
        if customer_id is not None:
            ids = await self._db[CONVERSATIONS].distinct(
                "conversation_id", {"tenant_id": tenant_id, "customer.customer_id": customer_id})
            query["conversation_id"] = {"$in": ids}
        messages = await self._db[MESSAGES].find(query).sort("sent_at", DESCENDING).limit(limit).to_list()
        conversations = {c["conversation_id"]: c for c in await self._db[CONVERSATIONS].find(
            {"_id": {"$in": [doc_id(tenant_id, m["conversation_id"]) for m in messages]}}).to_list()}
        return [(m, conversations[m["conversation_id"]]) for m in messages if m["conversation_id"] in conversations]
