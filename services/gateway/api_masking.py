"""Masking (C4) and history search (C6) for staff: the tenant's masking policy (admins), the originals of a
conversation (only for roles the policy allows, on top of being allowed to read the conversation), and
search over masked message text, filtered to the conversations the caller may read."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.chat.privacy import MaskingPolicyView, OriginalsPage, SearchResults
from shared.contracts.envelope import Identifier
from shared.text import words

from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action, allowed, refusal
from services.gateway.commands import request_id_for
from services.gateway.identity import Staff, authorise, raise_refusal, require_staff
from services.gateway import history_search
from services.gateway.reads import chat_read, service_read

router = APIRouter()


class MaskingPolicy(BaseModel):
    """Which kinds chat masks where text enters, and who may read the originals. Omitted kinds: masked."""
    card: bool = Field(True, description="Card numbers (Luhn-valid, of a known card scheme).")
    iban: bool = Field(True, description="IBANs (checksum-valid).")
    ssn: bool = Field(True, description="US social security numbers.")
    email: bool = Field(True, description="E-mail addresses (first character and domain kept).")
    phone: bool = Field(True, description="Phone numbers (international always, national of phone_regions).")
    originals_roles: list[Literal["agent", "supervisor", "admin"]] = Field(
        default_factory=lambda: ["admin"], max_length=3, description="Roles that may read the originals.")
    phone_regions: list[chat.PhoneRegion] | None = Field(
        None, max_length=60, description="ISO 3166 alpha-2 regions whose national formats count; None: default.")


@router.get("/v1/admin/masking", tags=["admin"], response_model=MaskingPolicyView)
async def get_masking(request: Request, staff: Staff = Depends(admin(Action.MANAGE_MASKING))) -> Any:
    """The tenant's masking policy (the defaults, configured=false, if it never set one)."""
    return await chat_read(request.app.state.gateway, f"/internal/tenants/{staff.tenant_id}/masking")


@router.put("/v1/admin/masking", tags=["admin"], responses=ANSWERS)
async def put_masking(body: MaskingPolicy, request: Request, staff: Staff = Depends(admin(Action.MANAGE_MASKING)),
                      key: str | None = IdempotencyKey) -> JSONResponse:
    """Replace the policy (chat.ConfigureMasking); it applies to text that enters from now on."""
    gw = request.app.state.gateway
    return await gw.bus.send(CHAT_COMMANDS, chat.ConfigureMasking(
        **body.model_dump(), request_id=request_id_for(staff.tenant_id, staff.user_id, key)),
        tenant_id=staff.tenant_id, actor=staff.actor)


@router.get("/v1/agent/conversations/{conversation_id}/messages", tags=["agent"], response_model=OriginalsPage,
            responses={403: {"description": "Not allowed to read the conversation, or the tenant's masking policy "
                                            "does not let this role read originals (the reason says so)."}})
async def read_originals(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                         originals: bool = Query(True, description="Only true: the masked transcript is at "
                                                                   "/v1/conversations/{id}/messages."),
                         after_seq: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=500)) -> Any:
    """The conversation as it was given (customer, context, message texts before masking), for a caller who may
    read its messages and whose role the tenant's masking policy allows."""
    if not originals:
        raise HTTPException(422, detail={"error": "invalid", "detail": [
            {"field": "originals", "reason": "this route serves originals; read the masked transcript at "
                                             f"/v1/conversations/{conversation_id}/messages"}]})
    gw = request.app.state.gateway
    access = await authorise(gw.db, staff, conversation_id, Action.READ_MESSAGES)
    notes = allowed(staff.role, Action.READ_PRIVATE_NOTES, access.relations)
    path = f"/internal/tenants/{staff.tenant_id}/conversations/{conversation_id}/originals"
    try:
        response = await gw.chat.get(path, params={"role": staff.role.value, "after_seq": after_seq, "limit": limit,
                                                   "include_private": str(notes).lower()})
    except httpx.HTTPError as exc:
        raise HTTPException(503, detail={"error": "unavailable",
                                         "detail": f"chat is not answering ({type(exc).__name__})"}) from None
    if response.status_code == 403:
        raise HTTPException(403, detail={"error": "forbidden", "detail": response.json()["detail"]})
    if response.status_code == 404:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    if response.status_code != 200:
        raise HTTPException(502, detail={"error": "upstream", "detail": f"chat answered {response.status_code}"})
    return response.json()


@router.get("/v1/agent/search", tags=["agent"], response_model=SearchResults,
            responses={403: {"description": "Not allowed to read the named conversation."},
                       404: {"description": "No such conversation or contact in this tenant."},
                       422: {"description": "The query has no words, or more than one scope is named."}})
async def search(request: Request, staff: Staff = Depends(require_staff),
                 q: str = Query(min_length=1, max_length=200,
                                description="Words, all of which must appear (case- and accent-insensitive); the "
                                            "last one may be the start of a word."),
                 customer_id: Identifier | None = Query(None, description="Only this chat customer's conversations."),
                 contact_id: Identifier | None = Query(None, description="Only the conversations of the chat "
                                                                         "customers linked to this contact (U5)."),
                 conversation_id: Identifier | None = Query(None, description="Only this conversation."),
                 limit: int = Query(20, ge=1, le=100)) -> Any:
    """History search (C6): messages whose masked text holds every word of `q`, best first, with a snippet whose
    matched words are marked (fragments: show them as text, never as HTML), from conversations the caller may
    read the messages of: one, a customer's, a contact's customers', or without a scope all the caller may read.
    Only masked text is searched: a card number, an IBAN or an e-mail address finds nothing."""
    refused = refusal(staff.role, Action.SEARCH_HISTORY)
    if refused is not None:
        raise_refusal(refused)
    named = [name for name, value in (("customer_id", customer_id), ("contact_id", contact_id),
                                      ("conversation_id", conversation_id)) if value is not None]
    if len(named) > 1:
        raise HTTPException(422, detail={"error": "invalid", "detail": [
            {"field": name, "reason": "name one scope at most"} for name in named]})
    if not words(q):
        raise HTTPException(422, detail={"error": "invalid", "detail": [{"field": "q", "reason": "no words"}]})
    gw = request.app.state.gateway
    t = staff.tenant_id
    if conversation_id is not None:
        await authorise(gw.db, staff, conversation_id, Action.READ_MESSAGES)
        scope: list[str] | None = [conversation_id]
    elif customer_id is not None:
        scope = await history_search.customers_conversations(gw.db, staff, [customer_id])
    elif contact_id is not None:
        linked = await service_read(gw.customer, "customer", f"/internal/tenants/{t}/contacts/{contact_id}/customers")
        scope = await history_search.customers_conversations(gw.db, staff, linked["customer_ids"])
    else:
        scope = await history_search.callers_conversations(gw.db, staff)
    if scope == []:
        return SearchResults(hits=[])
    asked = limit if scope is not None else min(500, limit * 5)  # the tenant's: some hits will not be readable
    found = await chat_read(gw, f"/internal/tenants/{t}/search",
                            body={"q": q, "conversation_ids": scope, "limit": asked})
    hits = found["hits"]
    complete = found["complete"]
    if scope is None:
        complete = complete and len(hits) < asked
        hits = await history_search.readable_hits(gw.db, staff, hits)
    return SearchResults(hits=hits[:limit], complete=complete and len(hits) <= limit)
