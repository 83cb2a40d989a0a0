"""Tokens: access and customer JWT round trips, expiry on an injected clock, tampering, wrong secret,
wrong typ, algorithm confusion, malformed input; opaque refresh tokens stored as a hash."""

import base64
import hashlib
import json
import warnings
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from services.gateway.auth.permissions import Role
from services.gateway.auth.tokens import (
    AccessClaims,
    CustomerClaims,
    InvalidToken,
    InvalidTokenReason,
    TokenService,
    hash_refresh,
)

pytestmark = pytest.mark.unit

SECRET = b"s" * 32
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(clock):
    return TokenService(SECRET, clock=clock)


def access(service: TokenService, **overrides) -> str:
    claims = dict(user_id="u-1", tenant_id="t-1", role=Role.AGENT, session_id="s-1") | overrides
    return service.issue_access(**claims)


def payload_of(token: str) -> dict:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def forge(claims: dict, key: bytes = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short keys in the forgeries below
        return jwt.encode(claims, key, algorithm=algorithm)


def reason(call) -> InvalidTokenReason:
    with pytest.raises(InvalidToken) as refused:
        call()
    return refused.value.reason


# access tokens


def test_access_round_trip_and_exact_claims(service):
    token = access(service, role="supervisor")
    assert payload_of(token) == {"sub": "u-1", "tid": "t-1", "role": "supervisor", "sid": "s-1", "typ": "access",
                                 "iat": int(T0.timestamp()), "exp": int(T0.timestamp()) + 900}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert service.verify_access(token) == AccessClaims(
        user_id="u-1", tenant_id="t-1", role=Role.SUPERVISOR, session_id="s-1",
        issued_at=T0, expires_at=T0 + timedelta(seconds=900))


def test_access_expires_after_its_ttl_on_the_injected_clock(service, clock):
    token = access(service)
    clock.advance(899)
    assert service.verify_access(token).user_id == "u-1"
    clock.advance(1)
    assert reason(lambda: service.verify_access(token)) == InvalidTokenReason.EXPIRED


def test_ttls_are_configurable(clock):
    service = TokenService(SECRET, access_ttl_s=60, customer_ttl_s=120, clock=clock)
    token, customer = access(service), service.issue_customer(customer_id="c", tenant_id="t", conversation_id="k")
    clock.advance(60)
    assert reason(lambda: service.verify_access(token)) == InvalidTokenReason.EXPIRED
    assert service.verify_customer(customer).conversation_id == "k"
    clock.advance(60)
    assert reason(lambda: service.verify_customer(customer)) == InvalidTokenReason.EXPIRED


def test_a_token_signed_with_another_secret_is_a_bad_signature(service, clock):
    other = TokenService(b"o" * 32, clock=clock)
    assert reason(lambda: service.verify_access(access(other))) == InvalidTokenReason.BAD_SIGNATURE


def test_during_a_rotation_tokens_of_the_previous_secret_still_verify_and_new_ones_use_the_new(clock):
    old = TokenService(SECRET, clock=clock)
    rotating = TokenService(b"n" * 32, previous=SECRET, clock=clock)
    before = access(old)
    assert rotating.verify_access(before).user_id == payload_of(before)["sub"]
    after = access(rotating)
    assert reason(lambda: old.verify_access(after)) == InvalidTokenReason.BAD_SIGNATURE  # signed with the new one
    rotated = TokenService(b"n" * 32, clock=clock)  # the previous secret removed: its tokens end
    assert reason(lambda: rotated.verify_access(before)) == InvalidTokenReason.BAD_SIGNATURE
    assert rotated.verify_access(after)
    stranger = TokenService(b"o" * 32, clock=clock)
    assert reason(lambda: rotating.verify_access(access(stranger))) == InvalidTokenReason.BAD_SIGNATURE
    clock.advance(3600)
    assert reason(lambda: rotating.verify_access(before)) == InvalidTokenReason.EXPIRED  # lifetimes still hold


@pytest.mark.parametrize("field,value", [("role", "admin"), ("tid", "t-2"), ("sub", "u-2"), ("exp", 9_999_999_999)])
def test_a_tampered_payload_is_a_bad_signature(service, field, value):
    header, _, signature = access(service).split(".")
    claims = payload_of(access(service)) | {field: value}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert reason(lambda: service.verify_access(f"{header}.{body}.{signature}")) == InvalidTokenReason.BAD_SIGNATURE


def test_alg_none_and_other_algorithms_are_refused(service):
    claims = payload_of(access(service))
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert reason(lambda: service.verify_access(unsigned)) == InvalidTokenReason.BAD_SIGNATURE
    hs512 = forge(claims, algorithm="HS512")  # our own secret, but not the algorithm we accept
    assert reason(lambda: service.verify_access(hs512)) == InvalidTokenReason.BAD_SIGNATURE


def test_a_customer_token_is_no_access_token_and_the_reverse(service):
    customer = service.issue_customer(customer_id="c-1", tenant_id="t-1", conversation_id="k-1")
    assert reason(lambda: service.verify_access(customer)) == InvalidTokenReason.WRONG_TYPE
    assert reason(lambda: service.verify_customer(access(service))) == InvalidTokenReason.WRONG_TYPE


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "x" * 500, "eyJhbGciOiJIUzI1NiJ9.e30", None])
def test_garbage_is_malformed(service, token):
    assert reason(lambda: service.verify_access(token)) == InvalidTokenReason.MALFORMED


@pytest.mark.parametrize("drop", ["sub", "tid", "role", "sid", "iat", "exp", "typ"])
def test_every_claim_is_required(service, drop):
    claims = payload_of(access(service))
    del claims[drop]
    assert reason(lambda: service.verify_access(forge(claims))) == InvalidTokenReason.MALFORMED


@pytest.mark.parametrize("field,value", [("role", "customer"), ("role", "root"), ("sub", 7), ("tid", ""),
                                         ("exp", "tomorrow"), ("iat", 1.5), ("sid", ["s"])])
def test_claims_of_the_wrong_shape_are_malformed(service, field, value):
    claims = payload_of(access(service)) | {field: value}
    assert reason(lambda: service.verify_access(forge(claims))) == InvalidTokenReason.MALFORMED


def test_access_tokens_are_for_staff_roles_only(service):
    with pytest.raises(ValueError, match="issue_customer"):
        access(service, role=Role.CUSTOMER)
    with pytest.raises(ValueError):
        access(service, role="root")
    with pytest.raises(ValueError, match="non-empty"):
        access(service, tenant_id="")


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenService("too short")
    assert TokenService("x" * 32)  # str secrets are fine


def test_invalid_token_carries_its_reason_for_logs():
    error = InvalidToken(InvalidTokenReason.EXPIRED)
    assert error.reason == "expired" and str(error) == "expired"


# customer tokens


def test_customer_round_trip_is_scoped_to_one_conversation(service):
    token = service.issue_customer(customer_id="c-1", tenant_id="t-1", conversation_id="k-1")
    assert payload_of(token) == {"sub": "c-1", "tid": "t-1", "cid": "k-1", "typ": "customer",
                                 "iat": int(T0.timestamp()), "exp": int(T0.timestamp()) + 24 * 3600}
    assert service.verify_customer(token) == CustomerClaims(
        customer_id="c-1", tenant_id="t-1", conversation_id="k-1", issued_at=T0, expires_at=T0 + timedelta(hours=24))


def test_customer_token_lives_24_hours_by_default(service, clock):
    token = service.issue_customer(customer_id="c-1", tenant_id="t-1", conversation_id="k-1")
    clock.advance(24 * 3600 - 1)
    service.verify_customer(token)
    clock.advance(1)
    assert reason(lambda: service.verify_customer(token)) == InvalidTokenReason.EXPIRED


def test_customer_token_needs_its_conversation(service):
    claims = payload_of(service.issue_customer(customer_id="c-1", tenant_id="t-1", conversation_id="k-1"))
    del claims["cid"]
    assert reason(lambda: service.verify_customer(forge(claims))) == InvalidTokenReason.MALFORMED


# refresh tokens


def test_refresh_tokens_are_opaque_random_and_stored_as_sha256(service, clock):
    token, token_hash, expires_at = service.new_refresh()
    assert token.count(".") == 0 and len(token) >= 43  # 32 random bytes, URL-safe; no JWT
    assert token_hash == hashlib.sha256(token.encode()).hexdigest() == hash_refresh(token)
    assert token_hash != token
    assert expires_at == T0 + timedelta(days=30)
    assert len({service.new_refresh().token for _ in range(100)}) == 100


def test_expiry_follows_the_injected_clock_not_the_machine_clock():
    past = Clock(datetime(2001, 1, 1, tzinfo=UTC))  # long expired by the machine's clock
    service = TokenService(SECRET, clock=past)
    assert service.verify_access(access(service)).issued_at == past.now
    now = Clock(datetime.now(UTC))  # valid by the machine's clock, expired by the injected one
    fresh = access(TokenService(SECRET, clock=now))
    now.advance(3600)
    assert reason(lambda: TokenService(SECRET, clock=now).verify_access(fresh)) == InvalidTokenReason.EXPIRED
