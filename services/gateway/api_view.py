"""The active-conversation view (G4) for staff, in one request: the gateway's projection of the conversation
(active_view.py: summary, context, the customer and case it is linked to) joined, at read time, with the
editable records behind it from their owners' read APIs: the contact's and account's cards (customer), the
linked case with its version and allowed statuses, the customer's recent cases, the newest timeline entries
of the contact, account or case, and the newest quick notes of the linked case (else of the contact or
account) (cases). Live changes arrive as `view` frames on the agent's socket. A closed conversation has no
view (404): its tombstone keeps late events from bringing it back."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.gateway import active_view
from services.gateway.adapters.store import ACTIVE_VIEWS
from services.gateway.api_staff import ANSWERS, IdempotencyKey, act
from services.gateway.auth.permissions import Action
from services.gateway.identity import Staff, authorise, require_staff
from services.gateway.reads import service_read
from shared.contracts import routing
from shared.contracts.catalogue import ROUTING_COMMANDS
from shared.contracts.envelope import Identifier

router = APIRouter(tags=["agent"])
Kind = Literal["contact", "account", "case"]


async def _read(client: Any, service: str, path: str, **params: Any) -> Any:
    """One part of the view: a missing record is None, an owner that does not answer an `error` (the rest of
    the view still shows)."""
    try:
        return await service_read(client, service, path, **params)
    except HTTPException as exc:
        if exc.status_code == 404:
            return None
        return {"error": exc.detail}


@router.get("/v1/conversations/{conversation_id}/view",
            responses={404: {"description": "Not a conversation one may see, not started yet, or closed."}})
async def conversation_view(conversation_id: str, request: Request, staff: Staff = Depends(require_staff),
                            timeline: Kind | None = Query(None, description="Whose timeline: the linked case's "
                                                                            "(default when there is one), the "
                                                                            "contact's or the account's."),
                            timeline_limit: int = Query(10, ge=1, le=100)) -> dict[str, Any]:
    """Everything the agent needs beside the conversation: customer card, linked case, recent cases, timeline,
    quick notes (the linked case's, else the contact's or account's; older ones through that record's timeline
    with `only=quick_note`), summary (channel, queue, skills, waiting time, start), pre-chat survey, self-service
    trail, visitor details and context variables."""
    gw = request.app.state.gateway
    await authorise(gw.db, staff, conversation_id, Action.READ_MESSAGES)
    view = await gw.db[ACTIVE_VIEWS].find_one({"_id": f"{staff.tenant_id}:{conversation_id}"})
    if view is None or view["closed"]:
        raise HTTPException(404, detail={"error": "not_found", "detail": "The conversation is closed." if view else
                                         "The conversation has no view yet: try again."})
    shown = active_view.public(view)
    t = f"/internal/tenants/{staff.tenant_id}"
    customer, case = shown["customer"], shown["case"]
    records = {"contact": customer["contact_id"], "account": customer["account_id"],
               "case": case["case_id"] if case else None}
    kind = timeline or next((k for k in ("case", "contact", "account") if records[k]), None)
    owner = ("contact", customer["contact_id"]) if customer["contact_id"] else \
        ("account", customer["account_id"]) if customer["account_id"] else None

    # Quick notes: the linked case's, else the contact's or account's (written through those records' note routes)
    noted = next(((k, records[k]) for k in ("case", "contact", "account") if records[k]), None)

    async def nothing() -> None:
        return None
    contact, account, linked_case, recent, entries, notes = await asyncio.gather(
        _read(gw.customer, "customer", f"{t}/contacts/{records['contact']}") if records["contact"] else nothing(),
        _read(gw.customer, "customer", f"{t}/accounts/{records['account']}") if records["account"] else nothing(),
        _read(gw.cases, "cases", f"{t}/cases/{records['case']}") if records["case"] else nothing(),
        _read(gw.cases, "cases", f"{t}/{owner[0]}s/{owner[1]}/cases", limit=10) if owner else nothing(),
        _read(gw.cases, "cases", f"{t}/timeline/{kind}/{records[kind]}", limit=timeline_limit)
        if kind and records[kind] else nothing(),
        _read(gw.cases, "cases", f"{t}/timeline/{noted[0]}/{noted[1]}", limit=10, only=["quick_note"])
        if noted else nothing())
    return {**shown,
            "customer": {**customer, "contact": contact, "account": account},
            "case": linked_case if linked_case is not None else case,
            "recent_cases": (recent or {}).get("hits", []) if "error" not in (recent or {}) else recent,
            "timeline": {"kind": kind, "record_id": records[kind] if kind else None,
                         **(entries if entries is not None else {"entries": [], "next_cursor": None})},
            "quick_notes": {"kind": noted[0] if noted else None, "record_id": noted[1] if noted else None,
                            **(notes if notes is not None else {"entries": [], "next_cursor": None})}}


class Skills(BaseModel):
    model_config = ConfigDict(extra="forbid")
    add: dict[Identifier, Annotated[int, Field(ge=0, le=10)]] = Field(
        default_factory=dict, description="Skills to require: skill -> minimum level.")
    remove: list[Identifier] = Field(default_factory=list, description="Skills no longer required.")


@router.patch("/v1/conversations/{conversation_id}/skills", responses=ANSWERS)
async def change_skills(conversation_id: Identifier, body: Skills, request: Request,
                        staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    """The summary's skills, edited: routing refuses it where the queue does not let agents change skills
    (the answer says why); the view's summary follows (a `view` frame)."""
    return await act(request, staff, conversation_id, Action.EDIT_SKILLS, ROUTING_COMMANDS,
                     routing.ChangeConversationSkills, key, agent_id=staff.user_id, add=body.add, remove=body.remove)
