"""After the chat: the post-chat survey (CSAT: the admin switches it, the customer rates an ended
conversation), transcripts (the customer's own, without private notes; staff's, with notes where they may read
them) and quick replies (the tenant's and each staff member's own, filled for a conversation)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.chat.common import (MAX_AGENT_TEXT, MAX_SURVEY_COMMENT, SURVEY_QUESTION, QuickReplyName,
                                          SurveyResult)
from shared.contracts.chat.reads import ConversationView, MessageView, QuickReplyList, SurveySettingsView
from shared.contracts.envelope import Command, Identifier

from services.gateway import transcript
from services.gateway.adapters.store import USERS
from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, IdempotencyKey
from services.gateway.auth.permissions import Action, allowed
from services.gateway.commands import request_id_for
from services.gateway.identity import (Customer, Staff, authorise, authorise_customer, require_customer,
                                      require_staff)
from services.gateway.reads import chat_read

router = APIRouter()
staff_may = admin  # a tenant-scope check: any role the permission table grants the action to
MAX_PAGES = 200  # a transcript reads at most this many pages of 500 messages
Prefix = Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9_-]*$", description="Names starting with this.")]
Format = Annotated[Literal["text", "json"], Query(description="text: plain UTF-8 text; json: the entries.")]


def _chat(tenant_id: str) -> str:
    return f"/internal/tenants/{tenant_id}"


async def _send(request: Request, caller: Staff | Customer, command: Command) -> JSONResponse:
    return await request.app.state.gateway.bus.send(CHAT_COMMANDS, command, tenant_id=caller.tenant_id,
                                                    actor=caller.actor)


# --- the survey -----------------------------------------------------------------------------------------------

class SurveySetup(BaseModel):
    enabled: bool = Field(description="Ask customers to rate conversations once they ended.")
    question: str = Field(SURVEY_QUESTION, min_length=1, max_length=200, description="What the widget asks.")


@router.put("/v1/admin/survey", tags=["admin"], responses=ANSWERS)
async def configure_survey(body: SurveySetup, request: Request,
                           staff: Staff = Depends(admin(Action.MANAGE_SURVEY))) -> JSONResponse:
    """Switch the post-chat survey (CSAT 1-5 and a comment) on or off; chat's answer."""
    return await _send(request, staff, chat.ConfigureSurvey(enabled=body.enabled, question=body.question))


@router.get("/v1/admin/survey", tags=["admin"], response_model=SurveySettingsView)
async def read_survey(request: Request, staff: Staff = Depends(admin(Action.MANAGE_SURVEY))) -> Any:
    return await chat_read(request.app.state.gateway, f"{_chat(staff.tenant_id)}/survey-settings")


class SurveyState(BaseModel):
    enabled: bool = Field(description="The tenant's survey is on.")
    question: str
    pending: bool = Field(description="The conversation ended and waits for the customer's rating.")
    survey: SurveyResult | None = Field(description="The customer's rating, once given.")


class Rating(BaseModel):
    rating: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy).")
    comment: str = Field("", max_length=MAX_SURVEY_COMMENT)


W = "/v1/widget/conversations/{conversation_id}"


@router.get(W + "/survey", tags=["widget"], response_model=SurveyState)
async def customer_survey(conversation_id: Identifier, request: Request,
                          customer: Customer = Depends(require_customer)) -> SurveyState:
    """Whether to show the survey: on, the conversation ended, not rated yet."""
    authorise_customer(customer, conversation_id)
    gw = request.app.state.gateway
    view = ConversationView.model_validate(await chat_read(
        gw, f"{_chat(customer.tenant_id)}/conversations/{conversation_id}"))
    settings = SurveySettingsView.model_validate(await chat_read(gw, f"{_chat(customer.tenant_id)}/survey-settings"))
    return SurveyState(enabled=settings.enabled, question=settings.question,
                       pending=settings.enabled and view.survey_pending, survey=view.survey)


@router.post(W + "/survey", tags=["widget"], responses=ANSWERS)
async def submit_survey(conversation_id: Identifier, body: Rating, request: Request,
                        customer: Customer = Depends(require_customer),
                        key: str | None = IdempotencyKey) -> JSONResponse:
    """Rate the ended conversation, once (409 conflict the second time; 403 not_allowed while the survey is
    off; 409 invalid_state before it ended)."""
    authorise_customer(customer, conversation_id)
    return await _send(request, customer, chat.SubmitSurvey(
        conversation_id=conversation_id, rating=body.rating, comment=body.comment,
        request_id=request_id_for(customer.tenant_id, customer.customer_id, key)))


# --- transcripts ----------------------------------------------------------------------------------------------

async def _transcript(request: Request, tenant_id: str, conversation_id: str, *, notes: bool,
                      format: str) -> Response:
    gw = request.app.state.gateway
    base = f"{_chat(tenant_id)}/conversations/{conversation_id}"
    view = ConversationView.model_validate(await chat_read(gw, base))
    messages: list[MessageView] = []
    for _ in range(MAX_PAGES):
        page, last_seq = transcript.parse_page(await chat_read(
            gw, base + "/messages", after_seq=messages[-1].seq if messages else 0, limit=500,
            include_private=str(notes).lower()))
        messages += page
        if not page or page[-1].seq >= last_seq:
            break
    ids = transcript.staff_ids(messages)
    users = gw.db[USERS].find({"_id": {"$in": [f"{tenant_id}:{a}" for a in ids]}})
    names = {u["username"]: u.get("display_name", "") async for u in users}
    built = transcript.build(view, messages, names)
    if format == "json":
        return Response(built.model_dump_json(), media_type="application/json", headers={
            "Content-Disposition": f'attachment; filename="transcript-{conversation_id}.json"'})
    return Response(transcript.render_text(built), media_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="transcript-{conversation_id}.txt"'})


TRANSCRIPT: dict[int | str, dict[str, Any]] = {200: {
    "model": transcript.Transcript, "content": {"text/plain": {"schema": {"type": "string"}}},
    "description": "The transcript, as a download (text/plain UTF-8, or JSON with ?format=json)."}}


@router.get(W + "/transcript", tags=["widget"], response_class=Response, responses=TRANSCRIPT)
async def customer_transcript(conversation_id: Identifier, request: Request, format: Format = "text",
                              customer: Customer = Depends(require_customer)) -> Response:
    """The customer's own conversation: every message and system message, never a private note."""
    authorise_customer(customer, conversation_id)
    return await _transcript(request, customer.tenant_id, conversation_id, notes=False, format=format)


@router.get("/v1/conversations/{conversation_id}/transcript", tags=["agent"], response_class=Response,
            responses=TRANSCRIPT)
async def staff_transcript(conversation_id: Identifier, request: Request, format: Format = "text",
                           staff: Staff = Depends(require_staff)) -> Response:
    """For whoever may read the messages; private notes only for those who may read notes."""
    access = await authorise(request.app.state.gateway.db, staff, conversation_id, Action.READ_MESSAGES)
    notes = allowed(staff.role, Action.READ_PRIVATE_NOTES, access.relations)
    return await _transcript(request, staff.tenant_id, conversation_id, notes=notes, format=format)


# --- quick replies --------------------------------------------------------------------------------------------

class ReplyText(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_AGENT_TEXT,
                      description="May use {customer_name}, {agent_name} and {queue}; no < or >.")


async def _put(request: Request, staff: Staff, name: str, scope: str, text: str, key: str | None) -> JSONResponse:
    return await _send(request, staff, chat.PutQuickReply(name=name, scope=scope, text=text,  # type: ignore[arg-type]
                                                          request_id=request_id_for(staff.tenant_id, staff.user_id, key)))


async def _remove(request: Request, staff: Staff, name: str, scope: str, key: str | None) -> JSONResponse:
    return await _send(request, staff, chat.RemoveQuickReply(name=name, scope=scope,  # type: ignore[arg-type]
                                                             request_id=request_id_for(staff.tenant_id,
                                                                                       staff.user_id, key)))


@router.get("/v1/admin/quick-replies", tags=["admin"], response_model=QuickReplyList)
async def tenant_quick_replies(request: Request, staff: Staff = Depends(admin(Action.MANAGE_QUICK_REPLIES))) -> Any:
    return await chat_read(request.app.state.gateway, f"{_chat(staff.tenant_id)}/quick-replies")


@router.put("/v1/admin/quick-replies/{name}", tags=["admin"], responses=ANSWERS)
async def put_tenant_quick_reply(name: QuickReplyName, body: ReplyText, request: Request,
                                 staff: Staff = Depends(admin(Action.MANAGE_QUICK_REPLIES)),
                                 key: str | None = IdempotencyKey) -> JSONResponse:
    """Everyone's quick reply '/name' (an agent's own of the same name wins for that agent)."""
    return await _put(request, staff, name, "tenant", body.text, key)


@router.delete("/v1/admin/quick-replies/{name}", tags=["admin"], responses=ANSWERS)
async def remove_tenant_quick_reply(name: QuickReplyName, request: Request,
                                    staff: Staff = Depends(admin(Action.MANAGE_QUICK_REPLIES)),
                                    key: str | None = IdempotencyKey) -> JSONResponse:
    return await _remove(request, staff, name, "tenant", key)


@router.get("/v1/agent/quick-replies", tags=["agent"], response_model=QuickReplyList)
async def my_quick_replies(request: Request, prefix: Prefix = "",
                           staff: Staff = Depends(staff_may(Action.KEEP_QUICK_REPLIES))) -> Any:
    """The replies I may use: the tenant's and my own (mine win), as stored."""
    return await chat_read(request.app.state.gateway, f"{_chat(staff.tenant_id)}/quick-replies",
                           agent_id=staff.user_id, prefix=prefix)


@router.put("/v1/agent/quick-replies/{name}", tags=["agent"], responses=ANSWERS)
async def put_my_quick_reply(name: QuickReplyName, body: ReplyText, request: Request,
                             staff: Staff = Depends(staff_may(Action.KEEP_QUICK_REPLIES)),
                             key: str | None = IdempotencyKey) -> JSONResponse:
    return await _put(request, staff, name, "agent", body.text, key)


@router.delete("/v1/agent/quick-replies/{name}", tags=["agent"], responses=ANSWERS)
async def remove_my_quick_reply(name: QuickReplyName, request: Request,
                                staff: Staff = Depends(staff_may(Action.KEEP_QUICK_REPLIES)),
                                key: str | None = IdempotencyKey) -> JSONResponse:
    return await _remove(request, staff, name, "agent", key)


@router.get("/v1/agent/conversations/{conversation_id}/quick-replies", tags=["agent"],
            response_model=QuickReplyList)
async def conversation_quick_replies(conversation_id: Identifier, request: Request, prefix: Prefix = "",
                                     staff: Staff = Depends(require_staff)) -> Any:
    """The replies I may send in this conversation whose names start with `prefix`, filled as sending
    '/name' posts them (so the desktop can show them on '/gr')."""
    gw = request.app.state.gateway
    await authorise(gw.db, staff, conversation_id, Action.SEND_MESSAGE)
    return await chat_read(gw, f"{_chat(staff.tenant_id)}/conversations/{conversation_id}/quick-replies",
                           agent_id=staff.user_id, agent_name=staff.display_name or staff.user_id, prefix=prefix)
