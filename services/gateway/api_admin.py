"""Tenant set-up for admins: staff accounts (sign-ins here, capacity and skills in routing), queues (routing's
queue plus chat's settings for it), wrap-up reasons (chat), the identity secret for authenticated customers,
and deactivating an agent (sockets closed at once, work given back to routing)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model
from pymongo.errors import DuplicateKeyError
from shared.contracts import chat, routing
from shared.contracts.catalogue import CHAT_COMMANDS, ROUTING_COMMANDS
from shared.contracts.envelope import Identifier

from services.gateway.adapters.store import CONVERSATIONS, USERS, agent_stream, push
from services.gateway.api_sessions import revoke_sessions
from services.gateway.api_staff import ANSWERS
from services.gateway.api_widget import TENANTS
from services.gateway.auth.customers import DEFAULT_PREVIOUS_VALID_S, new_identity_secret, rotated_identity_secrets
from services.gateway.auth.passwords import PasswordTooShort, hash_password_async
from services.gateway.auth.permissions import Action, Role, refusal
from services.gateway.identity import Staff, raise_refusal, require_staff

router = APIRouter(tags=["admin"])


def admin(action: Action) -> Any:
    async def check(request: Request) -> Staff:
        staff = await require_staff(request)
        refused = refusal(staff.role, action)
        if refused is not None:
            raise_refusal(refused)
        return staff
    return check


class NewStaff(BaseModel):
    user_id: Identifier = Field(description="Sign-in name, also the agent id in routing and chat.")
    password: str = Field(min_length=1, max_length=1000)
    role: Literal["agent", "supervisor", "admin"] = "agent"
    display_name: str = Field("", max_length=200)
    capacity: dict[Identifier, int] = Field(default_factory=lambda: {"chat": 3},
                                            description="Channel -> conversations at once.")
    skills: dict[Identifier, int] = Field(default_factory=dict, description="Skill -> level 1..10.")
    supervises: list[Identifier] = Field(default_factory=list, description="Queues a supervisor supervises.")


@router.post("/v1/admin/staff", responses=ANSWERS)
async def create_staff(body: NewStaff, request: Request, staff: Staff = Depends(admin(Action.MANAGE_AGENTS))
                       ) -> JSONResponse:
    """Creates the sign-in and tells routing the agent's capacity and skills (routing's answer is returned)."""
    gw = request.app.state.gateway
    try:
        password_hash = await hash_password_async(body.password, params=gw.passwords)
    except PasswordTooShort as exc:
        raise HTTPException(422, detail={"error": "invalid", "detail": [{"field": "password",
                                                                         "reason": str(exc)}]}) from None
    try:
        await create_user(gw.db, staff.tenant_id, body.user_id, password_hash, body.role,
                          display_name=body.display_name, supervises=body.supervises)
    except DuplicateKeyError:
        raise HTTPException(409, detail={"error": "conflict", "detail": f"{body.user_id} exists already"}) from None
    return await gw.bus.send(ROUTING_COMMANDS, routing.ConfigureAgent(
        agent_id=body.user_id, capacity=body.capacity, skills=body.skills), tenant_id=staff.tenant_id,
        actor=staff.actor)


async def create_user(db: Any, tenant_id: str, user_id: str, password_hash: str, role: str, *,
                      display_name: str = "", supervises: list[str] | None = None) -> None:
    await db[USERS].insert_one({"_id": f"{tenant_id}:{user_id}", "tenant_id": tenant_id, "user_id": user_id,
                                "username": user_id, "password_hash": password_hash, "role": Role(role).value,
                                "display_name": display_name or user_id, "supervises": supervises or [],
                                "active": True, "created_at": datetime.now(UTC)})


class StaffChange(BaseModel):
    role: Literal["agent", "supervisor", "admin"] | None = None
    capacity: dict[Identifier, int] | None = Field(None, description="Channel -> conversations at once (routing).")
    skills: dict[Identifier, int] | None = Field(None, description="Skill -> level 1..10 (routing).")
    supervises: list[Identifier] | None = Field(None, description="Queues a supervisor supervises.")


@router.patch("/v1/admin/staff/{user_id}", responses=ANSWERS)
async def change_staff(user_id: Identifier, body: StaffChange, request: Request,
                       staff: Staff = Depends(admin(Action.MANAGE_AGENTS))) -> JSONResponse:
    """Role and supervised queues (here), capacity and skills (routing's answer is returned). Omitted: unchanged."""
    gw = request.app.state.gateway
    changes = {k: v for k, v in (("role", body.role), ("supervises", body.supervises)) if v is not None}
    found = await gw.db[USERS].find_one_and_update({"_id": f"{staff.tenant_id}:{user_id}"}, {"$set": changes}) \
        if changes else await gw.db[USERS].find_one({"_id": f"{staff.tenant_id}:{user_id}"})
    if found is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    if body.capacity is None and body.skills is None:
        return JSONResponse({"status": "accepted", "request_id": None, "result_id": None, "code": None,
                             "reason": None, "answer_url": None})
    return await gw.bus.send(ROUTING_COMMANDS, routing.ConfigureAgent(
        agent_id=user_id, capacity=body.capacity, skills=body.skills), tenant_id=staff.tenant_id, actor=staff.actor)


class TeamSettings(BaseModel):
    agents: dict[Identifier, routing.AgentSettings] = Field(
        min_length=1, max_length=1000, description="Agent id -> capacity per channel and/or skills (omitted: "
                                                   "unchanged).")


@router.put("/v1/admin/agents", responses=ANSWERS)
async def configure_agents(body: TeamSettings, request: Request,
                           staff: Staff = Depends(admin(Action.MANAGE_AGENTS))) -> JSONResponse:
    """Routing's settings (capacity, skills) of up to 1,000 agents in one command (routing.ConfigureAgents): all
    set, or none if one is invalid (its reason returned). Sign-ins are POST /v1/admin/staff's, one by one: each
    costs a password hash. Routing's answer."""
    return await request.app.state.gateway.bus.send(ROUTING_COMMANDS, routing.ConfigureAgents(
        batch_id=uuid4().hex, agents=body.agents), tenant_id=staff.tenant_id, actor=staff.actor)


@router.post("/v1/admin/staff/{user_id}/deactivate", responses=ANSWERS)
async def deactivate(user_id: Identifier, request: Request,
                     staff: Staff = Depends(admin(Action.MANAGE_AGENTS))) -> JSONResponse:
    """Signs the user out everywhere at once (sockets closed), sets them offline (pending offers withdrawn)
    and transfers their conversations back to their queues."""
    gw = request.app.state.gateway
    found = await gw.db[USERS].find_one_and_update({"_id": f"{staff.tenant_id}:{user_id}"},
                                                   {"$set": {"active": False}})
    if found is None:
        raise HTTPException(404, detail={"error": "not_found", "detail": "Not found."})
    await revoke_sessions(gw, staff.tenant_id, user_id)
    await push(gw.db, [(agent_stream(staff.tenant_id, user_id), {"type": "deactivated"})])
    held = gw.db[CONVERSATIONS].find({"tenant_id": staff.tenant_id, "agents.0": user_id,
                                      "state": {"$in": ["active", "offered"]}})
    async for view in held:
        await gw.bus.fire(ROUTING_COMMANDS, routing.TransferConversation(
            conversation_id=view["conversation_id"], agent_id=user_id, to_queue_id=view["queue_id"],
            reason=f"{user_id} was deactivated"), tenant_id=staff.tenant_id, actor=staff.actor)
    return await gw.bus.send(ROUTING_COMMANDS, routing.SetPresence(agent_id=user_id, presence="offline"),
                             tenant_id=staff.tenant_id, actor=staff.actor)


def _settings_of(command: type[Any]) -> dict[str, Any]:
    return {name: (field.annotation, field) for name, field in command.model_fields.items()
            if name not in ("queue_id", "request_id", "actor")}


_ROUTING_QUEUE, _CHAT_QUEUE = _settings_of(routing.ConfigureQueue), _settings_of(chat.ConfigureQueueChat)
assert not _ROUTING_QUEUE.keys() & _CHAT_QUEUE.keys(), "a queue setting both routing and chat would take"
QueueSetup = create_model(  # routing's queue settings, plus chat's settings for the same queue
    "QueueSetup", **_ROUTING_QUEUE, **_CHAT_QUEUE)


@router.put("/v1/admin/queues/{queue_id}", responses=ANSWERS)
async def configure_queue(queue_id: Identifier, body: QueueSetup, request: Request,  # type: ignore[valid-type]
                          staff: Staff = Depends(admin(Action.MANAGE_QUEUES))) -> JSONResponse:
    """Routing's answer if it refused, else chat's answer to the queue's chat settings."""
    gw = request.app.state.gateway
    values = body.model_dump()  # type: ignore[attr-defined]
    chat_settings = {k: values.pop(k) for k in _CHAT_QUEUE}
    answer = await gw.bus.send(ROUTING_COMMANDS, routing.ConfigureQueue(queue_id=queue_id, **values),
                               tenant_id=staff.tenant_id, actor=staff.actor)
    if answer.status_code != 200:
        return answer
    return await gw.bus.send(CHAT_COMMANDS, chat.ConfigureQueueChat(queue_id=queue_id, **chat_settings),
                             tenant_id=staff.tenant_id, actor=staff.actor)


class MemberChange(BaseModel):
    add: dict[Identifier, int] = Field(default_factory=dict, max_length=5000,
                                       description="Agent id -> member priority (1 = highest): added, or its "
                                                   "priority changed.")
    remove: list[Identifier] = Field(default_factory=list, max_length=5000,
                                     description="Agents no longer members.")


@router.patch("/v1/admin/queues/{queue_id}/members", responses=ANSWERS)
async def change_queue_members(queue_id: Identifier, body: MemberChange, request: Request,
                               staff: Staff = Depends(admin(Action.MANAGE_QUEUES))) -> JSONResponse:
    """Adds and removes members, leaving the queue's other members and settings as they are: two admins
    changing one queue at once both keep their change (PUT replaces the whole list). Routing's answer."""
    return await request.app.state.gateway.bus.send(ROUTING_COMMANDS, routing.ChangeQueueMembers(
        queue_id=queue_id, add=body.add, remove=body.remove), tenant_id=staff.tenant_id, actor=staff.actor)


class Reasons(BaseModel):
    reasons: list[chat.WrapUpReason] = Field(max_length=200)


@router.put("/v1/admin/wrap-up-reasons", responses=ANSWERS)
async def wrap_up_reasons(body: Reasons, request: Request,
                          staff: Staff = Depends(admin(Action.MANAGE_WRAP_UP_REASONS))) -> JSONResponse:
    return await request.app.state.gateway.bus.send(CHAT_COMMANDS, chat.ConfigureWrapUpReasons(reasons=body.reasons),
                                                    tenant_id=staff.tenant_id, actor=staff.actor)


class RotateIdentitySecret(BaseModel):
    previous_valid_s: int = Field(
        DEFAULT_PREVIOUS_VALID_S, ge=0, le=30 * 24 * 3600,
        description="How long the secret this replaces still signs identities, so that the site's servers can "
                    "switch without refusing anyone. 0 after a leak: the old secret (and any earlier one still in "
                    "its grace) stops at once.")


class IdentitySecret(BaseModel):
    identity_secret: str = Field(description="Give it to your site's server only: it signs customers' identities "
                                             "(HMAC over 'user_id:expires_at'). Shown once; a new one replaces it.")
    previous_valid_until: list[datetime] = Field(
        description="Until when each rotated-out secret still signs, newest first (empty: none does).")


class IdentitySecretStatus(BaseModel):
    configured: bool = Field(description="Whether the tenant has an identity secret (authenticated customers).")
    rotated_at: datetime | None = Field(description="When the current secret was made (the secret is not shown "
                                                    "again: rotate to get a new one).")
    previous_valid_until: list[datetime] = Field(
        description="Until when each rotated-out secret still signs, newest first.")


def _graces(tenant: dict[str, Any], now: datetime) -> list[datetime]:
    return [p["until"] for p in tenant.get("identity_previous", ()) if p["until"] > now]


@router.get("/v1/admin/identity-secret", response_model=IdentitySecretStatus)
async def identity_secret_status(request: Request, staff: Staff = Depends(admin(Action.MANAGE_IDENTITY_SECRET))
                                 ) -> IdentitySecretStatus:
    tenant = await request.app.state.gateway.db[TENANTS].find_one({"_id": staff.tenant_id}) or {}
    return IdentitySecretStatus(configured=bool(tenant.get("identity_secret")),
                                rotated_at=tenant.get("identity_rotated_at"),
                                previous_valid_until=_graces(tenant, datetime.now(UTC)))


@router.post("/v1/admin/identity-secret", response_model=IdentitySecret)
async def rotate_identity_secret(request: Request, body: RotateIdentitySecret | None = None,
                                 staff: Staff = Depends(admin(Action.MANAGE_IDENTITY_SECRET))) -> IdentitySecret:
    """A new identity secret. The one it replaces still signs for `previous_valid_s` (a day by default): put
    the new one on the site's servers within that time, then end the grace (DELETE .../previous) or let it run
    out. Two rotations at once: each is applied to what the other left (compare-and-set on the record)."""
    previous_valid_s = (body or RotateIdentitySecret()).previous_valid_s
    db = request.app.state.gateway.db
    for _ in range(5):
        tenant = await db[TENANTS].find_one({"_id": staff.tenant_id})
        if tenant is None:
            raise HTTPException(404, detail={"error": "not_found", "detail": "No such tenant."})
        now = datetime.now(UTC)
        fields = rotated_identity_secrets(tenant, new_identity_secret(), now, previous_valid_s)
        done = await db[TENANTS].update_one(
            {"_id": staff.tenant_id, "identity_secret": tenant.get("identity_secret")}, {"$set": fields})
        if done.matched_count:
            return IdentitySecret(identity_secret=fields["identity_secret"],
                                  previous_valid_until=[p["until"] for p in fields["identity_previous"]])
    raise HTTPException(409, detail={"error": "conflict", "detail": "The secret kept changing; try again."})


@router.delete("/v1/admin/identity-secret/previous", response_model=IdentitySecretStatus)
async def end_identity_secret_grace(request: Request, staff: Staff = Depends(admin(Action.MANAGE_IDENTITY_SECRET))
                                    ) -> IdentitySecretStatus:
    """Rotated-out secrets stop signing now (the site's servers all use the current one)."""
    db = request.app.state.gateway.db
    await db[TENANTS].update_one({"_id": staff.tenant_id}, {"$set": {"identity_previous": []}})
    return await identity_secret_status(request, staff)
