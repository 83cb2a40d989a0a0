"""The agent's sessions panel (G3), kept by the gateway so that a reload or a second device shows the same:
list, open by hand (a contact, an account or a case), focus (restores the draft, sends the read receipts),
save a draft, close (with a confirmation when something would be lost, and the wrap-up of a conversation).
Conversation sessions open when the agent accepts an offer (desk.py); every change also comes as a `sessions`
frame on the agent's stream. The rules are agent_sessions.py."""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.envelope import Identifier

from services.gateway import agent_sessions as rules
from services.gateway.adapters.agent_sessions import Panels, in_transaction, now
from services.gateway.auth.permissions import Action, Relation, refusal
from services.gateway.commands import request_id_for
from services.gateway.identity import Staff, conversation_access, raise_refusal, require_staff
from services.gateway.reads import service_read

router = APIRouter(tags=["sessions panel"])
S = "/v1/agent/sessions"


class Panel(BaseModel):
    focused: str = Field(description="The focused session's id.")
    version: int = Field(description="Increases with every change (frames carry it too).")
    sessions: list[dict[str, Any]] = Field(description="Home first, then in the order opened: id, kind, ref, "
                                                       "title, icon, unread, unread_display ('9+' past 9), "
                                                       "alert, has_draft, state, opened_at.")


class OpenSession(BaseModel):
    kind: Literal["contact", "account", "case"]
    id: Identifier = Field(description="The contact's, account's or case's id.")


class Draft(BaseModel):
    draft: Any = Field(description="Composer text and unsaved edits, any JSON (null: none); at most "
                                   f"{rules.MAX_DRAFT_BYTES} bytes as JSON.")


class WrapUp(BaseModel):
    reason_code: Identifier | None = None
    note: str = Field("", max_length=2000)


class CloseSession(BaseModel):
    confirm: bool = Field(False, description="Close even though something would be lost (the 409 lists it).")
    wrap_up: WrapUp | None = Field(None, description="For a conversation that is not closed yet: its wrap-up "
                                                     "(a reason where the queue requires one).")


def _check(staff: Staff) -> None:
    refused = refusal(staff.role, Action.KEEP_SESSIONS)
    if refused is not None:
        raise_refusal(refused)


def _refused(status: int, code: str, reason: str, **extra: Any) -> HTTPException:
    return HTTPException(status, detail={"error": code, "detail": reason, **extra})


def _session_with_draft(session: dict[str, Any], draft: Any) -> dict[str, Any]:
    return {**rules.public_session(session), "draft": draft}


@router.get(S, response_model=Panel)
async def list_sessions(request: Request, staff: Staff = Depends(require_staff)) -> Any:
    _check(staff)
    db = request.app.state.gateway.db

    async def read(panels: Panels) -> Any:
        return rules.public(await panels.get(staff.user_id))
    return await in_transaction(db, staff.tenant_id, read)


@router.post(S, responses={409: {"description": "10 sessions are open or being opened already (code session_limit)."},
                           404: {"description": "No such contact, account or case."}})
async def open_session(body: OpenSession, request: Request, staff: Staff = Depends(require_staff)) -> Any:
    """Opens (and focuses) the session of a contact, an account or a case, titled with its name; opening one
    that is open focuses it."""
    _check(staff)
    gw = request.app.state.gateway
    refused = refusal(staff.role, Action.READ_CASES if body.kind == "case" else Action.READ_CUSTOMERS)
    if refused is not None:
        raise_refusal(refused)
    client = gw.cases if body.kind == "case" else gw.customer
    record = await service_read(client, "cases" if body.kind == "case" else "customer",
                                f"/internal/tenants/{staff.tenant_id}/{body.kind}s/{body.id}")
    title = record.get("title") or record.get("full_name") or record.get("name") or record.get("number") or body.id

    async def work(panels: Panels) -> Any:
        panel = await panels.get(staff.user_id)
        try:
            session = rules.open_session(panel, body.kind, body.id, title, now(), focus=True)
        except rules.SessionLimit as exc:
            raise _refused(409, exc.code, str(exc)) from None
        await panels.save(panel, now())
        return _session_with_draft(session, await panels.draft(staff.user_id, session["id"]))
    return await in_transaction(gw.db, staff.tenant_id, work)


@router.get(S + "/{session_id}", responses={404: {"description": "No such session open."}})
async def read_session(session_id: str, request: Request, staff: Staff = Depends(require_staff)) -> Any:
    """One session with its draft."""
    _check(staff)

    async def work(panels: Panels) -> Any:
        session = rules.find(await panels.get(staff.user_id), session_id)
        if session is None:
            raise _refused(404, "not_found", "No such session is open.")
        return _session_with_draft(session, await panels.draft(staff.user_id, session_id))
    return await in_transaction(request.app.state.gateway.db, staff.tenant_id, work)


@router.post(S + "/{session_id}/focus", responses={404: {"description": "No such session open."}})
async def focus_session(session_id: str, request: Request, staff: Staff = Depends(require_staff)) -> Any:
    """Focus a session: answers with it and its draft (to restore); for a conversation with unread messages,
    marks them read (chat's read receipts; the unread count follows as a `sessions` frame)."""
    _check(staff)
    gw = request.app.state.gateway

    async def work(panels: Panels) -> Any:
        panel = await panels.get(staff.user_id)
        session = rules.focus(panel, session_id)
        if session is None:
            raise _refused(404, "not_found", "No such session is open.")
        await panels.save(panel, now())
        return _session_with_draft(session, await panels.draft(staff.user_id, session_id))
    session = await in_transaction(gw.db, staff.tenant_id, work)
    if session["kind"] == "conversation" and session["unread"] > 0:
        access = await conversation_access(gw.db, staff, session["ref"])
        if refusal(staff.role, Action.MARK_READ, access.relations, found=access.view is not None) is None:
            last_seq = (await _panel_session(gw.db, staff, session_id) or {}).get("last_seq", 0)
            await gw.bus.fire(CHAT_COMMANDS, chat.MarkRead(
                conversation_id=session["ref"], up_to_seq=last_seq,
                request_id=request_id_for(staff.tenant_id, staff.user_id, None)),
                tenant_id=staff.tenant_id, actor=staff.actor)
    return session


@router.put(S + "/{session_id}/draft", responses={404: {"description": "No such session open."},
                                                 413: {"description": "The draft is too large."}})
async def save_draft(session_id: str, body: Draft, request: Request, staff: Staff = Depends(require_staff)) -> Any:
    """Keep the session's draft (null: none), restored by focus and by reading the session on any device."""
    _check(staff)
    size = len(json.dumps(body.draft, separators=(",", ":")).encode())
    if size > rules.MAX_DRAFT_BYTES:
        raise _refused(413, "too_large", f"the draft is {size} bytes as JSON; at most {rules.MAX_DRAFT_BYTES}")
    empty = body.draft in (None, "", {}, [])

    async def work(panels: Panels) -> Any:
        panel = await panels.get(staff.user_id)
        session = rules.find(panel, session_id)
        if session is None:
            raise _refused(404, "not_found", "No such session is open.")
        await panels.keep_draft(staff.user_id, session_id, None if empty else body.draft, now())
        if session["has_draft"] == (not empty):
            return {"saved": True, "bytes": size}
        session["has_draft"] = not empty
        await panels.save(panel, now())
        return {"saved": True, "bytes": size}
    return await in_transaction(request.app.state.gateway.db, staff.tenant_id, work)


@router.post(S + "/{session_id}/close",
             responses={409: {"description": "Something would be lost (`losses`): send `confirm: true`; or the Home "
                                             "session; or the wrap-up was refused (chat's answer)."},
                        404: {"description": "No such session open."}})
async def close_session(session_id: str, body: CloseSession, request: Request,
                        staff: Staff = Depends(require_staff)) -> Any:
    """Close a session. Without `confirm`, a close that would lose something is refused with 409 listing it
    (an unsent draft; a conversation not closed yet). Closing a conversation that is not closed wraps it up
    (chat.WrapUp with `wrap_up`, which chat refuses without a reason where the queue requires one: then the
    session stays open)."""
    _check(staff)
    gw = request.app.state.gateway
    if session_id == rules.HOME:
        raise _refused(409, rules.HomeSession.code, str(rules.HomeSession()))
    session = await _panel_session(gw.db, staff, session_id)
    if session is None:
        raise _refused(404, "not_found", "No such session is open.")
    state, assigned = None, False
    if session["kind"] == "conversation":
        access = await conversation_access(gw.db, staff, session["ref"])
        state = (access.view or {}).get("state")
        assigned = Relation.ASSIGNED in access.relations  # a conference member's session just closes
    losses = rules.losses(session, conversation_state=state, assigned=assigned)
    if losses and not body.confirm:
        raise _refused(409, "confirm", "Closing this session loses what is listed: send confirm: true to close it.",
                       losses=[{"what": loss.what, "detail": loss.detail} for loss in losses])
    if any(loss.what == "conversation" for loss in losses):
        wrap = body.wrap_up or WrapUp()
        answer = await gw.bus.send(CHAT_COMMANDS, chat.WrapUp(
            conversation_id=session["ref"], reason_code=wrap.reason_code, note=wrap.note,
            request_id=request_id_for(staff.tenant_id, staff.user_id, None)),
            tenant_id=staff.tenant_id, actor=staff.actor)
        if answer.status_code != 200:
            return answer  # e.g. 422 reason_required: the session stays open

    async def work(panels: Panels) -> Any:
        panel = await panels.get(staff.user_id)
        if rules.find(panel, session_id) is not None:
            rules.close_session(panel, session_id)
            await panels.keep_draft(staff.user_id, session_id, None, now())
            await panels.save(panel, now())
        return rules.public(panel)
    return JSONResponse(await in_transaction(gw.db, staff.tenant_id, work))


async def _panel_session(db: Any, staff: Staff, session_id: str) -> dict[str, Any] | None:
    async def read(panels: Panels) -> Any:
        return rules.find(await panels.get(staff.user_id), session_id)
    return await in_transaction(db, staff.tenant_id, read)


async def hold_slot(db: Any, staff: Staff, conversation_id: str, token: str) -> JSONResponse | None:
    """For accepting an offer or taking a conversation: a slot of the agent's panel held for the conversation
    under the request's `token` (agent_sessions.hold), or a 409 when the panel is full (and the conversation has
    no session yet); the offer stays, nothing is sent to routing. Give the hold back with release_slot if the
    command is refused."""
    async def work(panels: Panels) -> bool:
        panel = await panels.get(staff.user_id)
        try:
            if rules.hold(panel, conversation_id, now(), token):
                await panels.keep_holds(panel)
        except rules.SessionLimit:
            return False
        return True
    if await in_transaction(db, staff.tenant_id, work):
        return None
    return JSONResponse({"status": "rejected", "request_id": None, "code": rules.SessionLimit.code,
                         "reason": str(rules.SessionLimit()) + " (the offer stays)"}, status_code=409)


async def release_slot(db: Any, staff: Staff, conversation_id: str, token: str) -> None:
    async def work(panels: Panels) -> None:
        panel = await panels.get(staff.user_id)
        if rules.release(panel, conversation_id, token):
            await panels.keep_holds(panel)
    await in_transaction(db, staff.tenant_id, work)
