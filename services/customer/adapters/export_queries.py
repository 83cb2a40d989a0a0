"""The read API's query for a contact's export (privacy): the contact, its account, the chat customers linked
to it and their line rows, conversations' line records and agents' ties; every query on an index."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.customer.adapters.erasure import BY_CUSTOMER
from services.customer.adapters.lines import AGENT_TIES, LINE_CONVERSATIONS, LINE_USERS
from services.customer.adapters.links import IDENTITIES, IDENTITY_REFS
from services.customer.adapters.store import ACCOUNTS, CONTACTS, doc_id

Doc = dict[str, Any]
INTERNAL = {"_id", "tenant_id", "version", "words", "sort_name", "conversations"}


def _public(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k not in INTERNAL}


def _view(kind: str, doc: Doc) -> Doc:
    return {**doc["fields"], f"{kind}_id": doc["id"], "version": doc["version"], "created_at": doc["created_at"],
            "updated_at": doc["updated_at"]}


class ExportQueries:
    def __init__(self, db: AsyncDatabase[Doc]) -> None:
        self.db = db

    async def contact(self, tenant_id: str, contact_id: str) -> Doc | None:
        """Everything about the contact (None: no such contact in the tenant)."""
        contact = await self.db[CONTACTS].find_one({"_id": doc_id(tenant_id, contact_id)})
        if contact is None:
            return None
        account_id = contact["fields"].get("account_id")
        account = await self.db[ACCOUNTS].find_one({"_id": doc_id(tenant_id, account_id)}) if account_id else None
        refs = await self.db[IDENTITY_REFS].find_one({"_id": f"{tenant_id}|contact|{contact_id}"})
        customer_ids = sorted(refs["customers"]) if refs else []
        of_customers = {"tenant_id": tenant_id, "customer_id": {"$in": customer_ids}}
        found = {name: [_public(d) async for d in self.db[name].find(of_customers)] for name in BY_CUSTOMER}
        identities = [_public(d) async for d in self.db[IDENTITIES].find(of_customers)]
        primary = [d["id"] async for d in self.db[ACCOUNTS].find(
            {"tenant_id": tenant_id, "fields.primary_contact_id": contact_id}, {"id": 1})]
        rows = [{**r, "chat_name": r.get("chat_name"),
                 "last_message_at": r["last_message_at"] if r["last_message_at"].year > 1970 else None}
                for r in found[LINE_USERS]]
        return {"contact": _view("contact", contact), "account": _view("account", account) if account else None,
                "primary_contact_of": sorted(primary), "customer_ids": customer_ids, "linked_customers": identities,
                "line_rows": rows, "agent_ties": found[AGENT_TIES], "line_conversations": found[LINE_CONVERSATIONS]}
