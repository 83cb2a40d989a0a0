"""Who the widget's customer is: a signed, tenant-bound visitor id that keeps "Visitor N" stable across
visits, and the tenant site's expiring HMAC that vouches for an authenticated customer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from services.gateway.auth.tokens import secret_bytes

VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # no ".", which separates the id from its mac
DEFAULT_MAX_IDENTITY_AHEAD_S = 24 * 3600
DEFAULT_PREVIOUS_VALID_S = 24 * 3600  # how long a rotated-out identity secret still signs, by default
MAX_PREVIOUS_SECRETS = 3  # rotated-out identity secrets kept at once (a retried rotation must not end a grace)


class InvalidVisitor(ValueError):
    """A visitor token that is malformed, tampered with, or signed for another tenant."""


class InvalidIdentityReason(StrEnum):
    MALFORMED = "malformed"
    BAD_MAC = "bad_mac"
    EXPIRED = "expired"
    TOO_FAR_AHEAD = "too_far_ahead"


class InvalidIdentity(ValueError):
    """An authenticated-customer proof was refused; `reason` is for logs, the widget gets a fixed answer."""

    def __init__(self, reason: InvalidIdentityReason) -> None:
        self.reason = reason
        super().__init__(str(reason))


# anonymous visitors


def new_visitor_id() -> str:
    """A fresh visitor id (128 random bits, URL-safe), for a widget that brings no valid visitor token."""
    return "v_" + secrets.token_urlsafe(16)


def keyed_visitor_id(secret: bytes | str, tenant_id: str, idempotency_key: str) -> str:
    """The visitor id of a first visit that sent this Idempotency-Key (so its retries are the same visitor).
    A MAC, not a plain hash, so the id says nothing of the key; like any idempotency key, it must be
    unguessable (a UUID): whoever repeats it gets the first answer."""
    message = f"keyed-visitor:{len(tenant_id)}:{tenant_id}:{idempotency_key}".encode()
    digest = hmac.new(secret_bytes(secret), message, hashlib.sha256).digest()
    return "k_" + base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _visitor_mac(key: bytes, tenant_id: str, visitor_id: str) -> str:
    # Length-prefixed tenant: no (tenant, id) pair spells another, whatever characters tenant ids use.
    message = f"visitor:{len(tenant_id)}:{tenant_id}:{visitor_id}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_visitor(secret: bytes | str, tenant_id: str, visitor_id: str) -> str:
    """`<visitor_id>.<mac>`: what the widget keeps (local storage) and shows again on its next visit."""
    if not VISITOR_ID.fullmatch(visitor_id):
        raise ValueError(f"a visitor id is 1-64 characters of A-Z a-z 0-9 _ - (got {visitor_id!r})")
    return f"{visitor_id}.{_visitor_mac(secret_bytes(secret), tenant_id, visitor_id)}"


def verify_visitor(secret: bytes | str, tenant_id: str, token: str) -> str:
    """The visitor id of a token signed for this tenant; InvalidVisitor otherwise (compared in constant time)."""
    key = secret_bytes(secret)
    visitor_id, dot, mac = token.rpartition(".") if isinstance(token, str) else ("", "", "")
    if not dot or not VISITOR_ID.fullmatch(visitor_id):
        raise InvalidVisitor("malformed visitor token")
    if not hmac.compare_digest(_visitor_mac(key, tenant_id, visitor_id).encode(), mac.encode()):
        raise InvalidVisitor("visitor token not signed for this tenant")
    return visitor_id


# authenticated customers


def new_identity_secret() -> str:
    """A tenant's identity secret (256 random bits, hex): given to the tenant's site, never to browsers."""
    return secrets.token_hex(32)


def identity_hmac(identity_secret: bytes | str, user_id: str, expires_at_unix: int) -> str:
    """Hex HMAC-SHA256 over f"{user_id}:{expires_at_unix}": what the tenant's server computes per page view.

    Unambiguous although a user id may contain ":": the expiry is an integer, so the last ":" splits.
    """
    if isinstance(expires_at_unix, bool) or not isinstance(expires_at_unix, int):
        raise TypeError(f"expires_at_unix must be an int (got {expires_at_unix!r})")
    message = f"{user_id}:{expires_at_unix}".encode()
    return hmac.new(secret_bytes(identity_secret, what="identity secret"), message, hashlib.sha256).hexdigest()


def verify_identity(identity_secret: bytes | str, user_id: str, expires_at_unix: int, mac: str, now: datetime, *,
                    max_ahead_s: int = DEFAULT_MAX_IDENTITY_AHEAD_S) -> None:
    """Accept a tenant site's proof that `user_id` is signed in, or raise InvalidIdentity(reason).

    The mac is checked first (constant time), then the expiry: `now` must be before `expires_at_unix`,
    which may lie at most `max_ahead_s` ahead, so a copied proof is replayable for a bounded time only
    (unlike Chatwoot's identifier_hash, which never expires: chatwoot/chatwoot#5479).
    """
    if (not isinstance(user_id, str) or not user_id or not isinstance(mac, str)
            or isinstance(expires_at_unix, bool) or not isinstance(expires_at_unix, int)):
        raise InvalidIdentity(InvalidIdentityReason.MALFORMED)
    expected = identity_hmac(identity_secret, user_id, expires_at_unix)
    if not hmac.compare_digest(expected.encode(), mac.strip().lower().encode()):
        raise InvalidIdentity(InvalidIdentityReason.BAD_MAC)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    now_unix = now.timestamp()
    if now_unix >= expires_at_unix:
        raise InvalidIdentity(InvalidIdentityReason.EXPIRED)
    if expires_at_unix > now_unix + max_ahead_s:
        raise InvalidIdentity(InvalidIdentityReason.TOO_FAR_AHEAD)


def verify_identity_any(identity_secrets: Sequence[bytes | str], user_id: str, expires_at_unix: int, mac: str,
                        now: datetime, *, max_ahead_s: int = DEFAULT_MAX_IDENTITY_AHEAD_S) -> None:
    """verify_identity against each secret in turn (the current one first, then those still in their grace):
    the first whose mac matches decides (expired, too far ahead or fine); none matching is BAD_MAC."""
    if not identity_secrets:
        raise InvalidIdentity(InvalidIdentityReason.BAD_MAC)
    for secret in identity_secrets:
        try:
            verify_identity(secret, user_id, expires_at_unix, mac, now, max_ahead_s=max_ahead_s)
            return
        except InvalidIdentity as refused:
            if refused.reason != InvalidIdentityReason.BAD_MAC:
                raise
    raise InvalidIdentity(InvalidIdentityReason.BAD_MAC)


# a tenant's identity secrets, as its record keeps them:
#   identity_secret: the current one; identity_rotated_at: when it was made;
#   identity_previous: [{"secret": ..., "until": datetime}] rotated-out ones that still sign until "until".


def valid_identity_secrets(tenant: Mapping[str, Any], now: datetime) -> list[str]:
    """The secrets a proof may be signed with now: the current one, then the previous ones still in their grace."""
    current = [tenant["identity_secret"]] if tenant.get("identity_secret") else []
    return current + [p["secret"] for p in tenant.get("identity_previous", ()) if _aware(p["until"]) > now]


def rotated_identity_secrets(tenant: Mapping[str, Any], new_secret: str, now: datetime,
                             previous_valid_s: int) -> dict[str, Any]:
    """The record's fields after a rotation: `new_secret` current; the one it replaces still signs for
    `previous_valid_s` (0: not at all, for a leaked secret), beside earlier ones whose grace has not ended (at
    most MAX_PREVIOUS_SECRETS, newest first, the oldest always kept). A rotation repeated because its answer
    was lost therefore does not end the grace of the secret the tenant's site still uses."""
    if previous_valid_s < 0:
        raise ValueError(f"previous_valid_s must be >= 0 (got {previous_valid_s})")
    previous = [p for p in tenant.get("identity_previous", ()) if _aware(p["until"]) > now]
    if previous_valid_s and tenant.get("identity_secret"):
        previous.insert(0, {"secret": tenant["identity_secret"], "until": now + timedelta(seconds=previous_valid_s)})
    elif not previous_valid_s:
        previous = []  # a leaked secret: every older one ends too
    if len(previous) > MAX_PREVIOUS_SECRETS:  # keep the oldest (what the site most likely still uses), newest
        previous = previous[:MAX_PREVIOUS_SECRETS - 1] + previous[-1:]
    return {"identity_secret": new_secret, "identity_rotated_at": now, "identity_previous": previous}


def _aware(at: datetime) -> datetime:
    """MongoDB hands datetimes back naive (UTC)."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
