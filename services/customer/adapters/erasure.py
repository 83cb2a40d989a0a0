"""What erasing a contact removes from customer's database, and the record that it happened (shared/erasures.py:
ids, when, by whom, counts; never a name, an e-mail or a text).

Written through the unit of work's transaction (load, find, delete_many, put) like every customer repository, so
the same code runs on MongoDB and on the fakes. A contact's chat customers are read through one method,
`customers_of`, from the link records (adapters/links.py)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.customer.adapters.lines import AGENT_TIES, LINE_CONVERSATIONS, LINE_USERS
from services.customer.adapters.links import IDENTITIES, IDENTITY_REFS, LinkRecords
from services.customer.adapters.store import ACCOUNTS, CONTACTS, doc_id
from shared.erasures import erasure_record, record_erasure

# A customer's rows, conversations and ties, found by customer id across lines and agents (erasure, export).
BY_CUSTOMER = (LINE_USERS, LINE_CONVERSATIONS, AGENT_TIES)
COUNTED = {LINE_USERS: "line_rows", LINE_CONVERSATIONS: "line_conversations", AGENT_TIES: "agent_ties"}


async def ensure_erasure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    for collection in BY_CUSTOMER:
        await db[collection].create_index([("tenant_id", ASCENDING), ("customer_id", ASCENDING)], name="of_customer")
    await db[ACCOUNTS].create_index([("tenant_id", ASCENDING), ("fields.primary_contact_id", ASCENDING)],
                                    name="primary_contact", partialFilterExpression={
                                        "fields.primary_contact_id": {"$type": "string"}})


class ErasureRecords:
    """One tenant's erasure work inside a unit of work."""

    def __init__(self, tx: Any, tenant_id: str, links: LinkRecords) -> None:
        self.tx = tx
        self.t = tenant_id
        self.links = links

    async def customers_of(self, contact_id: str) -> list[str]:
        """The chat customer ids linked to the contact (U5 link records)."""
        return sorted(await self.links.linked_through("contact", contact_id))

    async def accounts_naming(self, contact_id: str) -> list[str]:
        """Accounts whose primary contact it is (their reference is cleared, so they stay editable)."""
        docs = await self.tx.find(ACCOUNTS, {"tenant_id": self.t, "fields.primary_contact_id": contact_id})
        return sorted(d["id"] for d in docs)

    async def forget_customer(self, customer_id: str, contact_id: str) -> Counter[str]:
        """The customer's link record and reverse links, its rows on every line, its conversations' line records
        and every agent's ties to it."""
        counts: Counter[str] = Counter()
        identity = await self.links.identity(customer_id)
        for kind, record_id in sorted(identity.refs() - {("contact", contact_id)}):
            await self.links.set_ref(kind, record_id, customer_id, linked=False)
        counts["links"] += await self.tx.delete_many(IDENTITIES, {"_id": f"{self.t}|{customer_id}"})
        for collection in BY_CUSTOMER:
            counts[COUNTED[collection]] += await self.tx.delete_many(
                collection, {"tenant_id": self.t, "customer_id": customer_id})
        return counts

    async def delete_contact(self, contact_id: str) -> Counter[str]:
        return Counter(contacts=await self.tx.delete_many(CONTACTS, {"_id": doc_id(self.t, contact_id)}),
                       link_refs=await self.tx.delete_many(IDENTITY_REFS, {"_id": f"{self.t}|contact|{contact_id}"}))

    async def customers_erased(self, contact_id: str) -> list[str] | None:
        """The customer ids of a contact erased before (None: it never was)."""
        record = await erasure_record(self.tx, self.t, contact_id)
        return record["runs"][0]["customer_ids"] if record else None

    async def keep_record(self, contact_id: str, *, customer_ids: list[str], counts: dict[str, int],
                          by: str | None, role: str | None, at: datetime) -> None:
        """That the contact was erased, by whom and when, what went by count; a repeat is one more run."""
        await record_erasure(self.tx, self.t, contact_id, at=at, by=by, role=role, customer_ids=customer_ids,
                             counts=counts)
