"""The customer widget's API (G2): start a chat (anonymous "Visitor N" with a signed visitor id, or an
authenticated user proven by the tenant site's expiring HMAC), send and read messages, typing, end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.chat.reads import MessagePage
from shared.contracts.envelope import Identifier
from shared.logging import get_logger
from shared.contracts.chat.common import MAX_SEQ

from services.gateway.adapters.store import CONVERSATIONS
from services.gateway.api_staff import ANSWERS, REFUSALS, IdempotencyKey, NewMessage, ReadUpTo
from services.gateway.auth.customers import (
    InvalidIdentity,
    InvalidVisitor,
    keyed_visitor_id,
    new_visitor_id,
    sign_visitor,
    valid_identity_secrets,
    verify_identity_any,
    verify_visitor,
)
from services.gateway.auth.permissions import NOT_SIGNED_IN
from services.gateway.commands import new_id_for, request_id_for, result_id
from services.gateway.identity import Customer, authorise_customer, require_customer
from services.gateway.reads import chat_read, push_typing

router = APIRouter(tags=["widget"])
log = get_logger(__name__)
TENANTS, VISITORS = "tenants", "visitors"


class Identity(BaseModel):
    """The tenant's site vouches for a signed-in user: mac = hex HMAC-SHA256(identity secret,
    f"{user_id}:{expires_at}"), expiring (at most 24 h ahead)."""
    user_id: Identifier
    expires_at: int = Field(description="Unix time the proof expires.")
    mac: str = Field(max_length=128)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


class StartChat(BaseModel):
    queue_id: Identifier = Field(description="Entry point: the queue to route to.")
    visitor_token: str | None = Field(None, max_length=300, description="From an earlier visit: keeps 'Visitor N'.")
    identity: Identity | None = Field(None, description="For a customer signed in on the tenant's site.")
    name: str | None = Field(None, max_length=200, description="Name the visitor typed (pre-chat form).")
    email: str | None = Field(None, max_length=320)
    prechat: chat.FormAnswers = Field(default_factory=dict, description="Pre-chat survey: question -> answer.")
    visitor: chat.Visitor = Field(default_factory=chat.Visitor)
    trail: list[chat.TrailStep] = Field(default_factory=list, max_length=100)
    variables: chat.FormAnswers = Field(default_factory=dict)
    message: str | None = Field(None, min_length=1, max_length=4000, description="The first message, if any.")


class Started(BaseModel):
    status: str
    conversation_id: str
    customer_id: str
    customer_name: str
    conversation_token: str = Field(description="Bearer token for this conversation's endpoints and stream.")
    visitor_token: str | None = Field(description="Keep it (local storage) and send it next time.")


async def _tenant(gw: Any, tenant_id: str) -> dict[str, Any]:
    tenant = await gw.db[TENANTS].find_one({"_id": tenant_id})
    if tenant is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    return tenant


async def _visitor(gw: Any, tenant_id: str, token: str | None, idempotency_key: str | None = None
                   ) -> tuple[str, str, str]:
    """(customer id, "Visitor N", visitor token) for an anonymous visitor, the same N on every visit.

    A first visit (no visitor token) that carries an Idempotency-Key gets the visitor id that key makes: a retry
    of a request whose answer was lost (the gateway died, the connection dropped) is then the same visitor, so
    the same request id, and gets the first answer instead of opening a second conversation."""
    visitor_id = None
    for secret in filter(None, (gw.settings.token_secret, gw.settings.token_secret_previous) if token else ()):
        try:  # signed with the token secret, or with the one being rotated out (re-signed below)
            visitor_id = verify_visitor(secret, tenant_id, token)
            break
        except InvalidVisitor:
            visitor_id = None  # a tampered or foreign token: a new visitor, not an error
    if visitor_id is None and idempotency_key is not None:
        visitor_id = keyed_visitor_id(gw.settings.token_secret, tenant_id, idempotency_key)
    visitor_id = visitor_id or new_visitor_id()
    known = await gw.db[VISITORS].find_one({"_id": f"{tenant_id}:{visitor_id}"})
    if known is None:
        counter = await gw.db[TENANTS].find_one_and_update({"_id": tenant_id}, {"$inc": {"visitors": 1}},
                                                           return_document=ReturnDocument.AFTER)
        try:
            await gw.db[VISITORS].insert_one({"_id": f"{tenant_id}:{visitor_id}", "number": counter["visitors"]})
        except DuplicateKeyError:  # the same visitor's retry, at the same moment on another instance
            pass
        known = await gw.db[VISITORS].find_one({"_id": f"{tenant_id}:{visitor_id}"})
    n = known["number"]
    return f"visitor-{n}", f"Visitor {n}", sign_visitor(gw.settings.token_secret, tenant_id, visitor_id)


async def identify(gw: Any, tenant_id: str, body: StartChat | AppealMessage | OfflineMessage,
                   idempotency_key: str | None = None) -> tuple[chat.Customer, str | None]:
    """The customer behind a widget request, and a (new or same) visitor token for an anonymous one."""
    tenant = await _tenant(gw, tenant_id)
    if body.identity is None:
        customer_id, visitor_name, visitor_token = await _visitor(gw, tenant_id, body.visitor_token,
                                                                  idempotency_key)
        return chat.Customer(customer_id=customer_id, name=body.name or visitor_name, email=body.email), visitor_token
    refused = HTTPException(401, detail={"error": "not_signed_in", "detail": "Sign in to continue."},
                            headers=NOT_SIGNED_IN.headers())
    now = datetime.now(UTC)
    secrets = valid_identity_secrets(tenant, now)  # the current one, and rotated-out ones still in their grace
    if not secrets:  # the tenant has not set one up: nobody can be authenticated
        raise refused
    try:
        verify_identity_any(secrets, body.identity.user_id, body.identity.expires_at, body.identity.mac, now)
    except InvalidIdentity as exc:
        log.info("customer identity refused", reason=str(exc))
        raise refused from None
    return chat.Customer(customer_id=body.identity.user_id, authenticated=True,
                         name=body.identity.name or body.name or body.identity.user_id,
                         email=body.identity.email or body.email), None


async def _start(gw: Any, tenant_id: str, customer: chat.Customer, visitor_token: str | None,
                 command: chat.StartConversation | chat.LeaveOfflineMessage) -> Any:
    answer: JSONResponse = await gw.bus.send(CHAT_COMMANDS, command, tenant_id=tenant_id,
                                             actor=Customer(tenant_id, customer.customer_id, command.conversation_id).actor)
    if answer.status_code == 504:
        # Pending, but in the outbox: the conversation will have this id (a keyed retry's too: new_id_for). Its
        # token comes with the 504, so an anonymous visitor can fetch the answer at answer_url (which needs a
        # token) and then use the conversation, or repeat the request with the same Idempotency-Key.
        pending = json.loads(bytes(answer.body))
        pending.update(conversation_id=command.conversation_id, customer_id=customer.customer_id,
                       visitor_token=visitor_token, conversation_token=gw.tokens.issue_customer(
                           customer_id=customer.customer_id, tenant_id=tenant_id,
                           conversation_id=command.conversation_id))
        return JSONResponse(pending, status_code=504)
    if answer.status_code != 200:
        return answer
    conversation_id = result_id(answer) or command.conversation_id  # a retry: the first conversation
    token = gw.tokens.issue_customer(customer_id=customer.customer_id, tenant_id=tenant_id,
                                     conversation_id=conversation_id)
    return Started(status="accepted", conversation_id=conversation_id, customer_id=customer.customer_id,
                   customer_name=customer.name, conversation_token=token, visitor_token=visitor_token)


@router.post("/v1/widget/{tenant_id}/conversations", response_model=Started, responses=REFUSALS)
async def start_chat(tenant_id: Identifier, body: StartChat, request: Request,
                     key: str | None = IdempotencyKey) -> Any:
    gw = request.app.state.gateway
    customer, visitor_token = await identify(gw, tenant_id, body, key)
    rid = request_id_for(tenant_id, customer.customer_id, key)
    command = chat.StartConversation(
        conversation_id=new_id_for(rid), queue_id=body.queue_id, customer=customer,
        context=chat.Context(prechat=body.prechat, visitor=body.visitor,
                             trail=sorted(body.trail, key=lambda s: s.at, reverse=True), variables=body.variables),
        first_message=body.message, request_id=rid)
    return await _start(gw, tenant_id, customer, visitor_token, command)


class OfflineMessage(BaseModel):
    """A message left while the queue is closed or nobody is online (the status route says which)."""
    queue_id: Identifier = Field(description="The queue the customer tried to reach.")
    text: str = Field(min_length=1, max_length=4000)
    visitor_token: str | None = Field(None, max_length=300)
    identity: Identity | None = None
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320, description="Where the answer can go.")
    prechat: chat.FormAnswers = Field(default_factory=dict)
    visitor: chat.Visitor = Field(default_factory=chat.Visitor)
    variables: chat.FormAnswers = Field(default_factory=dict)


@router.post("/v1/widget/{tenant_id}/offline-messages", response_model=Started, responses=REFUSALS)
async def offline_message(tenant_id: Identifier, body: OfflineMessage, request: Request,
                          key: str | None = IdempotencyKey) -> Any:
    """Kept as a conversation closed at once, which the queue's members see in their Closed list; the token
    lets the customer read it again (and the transcript)."""
    gw = request.app.state.gateway
    customer, visitor_token = await identify(gw, tenant_id, body, key)
    rid = request_id_for(tenant_id, customer.customer_id, key)
    command = chat.LeaveOfflineMessage(
        conversation_id=new_id_for(rid), queue_id=body.queue_id, customer=customer, text=body.text,
        context=chat.Context(prechat=body.prechat, visitor=body.visitor, variables=body.variables),
        request_id=rid)
    return await _start(gw, tenant_id, customer, visitor_token, command)


class AppealMessage(BaseModel):
    """A customer writes without naming a conversation (C9, appeals): to the open one, or a new one opens."""
    queue_id: Identifier = Field(description="Where a new appeal is routed.")
    client_message_id: Identifier = Field(description="Your id for this message (a retry opens nothing twice).")
    text: str = Field(min_length=1, max_length=4000)
    visitor_token: str | None = Field(None, max_length=300)
    identity: Identity | None = None
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)


class Appeal(Started):
    opened: bool = Field(description="True: this message opened a new appeal; false: it went to the open one.")


@router.post("/v1/widget/{tenant_id}/messages", response_model=Appeal, responses=REFUSALS)
async def appeal_message(tenant_id: Identifier, body: AppealMessage, request: Request) -> Any:
    """C9: an appeal opens by itself when the customer writes and has none open; otherwise the message goes to
    the customer's open conversation (the most recent one)."""
    gw = request.app.state.gateway
    customer, visitor_token = await identify(gw, tenant_id, body)
    rid = request_id_for(tenant_id, customer.customer_id, f"appeal:{body.client_message_id}")
    open_one = await gw.db[CONVERSATIONS].find_one(
        {"tenant_id": tenant_id, "customer_id": customer.customer_id, "state": {"$ne": "closed"}},
        sort=[("started_at", -1)])
    if open_one is None or await gw.bus.stored_answer(tenant_id, rid) is not None:
        started = await _start(gw, tenant_id, customer, visitor_token, chat.StartConversation(
            conversation_id=new_id_for(rid), queue_id=body.queue_id, customer=customer, first_message=body.text,
            request_id=rid))
        return Appeal(**started.model_dump(), opened=True) if isinstance(started, Started) else started
    cid = open_one["conversation_id"]
    answer = await gw.bus.send(CHAT_COMMANDS, chat.SendMessage(
        conversation_id=cid, client_message_id=body.client_message_id, text=body.text, request_id=rid),
        tenant_id=tenant_id, actor=Customer(tenant_id, customer.customer_id, cid).actor)
    if answer.status_code != 200:
        return answer
    return Appeal(status="accepted", conversation_id=cid, customer_id=customer.customer_id,
                  customer_name=customer.name, visitor_token=visitor_token, opened=False,
                  conversation_token=gw.tokens.issue_customer(customer_id=customer.customer_id, tenant_id=tenant_id,
                                                              conversation_id=cid))


W = "/v1/widget/conversations/{conversation_id}"


@router.post(W + "/messages", responses=ANSWERS)
async def customer_message(conversation_id: Identifier, body: NewMessage, request: Request,
                           customer: Customer = Depends(require_customer),
                           key: str | None = IdempotencyKey) -> JSONResponse:
    authorise_customer(customer, conversation_id)
    if body.private:
        raise HTTPException(403, detail={"error": "forbidden", "detail": "You are not allowed to do this."})
    return await _send(request, customer, chat.SendMessage(
        conversation_id=conversation_id, client_message_id=body.client_message_id, text=body.text,
        attachment_ids=body.attachment_ids,
        request_id=request_id_for(customer.tenant_id, customer.customer_id, key)))


@router.post(W + "/read", responses=ANSWERS)
async def customer_read(conversation_id: Identifier, body: ReadUpTo, request: Request,
                        customer: Customer = Depends(require_customer),
                        key: str | None = IdempotencyKey) -> JSONResponse:
    authorise_customer(customer, conversation_id)
    return await _send(request, customer, chat.MarkRead(
        conversation_id=conversation_id, up_to_seq=body.up_to_seq,
        request_id=request_id_for(customer.tenant_id, customer.customer_id, key)))


@router.post(W + "/end", responses=ANSWERS)
async def customer_end(conversation_id: Identifier, request: Request, customer: Customer = Depends(require_customer),
                       key: str | None = IdempotencyKey) -> JSONResponse:
    """The customer ends the chat; the agent sees "Customer ended the conversation" and still wraps up."""
    authorise_customer(customer, conversation_id)
    return await _send(request, customer, chat.EndConversation(
        conversation_id=conversation_id, request_id=request_id_for(customer.tenant_id, customer.customer_id, key)))


@router.post(W + "/typing", status_code=204)
async def customer_typing(conversation_id: Identifier, request: Request,
                          customer: Customer = Depends(require_customer)) -> None:
    authorise_customer(customer, conversation_id)
    gw = request.app.state.gateway
    view = await gw.db[CONVERSATIONS].find_one({"_id": f"{customer.tenant_id}:{conversation_id}"})
    await push_typing(gw, customer.tenant_id, conversation_id, view, who={"kind": "customer",
                                                                          "id": customer.customer_id})


@router.get(W + "/messages", response_model=MessagePage)
async def customer_messages(conversation_id: Identifier, request: Request,
                            customer: Customer = Depends(require_customer),
                            after_seq: int = Query(0, ge=0, le=MAX_SEQ),
                            limit: int = Query(100, ge=1, le=500)) -> Any:
    """The conversation's messages, without private notes."""
    authorise_customer(customer, conversation_id)
    return await chat_read(request.app.state.gateway,
                           f"/internal/tenants/{customer.tenant_id}/conversations/{conversation_id}/messages",
                           after_seq=after_seq, limit=limit, include_private="false")


async def _send(request: Request, customer: Customer, command: chat.ChatCommand) -> JSONResponse:
    return await request.app.state.gateway.bus.send(CHAT_COMMANDS, command, tenant_id=customer.tenant_id,
                                                    actor=customer.actor)
