"""Tokens of the gateway: short-lived staff access tokens and conversation-scoped customer tokens (JWT,
HS256, PyJWT), and opaque refresh tokens that the caller stores only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

import jwt

from services.gateway.auth.permissions import STAFF_ROLES, Role

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # an HS256 key no shorter than its hash (RFC 7518 3.2); PyJWT warns below it
ACCESS_TYP = "access"
CUSTOMER_TYP = "customer"


class InvalidTokenReason(StrEnum):
    EXPIRED = "expired"
    BAD_SIGNATURE = "bad_signature"  # not signed with our secret, or not with HS256 (alg "none" included)
    WRONG_TYPE = "wrong_type"  # a customer token offered as an access token, or the reverse
    MALFORMED = "malformed"  # not a JWT, or a claim missing or of the wrong type


class InvalidToken(Exception):
    """A token was refused. `reason` is for logs and metrics; the client gets the fixed 401 (permissions)."""

    def __init__(self, reason: InvalidTokenReason, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else str(reason))


@dataclass(frozen=True)
class AccessClaims:
    """A verified staff access token: `sub`, `tid`, `role`, `sid`, `iat`, `exp`."""

    user_id: str
    tenant_id: str
    role: Role
    session_id: str
    issued_at: datetime
    expires_at: datetime


Claims = AccessClaims  # the name the gateway's brief uses


@dataclass(frozen=True)
class CustomerClaims:
    """A verified customer token: `sub` (customer id), `tid`, `cid` (the one conversation), `iat`, `exp`."""

    customer_id: str
    tenant_id: str
    conversation_id: str
    issued_at: datetime
    expires_at: datetime


class RefreshToken(NamedTuple):
    """A new refresh token: give `token` to the client once; store only `token_hash` and `expires_at`."""

    token: str
    token_hash: str
    expires_at: datetime


def secret_bytes(secret: bytes | str, *, what: str = "secret") -> bytes:
    """The secret as bytes, refused when shorter than MIN_SECRET_BYTES."""
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the {what} needs at least {MIN_SECRET_BYTES} bytes (got {len(key)}); "
                         "make one with secrets.token_urlsafe(32)")
    return key


def hash_refresh(token: str) -> str:
    """The hex SHA-256 of a refresh token: what the caller stores and looks the token up by.

    No salt or slow hash is needed: the token is 256 random bits, not a guessable password.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _positive(name: str, value: int) -> int:
    if value <= 0:
        raise ValueError(f"{name} must be positive (got {value})")
    return value


class TokenService:
    """Issues and verifies the gateway's tokens with one HS256 secret (and, during a rotation, also verifies
    those the previous secret signed); lifetimes in seconds.

    `clock` returns an aware UTC datetime (tests inject one); `exp` is checked against it, not against
    PyJWT's own clock. Every verification passes algorithms=["HS256"] and requires every claim; `typ`
    is checked before the others, so a token of the other kind is WRONG_TYPE, not MALFORMED.
    """

    def __init__(self, secret: bytes | str, *, access_ttl_s: int = 900, refresh_ttl_s: int = 30 * 24 * 3600,
                 customer_ttl_s: int = 24 * 3600, clock: Callable[[], datetime] = _utc_now,
                 previous: bytes | str | None = None) -> None:
        self._key = secret_bytes(secret, what="token secret")
        # During a rotation: tokens signed with the previous secret still verify; new ones use `secret`.
        self._previous = secret_bytes(previous, what="previous token secret") if previous else None
        self.access_ttl_s = _positive("access_ttl_s", access_ttl_s)
        self.refresh_ttl_s = _positive("refresh_ttl_s", refresh_ttl_s)
        self.customer_ttl_s = _positive("customer_ttl_s", customer_ttl_s)
        self._clock = clock

    # staff access tokens

    def issue_access(self, *, user_id: str, tenant_id: str, role: Role | str, session_id: str) -> str:
        """A signed access token for a staff member's session (role admin, supervisor or agent)."""
        role = Role(role)
        if role not in STAFF_ROLES:
            raise ValueError(f"access tokens are for staff roles, not {role!r} (customers get issue_customer)")
        return self._issue(ACCESS_TYP, self.access_ttl_s,
                           {"sub": user_id, "tid": tenant_id, "role": str(role), "sid": session_id})

    def verify_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token; InvalidToken(reason) otherwise."""
        claims = self._verify(token, ACCESS_TYP, ("sub", "tid", "role", "sid"))
        if claims["role"] not in {str(r) for r in STAFF_ROLES}:
            raise InvalidToken(InvalidTokenReason.MALFORMED, f"role {claims['role']!r}")
        return AccessClaims(user_id=claims["sub"], tenant_id=claims["tid"], role=Role(claims["role"]),
                            session_id=claims["sid"], issued_at=_at(claims["iat"]), expires_at=_at(claims["exp"]))

    # refresh tokens

    def new_refresh(self) -> RefreshToken:
        """A new opaque refresh token, its hash and its expiry.

        Rotation is the caller's: on each refresh it looks the session up by hash_refresh(presented),
        refuses an unknown or expired one, replaces the stored hash with a new_refresh()'s (the old one
        is spent), and issues a new access token. A spent token presented again means it was stolen:
        end that session.
        """
        token = secrets.token_urlsafe(32)
        return RefreshToken(token=token, token_hash=hash_refresh(token),
                            expires_at=self._clock() + timedelta(seconds=self.refresh_ttl_s))

    # customer (widget) tokens

    def issue_customer(self, *, customer_id: str, tenant_id: str, conversation_id: str) -> str:
        """A signed token that lets the widget act on one conversation only."""
        return self._issue(CUSTOMER_TYP, self.customer_ttl_s,
                           {"sub": customer_id, "tid": tenant_id, "cid": conversation_id})

    def verify_customer(self, token: str) -> CustomerClaims:
        """The claims of a valid customer token; InvalidToken(reason) otherwise."""
        claims = self._verify(token, CUSTOMER_TYP, ("sub", "tid", "cid"))
        return CustomerClaims(customer_id=claims["sub"], tenant_id=claims["tid"], conversation_id=claims["cid"],
                              issued_at=_at(claims["iat"]), expires_at=_at(claims["exp"]))

    # shared

    def _issue(self, typ: str, ttl_s: int, claims: dict[str, str]) -> str:
        for name, value in claims.items():
            if not isinstance(value, str) or not value:
                raise ValueError(f"claim {name!r} must be a non-empty string (got {value!r})")
        now = int(self._clock().timestamp())
        return jwt.encode({**claims, "typ": typ, "iat": now, "exp": now + ttl_s}, self._key, algorithm=ALGORITHM)

    def _verify(self, token: str, typ: str, string_claims: tuple[str, ...]) -> dict[str, Any]:
        try:
            try:
                claims = self._decode(token, self._key)
            except jwt.InvalidSignatureError:
                if self._previous is None:
                    raise
                claims = self._decode(token, self._previous)
        except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError) as e:
            raise InvalidToken(InvalidTokenReason.BAD_SIGNATURE, str(e)) from None
        except jwt.InvalidTokenError as e:
            raise InvalidToken(InvalidTokenReason.MALFORMED, str(e)) from None
        if claims["typ"] != typ:
            raise InvalidToken(InvalidTokenReason.WRONG_TYPE, f"typ {claims['typ']!r}, expected {typ!r}")
        for name in string_claims:
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise InvalidToken(InvalidTokenReason.MALFORMED, f"claim {name!r}")
        for name in ("iat", "exp"):
            if not isinstance(claims[name], int) or isinstance(claims[name], bool):
                raise InvalidToken(InvalidTokenReason.MALFORMED, f"claim {name!r}")
        if self._clock().timestamp() >= claims["exp"]:
            raise InvalidToken(InvalidTokenReason.EXPIRED)
        return claims


    @staticmethod
    def _decode(token: str, key: bytes) -> dict[str, Any]:
        return jwt.decode(token, key, algorithms=[ALGORITHM],
                          # exp and iat are checked by _verify against the injected clock
                          options={"require": ["exp", "iat", "typ"], "verify_exp": False, "verify_iat": False})


def _at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
