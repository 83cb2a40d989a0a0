"""Contacts and accounts <-> MongoDB documents, and the repository the use cases load and save them with.

The repository speaks only the unit of work's transaction (load, find_one, put): the same code runs on
MongoDB and on shared/testing/fakes.py, so there is no second, in-memory copy to keep in step. Every
document carries tenant_id and its search keys (`words`: the name's case- and accent-free words); ids
are prefixed with the tenant, so tenants never collide."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.customer.domain.checks import words
from services.customer.domain.profiles import Account, Contact, Profile
from shared.contracts.customer.common import AccountFields, ContactFields

CONTACTS, ACCOUNTS = "contacts", "accounts"
COLLECTION = {"contact": CONTACTS, "account": ACCOUNTS}
NAME_FIELD = {"contact": "full_name", "account": "name"}


def doc_id(tenant_id: str, record_id: str) -> str:
    return f"{tenant_id}|{record_id}"


def to_doc(tenant_id: str, p: Profile[Any]) -> dict[str, Any]:
    fields = p.fields.model_dump(mode="json")
    name = fields[NAME_FIELD[p.KIND]] or ""
    return {"_id": doc_id(tenant_id, p.id), "tenant_id": tenant_id, "id": p.id, "version": p.version,
            "created_at": p.created_at, "updated_at": p.updated_at, "fields": fields,
            # search keys, top level so they can be indexed
            "words": words(name), "sort_name": " ".join(words(name)),
            # searched identifiers at the top level, absent when empty (their unique indexes skip them)
            **{k: search_key(k, fields[k]) for k in SEARCHED[p.KIND] if fields.get(k) is not None}}


SEARCHED = {"contact": ("login_id", "email", "phone"), "account": ("tax_id",)}


def search_key(field: str, value: str | None) -> str | None:
    """How a searched field is stored and looked up: e-mail addresses without regard to case."""
    return value.casefold() if field == "email" and value is not None else value


def from_doc(kind: str, doc: dict[str, Any]) -> Profile[Any]:
    cls, fields = (Contact, ContactFields) if kind == "contact" else (Account, AccountFields)
    return cls(doc["id"], fields.model_validate(doc["fields"]), doc["version"], doc["created_at"], doc["updated_at"])


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    t = ("tenant_id", ASCENDING)
    for kind, coll in COLLECTION.items():
        await db[coll].create_index([t, ("words", ASCENDING), ("sort_name", ASCENDING)], name="words")
        await db[coll].create_index([t, ("sort_name", ASCENDING)], name="sort_name")
        for field in SEARCHED[kind]:
            # partial on $exists (an equality query implies it, so the planner uses the index; $type would not)
            await db[coll].create_index([t, (field, ASCENDING)], name=f"by_{field}", unique=field in ("login_id", "email"),
                                        partialFilterExpression={field: {"$exists": True}})


class Profiles:
    """Load and save one tenant's contacts and accounts inside a unit of work (version-checked)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.tenant_id = tenant_id
        self._read: dict[tuple[str, str], int | None] = {}

    async def get(self, kind: str, record_id: str) -> Profile[Any] | None:
        doc = await self.tx.load(COLLECTION[kind], doc_id(self.tenant_id, record_id))
        self._read[(kind, record_id)] = doc["version"] if doc else None
        return from_doc(kind, doc) if doc else None

    async def exists(self, kind: str, record_id: str) -> bool:
        return await self.tx.load(COLLECTION[kind], doc_id(self.tenant_id, record_id)) is not None

    async def holder_of(self, kind: str, field: str, value: str) -> str | None:
        """The id of the record whose (unique) field has this value."""
        doc = await self.tx.find_one(COLLECTION[kind], {"tenant_id": self.tenant_id, field: search_key(field, value)})
        return doc["id"] if doc else None

    async def save(self, profile: Profile[Any]) -> None:
        read = self._read.get((profile.KIND, profile.id))
        await self.tx.put(COLLECTION[profile.KIND], to_doc(self.tenant_id, profile), read_version=read)
        self._read[(profile.KIND, profile.id)] = profile.version
