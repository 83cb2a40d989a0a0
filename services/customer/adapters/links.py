"""Link records (U5), written through the unit of work's transaction (load, put) like every customer repository,
so the same code runs on MongoDB and on the fakes: one record per chat customer (collection
`customer_identities`: the lines it is on, the contact or account it is linked to, the name and company that
shows) and one reverse record per contact or account that customers are linked through (`identity_refs`), so
an edit of that contact or account finds them without a query outside the transaction."""

from __future__ import annotations

from typing import Any

from services.customer.adapters.lines import LineUser
from services.customer.domain.identity import Identity

IDENTITIES, IDENTITY_REFS = "customer_identities", "identity_refs"


class LinkRecords:
    """One tenant's link records inside a unit of work (version-checked puts)."""

    def __init__(self, tx: Any, tenant_id: str) -> None:
        self.tx = tx
        self.t = tenant_id

    async def identity(self, customer_id: str) -> Identity:
        """The customer's record (an empty one, version 0, if it has none yet)."""
        doc = await self.tx.load(IDENTITIES, f"{self.t}|{customer_id}")
        if doc is None:
            return Identity(customer_id)
        return Identity(customer_id, list(doc["lines"]), doc["contact_id"], doc["account_id"],
                        doc["company_account_id"], doc["name"], doc["company"], doc["version"])

    async def save(self, identity: Identity) -> None:
        doc = {"_id": f"{self.t}|{identity.customer_id}", "tenant_id": self.t, "customer_id": identity.customer_id,
               "lines": identity.lines, "contact_id": identity.contact_id, "account_id": identity.account_id,
               "company_account_id": identity.company_account_id, "name": identity.name,
               "company": identity.company, "version": identity.version + 1}
        await self.tx.put(IDENTITIES, doc, read_version=identity.version or None)
        identity.version += 1

    async def linked_through(self, kind: str, record_id: str) -> list[str]:
        """The customers whose name or company comes from this contact or account."""
        doc = await self.tx.load(IDENTITY_REFS, f"{self.t}|{kind}|{record_id}")
        return list(doc["customers"]) if doc else []

    async def set_ref(self, kind: str, record_id: str, customer_id: str, *, linked: bool) -> None:
        key = f"{self.t}|{kind}|{record_id}"
        doc = await self.tx.load(IDENTITY_REFS, key)
        customers = set(doc["customers"]) if doc else set()
        customers = customers | {customer_id} if linked else customers - {customer_id}
        await self.tx.put(IDENTITY_REFS, {"_id": key, "tenant_id": self.t, "kind": kind, "record_id": record_id,
                                          "customers": sorted(customers),
                                          "version": (doc["version"] if doc else 0) + 1},
                          read_version=doc["version"] if doc else None)

    async def joined(self, row: LineUser) -> None:
        """The customer has a row on one more line: remember the line, and show its link there."""
        identity = await self.identity(row.customer_id)
        if row.line_id not in identity.lines:
            identity.lines.append(row.line_id)
            await self.save(identity)
        row.contact_name, row.company = identity.name, identity.company
