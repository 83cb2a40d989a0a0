"""How an aggregate becomes a MongoDB document and back, field for field; each repository (queues.py,
agents.py, work_items.py) maps its own aggregate with these. Ids are prefixed with the tenant, so tenants
never collide."""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from services.routing.domain.model import Offer


def doc_id(tenant_id: str, entity_id: str) -> str:
    return f"{tenant_id}|{entity_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, Offer):
        return {f.name: getattr(value, f.name) for f in fields(Offer)}
    if isinstance(value, dict):
        return dict(value)
    return value


def entity_doc(entity: Any, tenant_id: str, entity_id: str, **extra: Any) -> dict[str, Any]:
    """Every field of the dataclass, plus the id, the tenant and any extra (query) fields."""
    body = {f.name: _plain(getattr(entity, f.name)) for f in fields(entity)}
    return {"_id": doc_id(tenant_id, entity_id), "tenant_id": tenant_id, **body, **extra}


def entity_fields(cls: type, doc: dict[str, Any]) -> dict[str, Any]:
    """The document's values for the dataclass's fields (extra fields are ignored, missing ones defaulted)."""
    return {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
