"""Staff sign-in and sessions: argon2id passwords, short-lived access tokens with rotating refresh tokens,
sign-out and revocation (a session's sockets close at once), password change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from shared.contracts.envelope import Identifier

from services.gateway.adapters.store import SESSIONS, USERS, agent_stream, push
from services.gateway.auth.passwords import (
    PasswordTooShort,
    check_password_async,
    hash_password_async,
)
from services.gateway.auth.permissions import NOT_SIGNED_IN
from services.gateway.auth.tokens import hash_refresh
from services.gateway.identity import Staff, raise_refusal, require_staff

router = APIRouter()


class SignIn(BaseModel):
    tenant_id: Identifier
    username: Identifier
    password: str = Field(min_length=1, max_length=1000)


class Tokens(BaseModel):
    access_token: str = Field(description="Bearer token for every request (and ?access_token= on WebSockets).")
    refresh_token: str = Field(description="Exchange at /v1/auth/refresh for new tokens (it is rotated).")
    expires_in: int = Field(description="Seconds the access token is valid.")
    user_id: str
    role: str
    tenant_id: str


class Refresh(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=1000)


async def _new_session(request: Request, user: dict[str, Any], family: str | None = None) -> Tokens:
    """A session per sign-in; refreshing replaces it with a new one of the same family."""
    gw = request.app.state.gateway
    refresh = gw.tokens.new_refresh()
    sid = uuid4().hex
    await gw.db[SESSIONS].insert_one({"_id": sid, "family": family or sid,
                                      "tenant_id": user["tenant_id"], "user_id": user["user_id"],
                                      "refresh_hash": refresh.token_hash, "expires_at": refresh.expires_at,
                                      "created_at": datetime.now(UTC), "revoked_at": None})
    access = gw.tokens.issue_access(user_id=user["user_id"], tenant_id=user["tenant_id"], role=user["role"],
                                    session_id=sid)
    return Tokens(access_token=access, refresh_token=refresh.token, expires_in=gw.settings.access_ttl_s,
                  user_id=user["user_id"], role=user["role"], tenant_id=user["tenant_id"])


BAD_SIGN_IN = HTTPException(401, detail={"error": "not_signed_in", "detail": "Wrong tenant, username or password."},
                            headers=NOT_SIGNED_IN.headers())


@router.post("/v1/auth/sign-in", response_model=Tokens, tags=["sessions"],
             responses={401: {"description": "Wrong tenant, username or password (one answer for all three)."}})
async def sign_in(body: SignIn, request: Request) -> Tokens:
    gw = request.app.state.gateway
    user = await gw.db[USERS].find_one({"_id": f"{body.tenant_id}:{body.username}"})
    usable = user is not None and user.get("active", True)
    checked = await check_password_async(user["password_hash"] if usable else None, body.password,
                                         params=gw.passwords)
    if not usable or not checked.ok:
        raise BAD_SIGN_IN
    if checked.new_hash:
        await gw.db[USERS].update_one({"_id": user["_id"]}, {"$set": {"password_hash": checked.new_hash}})
    return await _new_session(request, user)


@router.post("/v1/auth/refresh", response_model=Tokens, tags=["sessions"],
             responses={401: {"description": "Unknown, expired or already used refresh token."}})
async def refresh(body: Refresh, request: Request) -> Tokens:
    """Rotates the refresh token: the old one stops working. An old one that comes back (a stolen copy, or
    the client's twin) ends every session of its sign-in at once."""
    gw = request.app.state.gateway
    now = datetime.now(UTC)
    session = await gw.db[SESSIONS].find_one_and_update(
        {"refresh_hash": hash_refresh(body.refresh_token), "revoked_at": None, "expires_at": {"$gt": now}},
        {"$set": {"revoked_at": now, "rotated": True}})
    if session is None:
        reused = await gw.db[SESSIONS].find_one({"refresh_hash": hash_refresh(body.refresh_token), "rotated": True})
        if reused is not None:
            await revoke_sessions(gw, reused["tenant_id"], reused["user_id"], family=reused.get("family"))
        raise_refusal(NOT_SIGNED_IN)
    user = await gw.db[USERS].find_one({"_id": f"{session['tenant_id']}:{session['user_id']}"})
    if not user or not user.get("active", True):
        raise_refusal(NOT_SIGNED_IN)
    return await _new_session(request, user, family=session.get("family", session["_id"]))


@router.post("/v1/auth/sign-out", status_code=204, tags=["sessions"])
async def sign_out(request: Request, staff: Staff = Depends(require_staff)) -> None:
    """Ends this session at once: its tokens stop working and its sockets close."""
    await revoke_sessions(request.app.state.gateway, staff.tenant_id, staff.user_id, family=staff.sign_in)


@router.post("/v1/auth/password", status_code=204, tags=["sessions"])
async def change_password(body: PasswordChange, request: Request, staff: Staff = Depends(require_staff)) -> None:
    gw = request.app.state.gateway
    user = await gw.db[USERS].find_one({"_id": f"{staff.tenant_id}:{staff.user_id}"})
    if not (await check_password_async(user["password_hash"], body.current_password, params=gw.passwords)).ok:
        raise HTTPException(403, detail={"error": "forbidden", "detail": "The current password is wrong."})
    try:
        new_hash = await hash_password_async(body.new_password, params=gw.passwords)
    except PasswordTooShort as exc:
        raise HTTPException(422, detail={"error": "invalid", "detail": [{"field": "new_password",
                                                                         "reason": str(exc)}]}) from None
    await gw.db[USERS].update_one({"_id": user["_id"]}, {"$set": {"password_hash": new_hash}})


async def revoke_sessions(gw: Any, tenant_id: str, user_id: str, *, family: str | None = None) -> None:
    """End one sign-in (a session and the sessions its refreshes made), or all of a user's, and tell their
    sockets, on every instance, to close."""
    query: dict[str, Any] = {"tenant_id": tenant_id, "user_id": user_id}
    if family:
        query["family"] = family
    families = sorted({s.get("family", s["_id"]) async for s in gw.db[SESSIONS].find(query, {"family": 1})})
    await gw.db[SESSIONS].update_many({**query, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}})
    frames = [(agent_stream(tenant_id, user_id), {"type": "session_revoked", "session_id": f}) for f in families]
    await push(gw.db, frames)


