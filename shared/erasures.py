"""The record every service keeps when it obeys an erasure (privacy): collection `erasures` in its own database,
one document per erased contact with one run per time it obeyed (when, on whose request, the ids it touched,
what it deleted or blanked by count). Ids and counts only, never the erased data. Written through the unit of
work's transaction (load, put), so MongoDB and the fakes run the same code."""

from __future__ import annotations

from typing import Any

ERASURES = "erasures"


async def erasure_record(tx: Any, tenant_id: str, contact_id: str) -> dict[str, Any] | None:
    return await tx.load(ERASURES, f"{tenant_id}|{contact_id}")


async def record_erasure(tx: Any, tenant_id: str, contact_id: str, **run: Any) -> None:
    """Add one run (e.g. at, by, customer_ids, conversation_ids, counts) to the contact's erasure record."""
    stored = await erasure_record(tx, tenant_id, contact_id)
    doc = stored or {"_id": f"{tenant_id}|{contact_id}", "tenant_id": tenant_id, "contact_id": contact_id, "runs": []}
    doc = {**doc, "runs": [*doc["runs"], run], "version": (stored["version"] if stored else 0) + 1}
    await tx.put(ERASURES, doc, read_version=stored["version"] if stored else None)
