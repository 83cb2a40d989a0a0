"""The agent's work lists (G1, R6): My (offered, assigned, in conference), Open (waiting in my queues, to take)
and Closed (what I served, and offline messages left in my queues), from the gateway's conversation views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from services.gateway.adapters.store import CONVERSATIONS, QUEUES
from services.gateway.identity import Staff, require_staff

router = APIRouter()


class WorkItem(BaseModel):
    conversation_id: str
    state: str
    queue_id: str | None
    customer_name: str | None
    preview: str
    agents: list[str] = Field(description="Empty in the Open list (metadata and preview only).")
    offer_id: str | None = Field(None, description="My pending offer of it, to accept or decline.")
    updated_at: datetime | None


class WorkLists(BaseModel):
    my: list[WorkItem] = Field(description="Offered to, assigned to, or in conference with me (not closed).")
    open: list[WorkItem] = Field(description="Waiting in my queues: metadata and preview only.")
    closed: list[WorkItem] = Field(description="Closed conversations I served, and offline messages left in my "
                                               "queues, newest first.")


def _item(v: dict[str, Any], me: str, *, open_list: bool = False) -> WorkItem:
    return WorkItem(conversation_id=v["conversation_id"], state=v["state"], queue_id=v.get("queue_id"),
                    customer_name=v.get("customer_name"), preview=v.get("preview", ""),
                    agents=[] if open_list else v.get("agents", []),
                    offer_id=None if open_list else v.get("offer_ids", {}).get(me), updated_at=v.get("updated_at"))


@router.get("/v1/agent/work", response_model=WorkLists, tags=["agent"])
async def work_lists(request: Request, staff: Staff = Depends(require_staff),
                     limit: int = Query(50, ge=1, le=200)) -> WorkLists:
    db = request.app.state.gateway.db
    t, me = staff.tenant_id, staff.user_id
    my = await db[CONVERSATIONS].find({"tenant_id": t, "state": {"$ne": "closed"}, "$or": [
        {"agents": me}, {"offered": me}, {"invited": me}]}).sort("updated_at", -1).limit(limit).to_list()
    queues = [q["queue_id"] async for q in db[QUEUES].find({"tenant_id": t, "members": me})]
    opened = await db[CONVERSATIONS].find({"tenant_id": t, "queue_id": {"$in": queues},
                                           "state": {"$in": ["queued", "requested"]}}).sort(
        "updated_at", 1).limit(limit).to_list()
    closed = await db[CONVERSATIONS].find({"tenant_id": t, "state": "closed", "$or": [
        {"served_by": me}, {"offline": True, "queue_id": {"$in": queues}}]}).sort(
        "updated_at", -1).limit(limit).to_list()
    return WorkLists(my=[_item(v, me) for v in my], open=[_item(v, me, open_list=True) for v in opened],
                     closed=[_item(v, me) for v in closed])
