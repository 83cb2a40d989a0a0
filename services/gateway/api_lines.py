"""The users of a support line for staff (U3), an agent's own list and favourites (U2, U4), and an admin
connecting a user to a line. The list is customer's read API's, for the asking agent; rows that change
while it is open arrive as `line_user` frames on the agent's stream."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shared.contracts import customer
from shared.contracts.customer.reads import LinePage
from shared.contracts.envelope import Identifier

from services.gateway import line_rows
from services.gateway.adapters.store import QUEUES
from services.gateway.api_admin import admin
from services.gateway.api_customers import send_to_customer
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action, Role
from services.gateway.identity import Staff
from services.gateway.reads import service_read

router = APIRouter(tags=["customers"])


@router.get("/v1/lines/{line_id}/users", response_model=LinePage)
async def line_users(line_id: Identifier, request: Request, staff: Staff = Depends(admin(Action.READ_CUSTOMERS)),
                     cursor: str | None = Query(None, max_length=500), limit: int = Query(50, ge=1, le=200),
                     q: str | None = Query(None, max_length=200),
                     status: Literal["online", "away", "offline"] | None = None, open_with_me: bool = False) -> Any:
    """The line's users, newest last message first, then by name; give `next_cursor` back for the next page.
    A line of more than 100 users lists only yours (added, favourites, worked with lately) unless `q`
    searches. Agents see the lines (queues) they are members of; supervisors and admins every line. A row's preview
    (its last message) shows only to whoever may read that conversation's preview or messages (line_rows.py)."""
    gw = request.app.state.gateway
    if staff.role == Role.AGENT:
        queue = await gw.db[QUEUES].find_one({"_id": f"{staff.tenant_id}:{line_id}"})
        if queue is None or staff.user_id not in queue["members"]:
            raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})  # not said whose
    params = {"agent_id": staff.user_id, "limit": limit, "open_with_me": str(open_with_me).lower()}
    params |= {k: v for k, v in (("cursor", cursor), ("q", q), ("status", status)) if v is not None}
    page = await service_read(gw.customer, "customer", f"/internal/tenants/{staff.tenant_id}/lines/{line_id}/users",
                              **params)
    return await line_rows.hide_previews(gw.db, staff, line_id, page)  # a preview only for its conversation's readers


class LineMember(BaseModel):
    customer_id: Identifier = Field(description="The user (a signed-in customer's id, or visitor-N).")
    name: str = Field(min_length=1, max_length=200, description="How it is listed until it writes.")


@router.post("/v1/lines/{line_id}/users", responses=ANSWERS)
async def connect_user(line_id: Identifier, body: LineMember, request: Request,
                       staff: Staff = Depends(admin(Action.EDIT_ACCOUNTS)), key: str | None = IdempotencyKey
                       ) -> JSONResponse:
    """Supervisors and admins connect a user to a line before it writes there."""
    return await send_to_customer(request, staff, customer.ConnectToLine(
        customer_id=body.customer_id, line_id=line_id, name=body.name), key)


class Ties(BaseModel):
    added: bool | None = Field(None, description="On my own list (omitted: unchanged).")
    favourite: bool | None = Field(None, description="One of my favourites (omitted: unchanged).")


@router.put("/v1/agent/users/{customer_id}", responses=ANSWERS)
async def tie(customer_id: Identifier, body: Ties, request: Request,
              staff: Staff = Depends(admin(Action.READ_CUSTOMERS)), key: str | None = IdempotencyKey) -> JSONResponse:
    """Add a user to my list (or remove it), make it a favourite (or not)."""
    return await send_to_customer(request, staff, customer.TieToUser(
        customer_id=customer_id, added=body.added, favourite=body.favourite), key)


class Window(BaseModel):
    days: int = Field(ge=7, le=90, description="How far back 'worked with' counts in streaming mode.")


@router.put("/v1/agent/relevance-window", responses=ANSWERS)
async def relevance_window(body: Window, request: Request, staff: Staff = Depends(admin(Action.READ_CUSTOMERS)),
                           key: str | None = IdempotencyKey) -> JSONResponse:
    return await send_to_customer(request, staff, customer.SetRelevanceWindow(agent_id=staff.user_id,
                                                                              days=body.days), key)
