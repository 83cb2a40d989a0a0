"""Routing entities <-> MongoDB documents. Ids are prefixed with the tenant, so tenants never collide."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from enum import Enum
from typing import Any

from services.routing.domain.model import (Agent, AssignmentMethod, ItemState, Offer, Presence, QueueConfig,
                                           WorkItem)


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


def _doc(entity: Any, tenant_id: str, entity_id: str, **extra: Any) -> dict[str, Any]:
    body = {f.name: _plain(getattr(entity, f.name)) for f in fields(entity)}
    return {"_id": doc_id(tenant_id, entity_id), "tenant_id": tenant_id, **body, **extra}


def _fields(cls: type, doc: dict[str, Any]) -> dict[str, Any]:
    return {f.name: doc[f.name] for f in fields(cls) if f.name in doc}


def queue_to_doc(tenant_id: str, q: QueueConfig) -> dict[str, Any]:
    # member_ids: an indexable list ("which queues is this agent in?"), since agent ids are map keys.
    return _doc(q, tenant_id, q.queue_id, member_ids=sorted(q.members))


def queue_from_doc(doc: dict[str, Any]) -> QueueConfig:
    values = _fields(QueueConfig, doc)
    values["method"] = AssignmentMethod(values["method"])
    return QueueConfig(**values)


def agent_to_doc(tenant_id: str, a: Agent) -> dict[str, Any]:
    return _doc(a, tenant_id, a.agent_id)


def agent_from_doc(doc: dict[str, Any]) -> Agent:
    values = _fields(Agent, doc)
    values["presence"] = Presence(values["presence"])
    return Agent(**values)


def item_to_doc(tenant_id: str, item: WorkItem, now: datetime) -> dict[str, Any]:
    # holders: agents whose capacity this item uses or who are invited, for "what does agent X hold?" queries.
    holders = sorted({*item.capacity_holders(), *item.invites})
    # ended_at: a TTL index purges ended items; one that comes back before then is replaced, so None again.
    ended_at = now if item.state == ItemState.ENDED else None
    return _doc(item, tenant_id, item.conversation_id, holders=holders, ended_at=ended_at)


def item_from_doc(doc: dict[str, Any]) -> WorkItem:
    values = _fields(WorkItem, doc)
    values["state"] = ItemState(values["state"])
    values["participants"] = set(values.get("participants") or ())
    if values.get("offer"):
        values["offer"] = Offer(**values["offer"])
    return WorkItem(**values)
