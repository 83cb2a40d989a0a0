"""The widget's customers: signed visitor ids bound to a tenant, and the tenant site's expiring identity HMAC."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.auth.customers import (
    MAX_PREVIOUS_SECRETS,
    InvalidIdentity,
    InvalidIdentityReason,
    InvalidVisitor,
    identity_hmac,
    new_identity_secret,
    new_visitor_id,
    rotated_identity_secrets,
    sign_visitor,
    valid_identity_secrets,
    verify_identity,
    verify_identity_any,
    verify_visitor,
)

pytestmark = pytest.mark.unit

SECRET = b"k" * 32
IDENTITY_SECRET = "i" * 64
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW_UNIX = int(NOW.timestamp())


# visitors


def test_visitor_round_trip_keeps_the_same_id():
    visitor_id = new_visitor_id()
    token = sign_visitor(SECRET, "t-1", visitor_id)
    assert token.startswith(visitor_id + ".")
    assert verify_visitor(SECRET, "t-1", token) == visitor_id
    assert sign_visitor(SECRET, "t-1", visitor_id) == token  # stable: the same visitor signs the same


def test_new_visitor_ids_are_random_and_signable():
    ids = {new_visitor_id() for _ in range(1000)}
    assert len(ids) == 1000
    for visitor_id in list(ids)[:20]:
        assert verify_visitor(SECRET, "t", sign_visitor(SECRET, "t", visitor_id)) == visitor_id


def test_a_visitor_token_of_another_tenant_is_refused():
    token = sign_visitor(SECRET, "t-1", "v_abc")
    with pytest.raises(InvalidVisitor):
        verify_visitor(SECRET, "t-2", token)


def test_another_secret_is_refused():
    with pytest.raises(InvalidVisitor):
        verify_visitor(b"o" * 32, "t-1", sign_visitor(SECRET, "t-1", "v_abc"))


@pytest.mark.parametrize("tamper", [
    lambda t: "v_abd" + t[5:],  # another visitor's id, same mac
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # mac changed
    lambda t: t + "x",
    lambda t: t.split(".")[0],  # mac dropped
    lambda t: "." + t.split(".")[1],  # id dropped
    lambda t: t.replace(".", ".."),
    lambda t: "",
    lambda t: "v_abc.é",
])
def test_a_tampered_visitor_token_is_refused(tamper):
    token = sign_visitor(SECRET, "t-1", "v_abc")
    with pytest.raises(InvalidVisitor):
        verify_visitor(SECRET, "t-1", tamper(token))


@pytest.mark.parametrize("visitor_id", ["", "a.b", "a b", "x" * 65, "é"])
def test_only_plain_visitor_ids_are_signed(visitor_id):
    with pytest.raises(ValueError):
        sign_visitor(SECRET, "t-1", visitor_id)


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        sign_visitor(b"short", "t-1", "v_abc")


# authenticated customers


def site_mac(user_id: str, expires_at: int, secret: str = IDENTITY_SECRET) -> str:
    """What a tenant's server computes, written independently of the code under test."""
    return hmac.new(secret.encode(), f"{user_id}:{expires_at}".encode(), hashlib.sha256).hexdigest()


def refused(*args, **kwargs) -> InvalidIdentityReason:
    with pytest.raises(InvalidIdentity) as error:
        verify_identity(*args, **kwargs)
    return error.value.reason


def test_identity_hmac_is_the_documented_hex_hmac():
    assert identity_hmac(IDENTITY_SECRET, "user-42", NOW_UNIX + 300) == site_mac("user-42", NOW_UNIX + 300)


def test_a_fresh_identity_is_accepted_upper_or_lower_case():
    mac = site_mac("user-42", NOW_UNIX + 300)
    verify_identity(IDENTITY_SECRET, "user-42", NOW_UNIX + 300, mac, NOW)
    verify_identity(IDENTITY_SECRET, "user-42", NOW_UNIX + 300, mac.upper(), NOW)


def test_a_replayed_identity_is_refused_once_expired():
    expires_at = NOW_UNIX + 300
    mac = site_mac("user-42", expires_at)
    verify_identity(IDENTITY_SECRET, "user-42", expires_at, mac, NOW)
    # The same proof, copied and shown again later: refused (Chatwoot's identifier_hash would pass).
    assert refused(IDENTITY_SECRET, "user-42", expires_at, mac, NOW + timedelta(seconds=300)) == "expired"
    assert refused(IDENTITY_SECRET, "user-42", expires_at, mac, NOW + timedelta(days=30)) == "expired"


def test_the_expiry_cannot_be_moved_without_the_secret():
    mac = site_mac("user-42", NOW_UNIX - 1)  # expired proof; the attacker bumps the expiry
    assert refused(IDENTITY_SECRET, "user-42", NOW_UNIX + 300, mac, NOW) == "bad_mac"


def test_an_identity_too_far_ahead_is_refused():
    ahead = NOW_UNIX + 24 * 3600
    verify_identity(IDENTITY_SECRET, "u", ahead, site_mac("u", ahead), NOW)  # exactly the bound
    assert refused(IDENTITY_SECRET, "u", ahead + 1, site_mac("u", ahead + 1), NOW) == "too_far_ahead"
    far = NOW_UNIX + 3600
    assert refused(IDENTITY_SECRET, "u", far, site_mac("u", far), NOW, max_ahead_s=600) == "too_far_ahead"


def test_a_wrong_mac_is_refused():
    expires_at = NOW_UNIX + 300
    assert refused(IDENTITY_SECRET, "user-43", expires_at, site_mac("user-42", expires_at), NOW) == "bad_mac"
    assert refused(IDENTITY_SECRET, "user-42", expires_at, site_mac("user-42", expires_at, "j" * 64), NOW) == "bad_mac"
    assert refused(IDENTITY_SECRET, "user-42", expires_at, "", NOW) == "bad_mac"
    assert refused(IDENTITY_SECRET, "user-42", expires_at, "é" * 64, NOW) == "bad_mac"


def test_a_user_id_with_colons_cannot_borrow_another_proof():
    # "a:1" expiring at 2 signs "a:1:2"; so would "a" expiring at "1:2", which is no integer.
    mac = site_mac("a:1", NOW_UNIX + 300)
    verify_identity(IDENTITY_SECRET, "a:1", NOW_UNIX + 300, mac, NOW)
    assert refused(IDENTITY_SECRET, "a", NOW_UNIX + 300, mac, NOW) == "bad_mac"


@pytest.mark.parametrize("user_id,expires_at,mac", [
    ("", NOW_UNIX + 300, "00"), ("u", str(NOW_UNIX + 300), "00"), ("u", float(NOW_UNIX + 300), "00"),
    ("u", True, "00"), (None, NOW_UNIX + 300, "00"), ("u", NOW_UNIX + 300, None),
])
def test_malformed_identity_input_is_refused(user_id, expires_at, mac):
    assert refused(IDENTITY_SECRET, user_id, expires_at, mac, NOW) == "malformed"


def test_new_identity_secrets_are_long_and_random():
    secrets_ = {new_identity_secret() for _ in range(100)}
    assert len(secrets_) == 100 and all(len(s) == 64 for s in secrets_)


def test_the_readme_test_vector_is_right():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[3] / "services" / "gateway" / "README.md").read_text()
    assert 'identity_hmac("example-identity-secret-0123456789abcdef", "user-42", 1767225600)' in readme
    expected = identity_hmac("example-identity-secret-0123456789abcdef", "user-42", 1767225600)
    assert f'== "{expected}"' in readme


# rotating the identity secret


def proof(secret: str, user_id: str = "user-42", expires_at: int = NOW_UNIX + 300) -> tuple:
    return user_id, expires_at, identity_hmac(secret, user_id, expires_at)


def test_a_rotated_out_secret_still_signs_during_its_grace_then_stops():
    old, new = "o" * 64, "n" * 64
    tenant = {"identity_secret": old}
    tenant |= rotated_identity_secrets(tenant, new, NOW, previous_valid_s=3600)
    assert valid_identity_secrets(tenant, NOW) == [new, old]
    verify_identity_any(valid_identity_secrets(tenant, NOW), *proof(new), NOW)
    verify_identity_any(valid_identity_secrets(tenant, NOW), *proof(old), NOW)  # the site not switched yet
    later = NOW + timedelta(seconds=3600)
    assert valid_identity_secrets(tenant, later) == [new]
    with pytest.raises(InvalidIdentity) as refused:
        verify_identity_any(valid_identity_secrets(tenant, later), *proof(old, expires_at=NOW_UNIX + 3900), later)
    assert refused.value.reason == InvalidIdentityReason.BAD_MAC


def test_after_a_leak_the_old_secret_and_every_earlier_one_stop_at_once():
    tenant = {"identity_secret": "a" * 64}
    tenant |= rotated_identity_secrets(tenant, "b" * 64, NOW, previous_valid_s=3600)
    tenant |= rotated_identity_secrets(tenant, "c" * 64, NOW, previous_valid_s=0)
    assert valid_identity_secrets(tenant, NOW) == ["c" * 64]


def test_a_repeated_rotation_keeps_the_sites_secret_in_its_grace():
    tenant = {"identity_secret": "site" * 16}
    for n in range(5):  # the admin's client retried: the site still signs with the first secret
        tenant |= rotated_identity_secrets(tenant, f"{n}" * 64, NOW + timedelta(seconds=n), previous_valid_s=600)
    assert valid_identity_secrets(tenant, NOW + timedelta(seconds=5)) == ["4" * 64, "3" * 64, "2" * 64, "site" * 16]
    assert len(tenant["identity_previous"]) == MAX_PREVIOUS_SECRETS  # bounded, the oldest kept


def test_a_matching_but_expired_proof_is_expired_whichever_secret_signed_it():
    tenant = {"identity_secret": "o" * 64}
    tenant |= rotated_identity_secrets(tenant, "n" * 64, NOW, previous_valid_s=3600)
    with pytest.raises(InvalidIdentity) as refused:
        verify_identity_any(valid_identity_secrets(tenant, NOW), *proof("o" * 64, expires_at=NOW_UNIX - 1), NOW)
    assert refused.value.reason == InvalidIdentityReason.EXPIRED


def test_no_secret_signs_nothing():
    assert valid_identity_secrets({}, NOW) == []
    with pytest.raises(InvalidIdentity):
        verify_identity_any([], *proof("x" * 64), NOW)
