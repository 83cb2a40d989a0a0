"""The read API's queries (MongoDB): one contact or account, and search (U2). Every query is per tenant
and backed by an index (adapters/store.py ensure_indexes): exact identifiers by their own index, names by
the multikey index of their words (whole words by equality, the last word typed as a prefix range)."""

from __future__ import annotations

import re
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.customer.adapters.links import IDENTITY_REFS
from services.customer.adapters.store import ACCOUNTS, CONTACTS, COLLECTION, doc_id, search_key
from services.customer.domain import checks
from shared.contracts.answers import Rejected
from shared.contracts.customer.reads import SearchHit

Doc = dict[str, Any]
RANK = {"id": 0, "login_id": 0, "email": 0, "phone": 0, "tax_id": 0, "name": 1, "name_prefix": 2}


def _identifier_probes(q: str) -> list[tuple[str, str, Any]]:
    """(kind, field, value) lookups the query could be an exact identifier for."""
    probes: list[tuple[str, str, Any]] = [("contact", "id", q), ("account", "id", q), ("contact", "login_id", q)]
    if "@" in q:
        try:
            probes.append(("contact", "email", search_key("email", checks.email(q))))
        except Rejected:
            pass
    if re.fullmatch(r"\+?[\d\s().-]{7,}", q):
        try:
            probes.append(("contact", "phone", checks.phone(q, None)))
        except Rejected:
            pass
    compact = re.sub(r"[\s.\-/]", "", q).upper()
    if re.fullmatch(r"[A-Z]{0,2}\d{6,}[A-Z0-9]*", compact):
        probes.append(("account", "tax_id", compact))
        if compact[:2].isalpha():  # a VAT number with its country prefix is stored without it
            probes.append(("account", "tax_id", compact[2:]))
    return probes


def _hit(kind: str, doc: Doc, matched: str) -> SearchHit:
    fields = doc["fields"]
    return SearchHit(kind=kind, id=doc["id"], name=fields["full_name" if kind == "contact" else "name"],
                     account_id=fields.get("account_id") if kind == "contact" else None, matched=matched)


class CustomerQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def get(self, tenant_id: str, kind: str, record_id: str) -> Doc | None:
        return await self.db[COLLECTION[kind]].find_one({"_id": doc_id(tenant_id, record_id)})

    async def linked_customers(self, tenant_id: str, contact_id: str) -> list[str]:
        """Chat's customer ids linked to the contact (the U5 reverse link record, by its id)."""
        doc = await self.db[IDENTITY_REFS].find_one({"_id": f"{tenant_id}|contact|{contact_id}"})
        return list(doc["customers"]) if doc else []

    async def search(self, tenant_id: str, q: str, *, limit: int = 20) -> list[SearchHit]:
        q = q.strip()
        found: dict[tuple[str, str], tuple[int, str, SearchHit]] = {}

        def keep(kind: str, doc: Doc, matched: str) -> None:
            rank = RANK[matched]
            best = found.get((kind, doc["id"]))
            if best is None or rank < best[0]:
                found[(kind, doc["id"])] = (rank, doc.get("sort_name", ""), _hit(kind, doc, matched))

        for kind, field, value in _identifier_probes(q):
            query = {"_id": doc_id(tenant_id, value)} if field == "id" else {"tenant_id": tenant_id, field: value}
            async for doc in self.db[COLLECTION[kind]].find(query).limit(limit):
                keep(kind, doc, field)

        tokens = checks.words(q)
        if tokens:
            *whole, last = tokens
            prefix = {"$elemMatch": {"$gte": last, "$lt": last + "\U0010ffff"}}
            query = {"tenant_id": tenant_id, "$and": [*({"words": w} for w in whole), {"words": prefix}]}
            for kind, coll in (("contact", CONTACTS), ("account", ACCOUNTS)):
                # In the words index's order (the matched word, then the name), no sort stage: a common prefix
                # reads `limit` entries, not every match; the ranking below orders what it found.
                async for doc in self.db[coll].find(query).hint("words").limit(limit):
                    keep(kind, doc, "name" if set(tokens) <= set(doc["words"]) else "name_prefix")
        ranked = sorted(found.values(), key=lambda r: (r[0], r[2].kind != "contact", r[1], r[2].id))
        return [hit for _, _, hit in ranked[:limit]]
