"""Who is calling: the signed-in staff member (access token) or the widget's customer (conversation token),
checked on every request, and the relations of a staff member to one conversation, for the permission table
(auth/permissions.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request
from shared.contracts.envelope import Actor
from shared.logging import get_logger

log = get_logger(__name__)

from services.gateway.adapters.favourites import is_favourite
from services.gateway.adapters.store import CONVERSATIONS, QUEUES, SESSIONS, USERS
from services.gateway.auth.permissions import (
    NOT_SIGNED_IN,
    Action,
    Refusal,
    Relation,
    Role,
    refusal,
)
from services.gateway.auth.tokens import InvalidToken, TokenService

Doc = dict[str, Any]


@dataclass(frozen=True)
class Staff:
    tenant_id: str
    user_id: str
    role: Role
    session_id: str
    queues: tuple[str, ...] = ()  # queues a supervisor supervises
    sign_in: str = ""  # the session family: one sign-in and the sessions its refreshes replaced it with
    display_name: str = ""  # as the admin set it (users.display_name); chat fills {agent_name} with it

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.user_id, role=self.role.value, display_name=self.display_name or None)


@dataclass(frozen=True)
class Customer:
    tenant_id: str
    customer_id: str
    conversation_id: str

    @property
    def actor(self) -> Actor:
        return Actor(user_id=self.customer_id, role="customer")


@dataclass
class ConversationAccess:
    view: Doc | None
    relations: set[Relation] = field(default_factory=set)


def raise_refusal(r: Refusal) -> None:
    raise HTTPException(r.status, detail=r.body(), headers=r.headers() or None)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query_params.get("access_token")  # WebSockets: browsers cannot set headers


async def staff_from_token(db: Any, tokens: TokenService, token: str | None) -> Staff | None:
    """The staff member behind a valid access token whose session is live and whose account is active."""
    if not token:
        return None
    try:
        claims = tokens.verify_access(token)
    except InvalidToken as exc:
        log.info("access token refused", reason=str(exc.reason))
        return None
    session = await db[SESSIONS].find_one({"_id": claims.session_id})
    if session is None or session.get("revoked_at") or session["expires_at"].replace(tzinfo=UTC) < datetime.now(UTC):
        return None
    user = await db[USERS].find_one({"_id": f"{claims.tenant_id}:{claims.user_id}"})
    if user is None or not user.get("active", True):
        return None
    return Staff(claims.tenant_id, claims.user_id, Role(user["role"]), claims.session_id,
                 tuple(user.get("supervises", ())), session.get("family", claims.session_id),
                 user.get("display_name", ""))


async def require_staff(request: Request) -> Staff:
    gw = request.app.state.gateway
    staff = await staff_from_token(gw.db, gw.tokens, bearer(request))
    if staff is None:
        raise_refusal(NOT_SIGNED_IN)
    assert staff is not None
    return staff


def customer_from_token(tokens: TokenService, token: str | None) -> Customer | None:
    if not token:
        return None
    try:
        claims = tokens.verify_customer(token)
    except InvalidToken as exc:
        log.info("customer token refused", reason=str(exc.reason))
        return None
    return Customer(claims.tenant_id, claims.customer_id, claims.conversation_id)


async def require_customer(request: Request) -> Customer:
    customer = customer_from_token(request.app.state.gateway.tokens, bearer(request))
    if customer is None:
        raise_refusal(NOT_SIGNED_IN)
    assert customer is not None
    return customer


def waits_in_queue(view: Doc) -> bool:
    """Whether membership of the conversation's queue relates one to it: it waits there, or it is an offline
    message left there."""
    return bool(view.get("queue_id")) and (view["state"] in ("queued", "offered", "requested")
                                           or view["state"] == "closed" and bool(view.get("offline")))


def relations_to(view: Doc, staff: Staff, *, queue_member: bool, favourite: bool) -> set[Relation]:
    """The staff member's relations to a conversation from the gateway's view of it, given whether they are a
    member of its queue and have its customer as a favourite (pure: conversation_access and history search's
    batches supply those)."""
    rel: set[Relation] = set()
    agents = view.get("agents", [])
    if agents and agents[0] == staff.user_id or (view["state"] == "closed" and staff.user_id in view["served_by"]):
        rel.add(Relation.ASSIGNED)
    if staff.user_id in agents[1:]:
        rel.add(Relation.CONFERENCE_MEMBER)
    if staff.user_id in view.get("offered", []) or staff.user_id in view.get("invited", []):
        rel.add(Relation.OFFERED)
    if view.get("queue_id"):
        if view["queue_id"] in staff.queues:
            rel.add(Relation.SUPERVISOR_OF_QUEUE)
        if queue_member and waits_in_queue(view):
            rel.add(Relation.OFFLINE_INBOX if view["state"] == "closed" else Relation.QUEUE_MEMBER)
    if favourite and view.get("customer_id"):
        rel.add(Relation.FAVOURITE_OF)
    return rel


async def conversation_access(db: Any, staff: Staff, conversation_id: str) -> ConversationAccess:
    """The gateway's view of a conversation of the staff member's tenant, and the staff member's relations."""
    view = await db[CONVERSATIONS].find_one({"_id": f"{staff.tenant_id}:{conversation_id}"})
    if view is None:
        return ConversationAccess(None)
    member = False
    if waits_in_queue(view):
        queue = await db[QUEUES].find_one({"_id": f"{staff.tenant_id}:{view['queue_id']}"})
        member = bool(queue) and staff.user_id in queue["members"]
    favourite = bool(view.get("customer_id")) and await is_favourite(db, staff.tenant_id, view["customer_id"],
                                                                      staff.user_id)
    return ConversationAccess(view, relations_to(view, staff, queue_member=member, favourite=favourite))


async def authorise(db: Any, staff: Staff, conversation_id: str, action: Action) -> ConversationAccess:
    access = await conversation_access(db, staff, conversation_id)
    refused = refusal(staff.role, action, access.relations, found=access.view is not None)
    if refused is not None:
        raise_refusal(refused)
    return access


def authorise_customer(customer: Customer, conversation_id: str) -> None:
    """A customer's token names one conversation; any other id is simply not found."""
    if customer.conversation_id != conversation_id:
        raise_refusal(refusal(Role.CUSTOMER, Action.READ_CONVERSATION, (), found=False))  # type: ignore[arg-type]
