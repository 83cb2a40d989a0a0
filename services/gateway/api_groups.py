"""Group conversations (U6): an agent starts a conversation with a customer and named colleagues, holds it at
once (as a proactive chat, C8) and the colleagues take part from the start; a colleague leaves by itself.

Permissions: starting is `start_proactive` (a group is a proactive chat with colleagues); in the conversation
a colleague has the relation `conference_member` (chat lists it in `agents` after the assignee), so it reads,
writes, marks read and types as a conference member does, and `leave_conference` lets it leave the group."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, model_validator
from shared.contracts import chat
from shared.contracts.catalogue import CHAT_COMMANDS
from shared.contracts.chat.common import MAX_GROUP_COLLEAGUES
from shared.contracts.envelope import Identifier

from services.gateway.adapters.store import QUEUES, USERS
from services.gateway.api_admin import admin
from services.gateway.api_staff import ANSWERS, REFUSALS, C, IdempotencyKey, act, send
from services.gateway.auth.permissions import Action
from services.gateway.commands import request_id_for, result_id
from services.gateway.identity import Staff, require_staff
from services.gateway.reads import service_read

router = APIRouter(tags=["agent"])


class NewGroup(BaseModel):
    customer_id: Identifier | None = Field(None, description="The customer's id in chat (a signed-in user's id on "
                                                             "your site, or a visitor's), e.g. from an earlier chat.")
    contact_id: Identifier | None = Field(None, description="Or a contact: the customer linked to it (U5), else "
                                                            "its login id.")
    customer_name: str | None = Field(None, min_length=1, max_length=200,
                                      description="Shown to everyone; by default the contact's name, or the name "
                                                  "of the customer's latest conversation.")
    colleagues: list[Identifier] = Field(min_length=1, max_length=MAX_GROUP_COLLEAGUES,
                                         description="Staff of the tenant (user ids) who take part from the start.")
    message: str = Field(min_length=1, max_length=1000, description="The first message, from the starting agent.")
    topic: str | None = Field(None, min_length=1, max_length=200, description="What the group is about.")
    queue_id: Identifier | None = Field(None, description="The queue it belongs to (reports, transfers); by "
                                                          "default the first of the starter's queues.")

    @model_validator(mode="after")
    def _one_customer(self) -> NewGroup:
        if (self.customer_id is None) == (self.contact_id is None):
            raise ValueError("name the customer: customer_id or contact_id, not both")
        return self


class GroupStarted(BaseModel):
    status: str
    conversation_id: str
    customer_id: str
    colleagues: list[str]
    customer_token: str = Field(description="Hand it to the customer's widget: it opens this conversation, its "
                                            "messages and its stream.")


def _invalid(field: str, reason: str) -> HTTPException:
    return HTTPException(422, detail={"error": "invalid", "detail": [{"field": field, "reason": reason}]})


async def _check_colleagues(db: Any, tenant_id: str, colleagues: list[str]) -> None:
    """Every colleague is an active staff member of the tenant (the gateway keeps the staff records)."""
    found = {u["user_id"]: u async for u in db[USERS].find({"_id": {"$in": [f"{tenant_id}:{c}" for c in colleagues]}})}
    for colleague in colleagues:
        user = found.get(colleague)
        if user is None:
            raise _invalid("colleagues", f"unknown colleague {colleague}: no staff member of this tenant has that id")
        if not user.get("active", True):
            raise _invalid("colleagues", f"colleague {colleague} is not active staff of this tenant (deactivated)")


def _contacts_customer(contact_id: str, contact: dict[str, Any], linked: list[str]) -> str:
    """The customer a contact chats as: the one chat customer linked to it (U5), else its login id (what a
    signed-in user of the tenant's site chats under)."""
    if len(linked) == 1:
        return linked[0]
    if linked:
        raise _invalid("contact_id", f"contact {contact_id} is linked to customers {', '.join(linked)}: name one "
                                     f"as customer_id")
    try:
        return chat.Customer(customer_id=contact.get("login_id") or "", name="-").customer_id
    except ValidationError:
        raise _invalid("contact_id", f"contact {contact_id} is linked to no customer and has no login id usable "
                                     f"as one, so chat cannot reach it: name customer_id") from None


async def _customer(gw: Any, staff: Staff, body: NewGroup) -> tuple[str, str]:
    """The customer's id in chat and the name everyone sees."""
    t = staff.tenant_id
    if body.contact_id is not None:
        path = f"/internal/tenants/{t}/contacts/{body.contact_id}"
        try:
            contact = await service_read(gw.customer, "customer", path)
        except HTTPException as exc:
            if exc.status_code == 404:
                raise _invalid("contact_id", f"unknown contact {body.contact_id}") from None
            raise
        linked = (await service_read(gw.customer, "customer", path + "/customers"))["customer_ids"]
        name = body.customer_name or contact.get("full_name") or body.contact_id
        return _contacts_customer(body.contact_id, contact, linked), name
    assert body.customer_id is not None
    if body.customer_name:
        return body.customer_id, body.customer_name
    latest = await service_read(gw.chat, "chat", f"/internal/tenants/{t}/conversations",
                                customer_id=body.customer_id, limit=1)
    if not latest["conversations"]:
        raise _invalid("customer_name", f"customer {body.customer_id} has no conversation here to take a name "
                                        f"from: give customer_name")
    return body.customer_id, latest["conversations"][0]["customer"]["name"]


async def _queue(db: Any, staff: Staff, queue_id: str | None) -> str:
    if queue_id is not None:
        return queue_id
    mine = await db[QUEUES].find({"tenant_id": staff.tenant_id, "members": staff.user_id}).sort("_id", 1).to_list(1)
    if not mine:
        raise _invalid("queue_id", f"you ({staff.user_id}) are a member of no queue: name queue_id")
    return str(mine[0]["queue_id"])


@router.post("/v1/conversations/group", response_model=GroupStarted, responses=REFUSALS)
async def start_group(body: NewGroup, request: Request, staff: Staff = Depends(admin(Action.START_PROACTIVE)),
                      key: str | None = IdempotencyKey) -> Any:
    """U6: a conversation with a customer and colleagues, held at once by its starter (chat's StartConversation
    with `colleagues`); an unknown or inactive colleague, or a customer chat cannot reach, is a 422 saying why."""
    gw = request.app.state.gateway
    await _check_colleagues(gw.db, staff.tenant_id, body.colleagues)
    customer_id, name = await _customer(gw, staff, body)
    conversation_id = uuid4().hex
    answer = await send(request, staff, CHAT_COMMANDS, chat.StartConversation(
        conversation_id=conversation_id, queue_id=await _queue(gw.db, staff, body.queue_id), proactive=True,
        first_message=body.message, colleagues=body.colleagues, topic=body.topic,
        customer=chat.Customer(customer_id=customer_id, name=name, authenticated=True),
        request_id=request_id_for(staff.tenant_id, staff.user_id, key)))
    if answer.status_code != 200:
        return answer
    conversation_id = result_id(answer) or conversation_id
    return GroupStarted(status="accepted", conversation_id=conversation_id, customer_id=customer_id,
                        colleagues=body.colleagues, customer_token=gw.tokens.issue_customer(
                            customer_id=customer_id, tenant_id=staff.tenant_id, conversation_id=conversation_id))


@router.post(C + "/group/leave", responses=ANSWERS)
async def leave_group(conversation_id: Identifier, request: Request, staff: Staff = Depends(require_staff),
                      key: str | None = IdempotencyKey) -> JSONResponse:
    """A colleague leaves the group (the agent who holds it transfers or ends it instead: 403 not_allowed)."""
    return await act(request, staff, conversation_id, Action.LEAVE_CONFERENCE, CHAT_COMMANDS, chat.LeaveGroup, key)
