"""Erasing a contact on request (privacy: customer.ContactErased): cases keeps its cases (the business's
record of work done) but nothing personal about the contact. Its cases lose the link to it, its name and
their description; quick notes on it or on its cases, and its service requests' details, read "[erased]";
what cases knew of its chat customers (links, names on conversations) is deleted. The run is recorded in
`erasures` (ids and counts only). A repeat changes nothing more and records another run."""

from __future__ import annotations

from services.cases.adapters.store import CASES, CONVERSATIONS, LINKS, NAMES, NOTES, SERVICE_REQUESTS, doc_id
from services.cases.use_cases import Context, follows
from shared.contracts import customer
from shared.erasures import record_erasure

ERASED = "[erased]"


@follows(customer.ContactErased)
async def contact_erased(ctx: Context, e: customer.ContactErased) -> None:
    tx, t = ctx.tx, ctx.tenant_id
    cases = await tx.find(CASES, {"tenant_id": t, "contact_id": e.contact_id})
    case_ids = [doc["id"] for doc in cases]
    for doc in cases:
        fields = {**doc["fields"], "contact_id": None,
                  "description": ERASED if doc["fields"].get("description") else None}
        erased = {**doc, "fields": fields, "customer_name": "", "customer_words": []}
        erased.pop("contact_id", None)
        await tx.put(CASES, erased, read_version=doc["version"])
    notes = 0
    for kind, record_id in [("contact", e.contact_id), *(("case", c) for c in case_ids)]:
        notes += await tx.update_many(NOTES, {"tenant_id": t, "record_kind": kind, "record_id": record_id},
                                      {"text": ERASED})
    requests = await tx.update_many(SERVICE_REQUESTS, {"tenant_id": t, "contact_id": e.contact_id},
                                    {"details": ERASED, "contact_id": None})
    names = await tx.delete_many(NAMES, {"_id": doc_id(t, f"contact|{e.contact_id}")})
    links = conversations = 0
    for customer_id in e.customer_ids:
        links += await tx.delete_many(LINKS, {"_id": doc_id(t, customer_id)})
        conversations += await tx.update_many(CONVERSATIONS, {"tenant_id": t, "customer_id": customer_id},
                                              {"customer_name": "", "contact_id": None})
    await record_erasure(tx, t, e.contact_id, at=ctx.now, by=e.erased_by, customer_ids=e.customer_ids,
                         counts={"cases": len(case_ids), "notes": notes, "service_requests": requests,
                                 "names": names, "links": links, "conversations": conversations})
