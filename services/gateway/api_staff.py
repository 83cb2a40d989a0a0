"""Staff (agents, supervisors, admins): presence and conversation work (G1); the work lists are in
api_work.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from shared.contracts import chat, routing
from shared.contracts.catalogue import CHAT_COMMANDS, ROUTING_COMMANDS, Topic
from shared.contracts.chat.attachments import MAX_ATTACHMENTS_PER_MESSAGE
from shared.contracts.chat.reads import ConversationView, MessagePage
from shared.contracts.envelope import Command, Identifier
from shared.contracts.chat.common import MAX_SEQ

from services.gateway.api_agent_sessions import hold_slot, release_slot
from services.gateway.auth.permissions import NOT_SIGNED_IN, READ_ONLY, Action, allowed, refusal
from services.gateway.commands import Answer, answer_response, first_answer, request_id_for, result_id
from services.gateway.identity import (Staff, authorise, bearer, conversation_access, customer_from_token,
                                      raise_refusal, require_staff, staff_from_token)
from services.gateway.reads import chat_read, push_typing

router = APIRouter()
IdempotencyKey = Header(None, alias="Idempotency-Key", description="Same key, same user: the first answer again.")
ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Answer, "description": "Accepted by the owning service."},
    403: {"description": "Not allowed."}, 404: {"description": "Not found."},
    409: {"model": Answer, "description": "Rejected: the state does not allow it (code and reason)."},
    422: {"model": Answer, "description": "Rejected: invalid (code and reason), or a bad body."},
    500: {"model": Answer, "description": "Failed (code failed): the owning service could not carry it out and "
                                          "set it aside for its operators; a replay of it answers again at "
                                          "/v1/requests/{request_id}."},
    504: {"model": Answer, "description": "No answer in time: fetch answer_url later."},
}
# For a command route whose 200 is a model of its own (what it started): ANSWERS but the 200.
REFUSALS: dict[int | str, dict[str, Any]] = {code: doc for code, doc in ANSWERS.items() if code != 200}


# --- presence ----------------------------------------------------------------------------

class Presence(BaseModel):
    presence: Literal["available", "busy", "away", "offline"]


@router.put("/v1/agent/presence", tags=["agent"], responses=ANSWERS)
async def set_presence(body: Presence, request: Request, staff: Staff = Depends(require_staff),
                       key: str | None = IdempotencyKey) -> JSONResponse:
    return await send(request, staff, ROUTING_COMMANDS, routing.SetPresence(
        agent_id=staff.user_id, presence=body.presence, request_id=request_id_for(staff.tenant_id, staff.user_id, key)))


# --- conversation work ---------------------------------------------------------------------------------

async def repeated(request: Request, staff: Staff, key: str | None) -> JSONResponse | None:
    """The first answer to this staff member's keyed request, if it has one (commands.first_answer)."""
    return await first_answer(request.app.state.gateway.bus, staff.tenant_id, staff.user_id, key)


async def send(request: Request, staff: Staff, topic: Topic, command: Command) -> JSONResponse:
    gw = request.app.state.gateway
    return await gw.bus.send(topic, command, tenant_id=staff.tenant_id, actor=staff.actor)


async def act(request: Request, staff: Staff, conversation_id: str, action: Action, topic: Topic,
              command: type[Command], key: str | None, **fields: Any) -> JSONResponse:
    if (first := await repeated(request, staff, key)) is not None:
        return first
    await authorise(request.app.state.gateway.db, staff, conversation_id, action)
    rid = request_id_for(staff.tenant_id, staff.user_id, key)
    return await send(request, staff, topic, command(conversation_id=conversation_id, request_id=rid, **fields))


class ProactiveCustomer(BaseModel):
    customer_id: Identifier = Field(description="The customer's id (e.g. their user id on your site).")
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(None, max_length=320)


class Proactive(BaseModel):
    queue_id: Identifier = Field(description="The queue the conversation belongs to (reports, transfers).")
    customer: ProactiveCustomer
    message: str = Field(min_length=1, max_length=1000, description="The first message, from the agent.")


class ProactiveStarted(BaseModel):
    status: str
    conversation_id: str
    customer_token: str = Field(description="Hand it to the customer's widget (e.g. from your site's server): "
                                            "it opens this conversation, its messages and its stream.")


class OfferAnswer(BaseModel):
    offer_id: Identifier
    reason: str = Field("", max_length=500)


class Transfer(BaseModel):
    to_queue_id: Identifier | None = None
    to_agent_id: Identifier | None = None
    reason: str = Field("", max_length=500)


class Invite(BaseModel):
    agent_id: Identifier


class NewMessage(BaseModel):
    client_message_id: Identifier = Field(description="Your id for this message: a retry with it stores nothing "
                                                      "twice and answers with the original message's id.")
    text: str = Field("", max_length=4000, description="Agents: at most 1000 characters, no < or >. May be empty "
                                                       "when the message carries attachments.")
    private: bool = Field(False, description="A private note, never shown to the customer.")
    attachment_ids: list[Identifier] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS_PER_MESSAGE,
        description="Files you uploaded to this conversation (POST .../attachments), sent with this message.")

    @model_validator(mode="after")
    def _text_or_attachments(self) -> NewMessage:
        if not self.text and not self.attachment_ids:
            raise ValueError("a message needs a text or at least one attachment")
        return self


class WrapUpBody(BaseModel):
    reason_code: Identifier | None = None
    note: str = Field("", max_length=2000)


class ReadUpTo(BaseModel):
    up_to_seq: int = Field(ge=0, le=MAX_SEQ)


C = "/v1/conversations/{conversation_id}"


@router.post("/v1/conversations/proactive", tags=["agent"], response_model=ProactiveStarted, responses=REFUSALS)
async def start_proactive(body: Proactive, request: Request, staff: Staff = Depends(require_staff),
                          key: str | None = IdempotencyKey) -> Any:
    """Proactive chat (C8): the agent starts a conversation with a customer and holds it at once."""
    gw = request.app.state.gateway
    refused = refusal(staff.role, Action.START_PROACTIVE)
    if refused is not None:
        raise_refusal(refused)
    conversation_id = uuid4().hex
    answer = await send(request, staff, CHAT_COMMANDS, chat.StartConversation(
        conversation_id=conversation_id, queue_id=body.queue_id, proactive=True, first_message=body.message,
        customer=chat.Customer(customer_id=body.customer.customer_id, name=body.customer.name,
                               email=body.customer.email, authenticated=True),
        request_id=request_id_for(staff.tenant_id, staff.user_id, key)))
    if answer.status_code != 200:
        return answer
    conversation_id = result_id(answer) or conversation_id
    return ProactiveStarted(status="accepted", conversation_id=conversation_id, customer_token=gw.tokens.issue_customer(
        customer_id=body.customer.customer_id, tenant_id=staff.tenant_id, conversation_id=conversation_id))


@router.post(C + "/accept", tags=["agent"], responses=ANSWERS)
async def accept(conversation_id: Identifier, body: OfferAnswer, request: Request,
                 staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    """Refused (409 session_limit) while the agent has 10 sessions open: the offer stays (G3)."""
    if (first := await repeated(request, staff, key)) is not None:
        return first
    return await holding_a_slot(request, staff, conversation_id, Action.ACCEPT_OFFER, lambda: act(
        request, staff, conversation_id, Action.ACCEPT_OFFER, ROUTING_COMMANDS, routing.AcceptOffer, key,
        agent_id=staff.user_id, offer_id=body.offer_id))


@router.post(C + "/decline", tags=["agent"], responses=ANSWERS)
async def decline(conversation_id: Identifier, body: OfferAnswer, request: Request,
                  staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.DECLINE_OFFER, ROUTING_COMMANDS, routing.DeclineOffer,
                     key, agent_id=staff.user_id, offer_id=body.offer_id, reason=body.reason or "declined")


@router.post(C + "/take", tags=["agent"], responses=ANSWERS)
async def take(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
               key: str | None = IdempotencyKey) -> JSONResponse:
    if (first := await repeated(request, staff, key)) is not None:
        return first
    return await holding_a_slot(request, staff, conversation_id, Action.TAKE, lambda: act(
        request, staff, conversation_id, Action.TAKE, ROUTING_COMMANDS, routing.TakeConversation, key,
        agent_id=staff.user_id))


async def holding_a_slot(request: Request, staff: Staff, conversation_id: str, action: Action,
                         command: Callable[[], Awaitable[JSONResponse]]) -> JSONResponse:
    """An accept or take with a slot of the agent's panel held for the conversation's session: 409
    session_limit when the panel is full (G3: the offer stays, nothing goes to routing); the slot given back
    when the command is refused or fails (not when it is accepted or its answer is late: the session's opening
    takes the slot, or it runs out)."""
    db, token = request.app.state.gateway.db, uuid4().hex
    await authorise(db, staff, conversation_id, action)
    if (full := await hold_slot(db, staff, conversation_id, token)) is not None:
        return full
    try:
        answer = await command()
    except Exception:  # refused on the way (not a cancelled request: its command may be sent; the hold runs out)
        await release_slot(db, staff, conversation_id, token)
        raise
    if answer.status_code not in (200, 504):  # 504: sent, its answer late
        await release_slot(db, staff, conversation_id, token)
    return answer


@router.post(C + "/transfer", tags=["agent"], responses=ANSWERS)
async def transfer(conversation_id: Identifier, body: Transfer, request: Request,
                   staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.TRANSFER, ROUTING_COMMANDS,
                     routing.TransferConversation, key, agent_id=staff.user_id, to_queue_id=body.to_queue_id,
                     to_agent_id=body.to_agent_id, reason=body.reason or "transferred")


@router.post(C + "/conference/invite", tags=["agent"], responses=ANSWERS)
async def invite(conversation_id: Identifier, body: Invite, request: Request,
                 staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.INVITE_CONFERENCE, ROUTING_COMMANDS,
                     routing.InviteToConference, key, agent_id=staff.user_id, invitee_id=body.agent_id)


@router.post(C + "/conference/accept", tags=["agent"], responses=ANSWERS)
async def accept_invite(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                        key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.ACCEPT_OFFER, ROUTING_COMMANDS,
                     routing.AcceptConferenceInvite, key, agent_id=staff.user_id)


@router.post(C + "/conference/decline", tags=["agent"], responses=ANSWERS)
async def decline_invite(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                         key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.DECLINE_OFFER, ROUTING_COMMANDS,
                     routing.DeclineConferenceInvite, key, agent_id=staff.user_id)


@router.post(C + "/conference/leave", tags=["agent"], responses=ANSWERS)
async def leave_conference(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                           key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.LEAVE_CONFERENCE, ROUTING_COMMANDS,
                     routing.LeaveConference, key, agent_id=staff.user_id)


@router.post(C + "/messages", tags=["agent"], responses=ANSWERS)
async def post_message(conversation_id: Identifier, body: NewMessage, request: Request,
                       staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    if (first := await repeated(request, staff, key)) is not None:
        return first
    action = Action.SEND_PRIVATE_NOTE if body.private else Action.SEND_MESSAGE
    access = await conversation_access(request.app.state.gateway.db, staff, conversation_id)
    if not allowed(staff.role, action, access.relations) and allowed(staff.role, Action.OBSERVE, access.relations):
        raise_refusal(READ_ONLY)  # a supervisor or a favourite's follower observing: says why (G5)
    return await act(request, staff, conversation_id, action, CHAT_COMMANDS, chat.SendMessage, key,
                     client_message_id=body.client_message_id, text=body.text, private=body.private,
                     attachment_ids=body.attachment_ids)


@router.post(C + "/read", tags=["agent"], responses=ANSWERS)
async def mark_read(conversation_id: Identifier, body: ReadUpTo, request: Request,
                    staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.MARK_READ, CHAT_COMMANDS, chat.MarkRead, key,
                     up_to_seq=body.up_to_seq)


@router.post(C + "/end", tags=["agent"], responses=ANSWERS)
async def end(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
              key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.END, CHAT_COMMANDS, chat.EndConversation, key)


@router.post(C + "/wrap-up", tags=["agent"], responses=ANSWERS)
async def wrap_up(conversation_id: Identifier, body: WrapUpBody, request: Request,
                  staff: Staff = Depends(require_staff), key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.WRAP_UP, CHAT_COMMANDS, chat.WrapUp, key,
                     reason_code=body.reason_code, note=body.note)


@router.post(C + "/close-to-waiting", tags=["agent"], responses=ANSWERS)
async def close_to_waiting(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                           key: str | None = IdempotencyKey) -> JSONResponse:
    return await act(request, staff, conversation_id, Action.CLOSE_TO_WAITING, CHAT_COMMANDS, chat.CloseToWaiting,
                     key)


@router.post(C + "/typing", status_code=204, tags=["agent"])
async def typing(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff)) -> None:
    """Tells the customer and the other agents that this agent is typing (not stored by chat)."""
    gw = request.app.state.gateway
    access = await authorise(gw.db, staff, conversation_id, Action.TYPING)
    await push_typing(gw, staff.tenant_id, conversation_id, access.view, who={"kind": "agent", "id": staff.user_id})


@router.get(C, tags=["agent"], response_model=ConversationView)
async def read_conversation(conversation_id: Identifier, request: Request,
                            staff: Staff = Depends(require_staff)) -> Any:
    """The conversation as chat keeps it (state, customer, context C7, agents, unread counts)."""
    gw = request.app.state.gateway
    await authorise(gw.db, staff, conversation_id, Action.READ_CONVERSATION)
    return await chat_read(gw, f"/internal/tenants/{staff.tenant_id}/conversations/{conversation_id}")


@router.get(C + "/messages", tags=["agent"], response_model=MessagePage)
async def read_messages(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                        after_seq: int = Query(0, ge=0, le=MAX_SEQ), limit: int = Query(100, ge=1, le=500)) -> Any:
    gw = request.app.state.gateway
    access = await authorise(gw.db, staff, conversation_id, Action.READ_MESSAGES)
    notes = allowed(staff.role, Action.READ_PRIVATE_NOTES, access.relations)
    return await chat_read(gw, f"/internal/tenants/{staff.tenant_id}/conversations/{conversation_id}/messages",
                           after_seq=after_seq, limit=limit, include_private=str(notes).lower())


@router.get("/v1/requests/{request_id}", tags=["commands"],
            responses={**ANSWERS, 202: {"model": Answer, "description": "No answer yet (pending): ask again later."}})
async def request_answer(request_id: Identifier, request: Request) -> JSONResponse:
    """The answer to a command that timed out with 504 earlier (pending: not yet), for staff and customers
    alike (the tenant comes from the caller's token; request ids are random)."""
    gw = request.app.state.gateway
    token = bearer(request)
    staff = await staff_from_token(gw.db, gw.tokens, token)
    customer = customer_from_token(gw.tokens, token) if staff is None else None
    caller = staff or customer
    if caller is None:
        raise_refusal(NOT_SIGNED_IN)
    stored = await gw.bus.stored_answer(caller.tenant_id, request_id)
    if stored is None:
        return JSONResponse(Answer(status="pending", request_id=request_id,
                                   answer_url=f"/v1/requests/{request_id}").model_dump(), status_code=202)
    return answer_response(request_id, stored)
