"""Sign-in, sessions, customers' identities and the permission table, through the gateway."""

from __future__ import annotations

import time

import pytest

from services.gateway.auth.customers import identity_hmac
from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import Api, Stream, ws_url
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available

pytestmark = pytest.mark.e2e


async def test_refusals_leak_nothing(tenant, system):
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Private matter")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)

    anonymous = Api(system.gateway_url)
    forged = Api(system.gateway_url, "not.a.token")
    try:
        for api in (anonymous, forged):
            response = await api.get(f"/v1/conversations/{cid}")
            assert response.status_code == 401 and response.json()["detail"]["error"] == "not_signed_in"
        # bob works in the same tenant but has nothing to do with it: as if it did not exist
        for response in (await bob.get(f"/v1/conversations/{cid}"), await bob.get(f"/v1/conversations/{cid}/messages"),
                         await bob.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "b",
                                                                              "text": "hi"})):
            assert response.status_code == 404, response.text
            assert cid not in response.text and "alice" not in response.text
        unknown = await alice.get("/v1/conversations/no-such-conversation")
        assert unknown.status_code == 404 and unknown.json() == response.json()  # one fixed body for both
        # an agent is not an admin
        assert (await alice.post("/v1/admin/staff", {"user_id": "mallory", "password": "x" * 12})).status_code == 403
        # a customer's token opens its own conversation only
        other, other_started = await tenant.customer("support", "Someone else")
        peek = await customer.get(f"/v1/widget/conversations/{other_started['conversation_id']}/messages")
        assert peek.status_code == 404 and "Someone else" not in peek.text
        # a customer token is no staff token, and the reverse
        assert (await Api(system.gateway_url, started["conversation_token"]).get("/v1/agent/work")).status_code == 401
        assert (await Api(system.gateway_url, alice.token).get(
            f"/v1/widget/conversations/{cid}/messages")).status_code == 401
    finally:
        await anonymous.close()
        await forged.close()


async def test_another_tenant_sees_nothing(tenant, system):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    _, started = await tenant.customer("support", "Tenant A's secret")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)

    other_id = tenant.id + "-b"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        admin_b = await other.sign_in("admin")
        for response in (await admin_b.get(f"/v1/conversations/{cid}"),
                         await admin_b.post(f"/v1/conversations/{cid}/end")):
            assert response.status_code == 404 and "secret" not in response.text
        # same user name, other tenant: a different person
        assert (await admin_b.post("/v1/admin/staff", {"user_id": "alice", "password": PASSWORD})).status_code == 200
        alice_b = await other.sign_in("alice")
        assert (await alice_b.get(f"/v1/conversations/{cid}")).status_code == 404
        assert (await alice_b.get("/v1/agent/work")).json()["my"] == []
    finally:
        await other.close()


async def test_sign_out_and_refresh_rotation(tenant, system):
    alice = await tenant.agent("alice")
    desk = await tenant.stream(alice)
    rotated = await alice.post("/v1/auth/refresh", {"refresh_token": alice.refresh_token})
    assert rotated.status_code == 200, rotated.text
    fresh = Api(system.gateway_url, rotated.json()["access_token"])
    try:
        assert (await fresh.get("/v1/agent/work")).status_code == 200
        # the old refresh token comes back (a stolen copy): the whole sign-in ends
        replayed = await alice.post("/v1/auth/refresh", {"refresh_token": alice.refresh_token})
        assert replayed.status_code == 401
        assert (await fresh.get("/v1/agent/work")).status_code == 401
        assert (await alice.get("/v1/agent/work")).status_code == 401
        code, _ = await desk.wait_closed()
        assert code == 4401
        # signing out closes that session's socket at once
        again = await tenant.sign_in("alice")
        desk2 = await tenant.stream(again)
        assert (await again.post("/v1/auth/sign-out")).status_code == 204
        code, _ = await desk2.wait_closed()
        assert code == 4401
        assert (await again.get("/v1/agent/work")).status_code == 401
        assert (await again.post("/v1/auth/sign-in", {"tenant_id": tenant.id, "username": "alice",
                                                      "password": "wrong password"})).status_code == 401
    finally:
        await fresh.close()


async def test_a_deactivated_agent_is_cut_off_and_their_work_goes_to_a_colleague(tenant):
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk_a = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Help")
    cid = started["conversation_id"]
    await accept(alice, desk_a, cid)
    await tenant.queue("support", ["alice", "bob"])
    desk_b = await tenant.stream(bob)
    await available(bob)

    off = await tenant.admin.post("/v1/admin/staff/alice/deactivate")
    assert off.status_code == 200, off.text
    code, _ = await desk_a.wait_closed()
    assert code == 4401
    assert (await alice.get("/v1/agent/work")).status_code == 401
    assert (await alice.post("/v1/auth/sign-in", {"tenant_id": tenant.id, "username": "alice",
                                                  "password": "correct horse battery"})).status_code == 401
    await accept(bob, desk_b, cid)  # routing gave the conversation to the colleague
    refused = Stream(ws_url(tenant.system.gateway_url, "/v1/agent/stream", access_token=alice.token))
    await refused.open()
    assert (await refused.wait_closed())[0] == 4401


async def test_customers_anonymous_and_authenticated(tenant, system):
    await tenant.queue("support", [])
    first, started = await tenant.customer("support", "Hi", name=None)
    assert started["customer_name"].startswith("Visitor ")
    back, again = await tenant.customer("support", "Me again", visitor_token=started["visitor_token"])
    assert again["customer_name"] == started["customer_name"] and again["customer_id"] == started["customer_id"]
    tampered, other = await tenant.customer("support", "x", visitor_token=started["visitor_token"][:-2] + "xx")
    assert other["customer_name"] != started["customer_name"]

    secret = (await tenant.admin.post("/v1/admin/identity-secret")).json()["identity_secret"]
    expires = int(time.time()) + 600
    proof = {"user_id": "user-77", "expires_at": expires, "mac": identity_hmac(secret, "user-77", expires),
             "name": "Frank"}
    signed, known = await tenant.customer("support", "Hello", identity=proof)
    assert known["customer_id"] == "user-77" and known["customer_name"] == "Frank"
    widget = Api(system.gateway_url)
    try:
        expired = int(time.time()) - 1
        stale = {**proof, "expires_at": expired, "mac": identity_hmac(secret, "user-77", expired)}
        response = await widget.post(f"/v1/widget/{tenant.id}/conversations", {"queue_id": "support",
                                                                             "identity": stale})
        assert response.status_code == 401
        forged = {**proof, "user_id": "user-78"}
        response = await widget.post(f"/v1/widget/{tenant.id}/conversations", {"queue_id": "support",
                                                                             "identity": forged})
        assert response.status_code == 401
        unknown = await widget.post("/v1/widget/no-such-tenant/conversations", {"queue_id": "support"})
        assert unknown.status_code == 404
    finally:
        await widget.close()



async def test_the_identity_secret_rotates_with_a_grace_for_the_sites_servers(tenant, system):
    """The site keeps signing with the old secret while its servers switch; the admin then ends the grace."""
    await tenant.queue("support", [])
    widget = Api(system.gateway_url)

    async def start(secret: str, user_id: str) -> int:
        expires = int(time.time()) + 600
        identity = {"user_id": user_id, "expires_at": expires, "mac": identity_hmac(secret, user_id, expires)}
        return (await widget.post(f"/v1/widget/{tenant.id}/conversations",
                                  {"queue_id": "support", "identity": identity})).status_code

    try:
        status = (await tenant.admin.get("/v1/admin/identity-secret")).json()
        assert status == {"configured": False, "rotated_at": None, "previous_valid_until": []}
        old = (await tenant.admin.post("/v1/admin/identity-secret")).json()["identity_secret"]
        assert await start(old, "user-1") == 200
        rotated = (await tenant.admin.post("/v1/admin/identity-secret", {"previous_valid_s": 3600})).json()
        new = rotated["identity_secret"]
        assert new != old and len(rotated["previous_valid_until"]) == 1
        assert await start(old, "user-2") == 200  # a server not switched yet
        assert await start(new, "user-3") == 200
        status = (await tenant.admin.get("/v1/admin/identity-secret")).json()
        assert status["configured"] and status["rotated_at"] and status["previous_valid_until"]
        assert "identity_secret" not in status  # shown once, at the rotation

        ended = await tenant.admin.request("DELETE", "/v1/admin/identity-secret/previous")
        assert ended.status_code == 200 and ended.json()["previous_valid_until"] == []
        assert await start(old, "user-4") == 401
        assert await start(new, "user-5") == 200

        leaked = (await tenant.admin.post("/v1/admin/identity-secret", {"previous_valid_s": 0})).json()
        assert leaked["previous_valid_until"] == []
        assert await start(new, "user-6") == 401  # a leaked secret stops at once
        assert await start(leaked["identity_secret"], "user-7") == 200
        too_long = await tenant.admin.post("/v1/admin/identity-secret", {"previous_valid_s": 10**9})
        assert too_long.status_code == 422
        agent = await tenant.agent("rotating-agent")
        for method, path in (("GET", "/v1/admin/identity-secret"), ("POST", "/v1/admin/identity-secret"),
                             ("DELETE", "/v1/admin/identity-secret/previous")):
            assert (await agent.request(method, path)).status_code == 403, (method, path)
    finally:
        await widget.close()

async def test_password_change_and_a_supervisor_of_a_queue(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    await tenant.queue("sales", ["alice"])
    sue = await tenant.agent("sue", role="supervisor", supervises=["support"])
    desk = await tenant.stream(alice)
    await available(alice)
    _, in_support = await tenant.customer("support", "Question about support")
    await accept(alice, desk, in_support["conversation_id"])
    _, in_sales = await tenant.customer("sales", "Question about sales")
    await accept(alice, desk, in_sales["conversation_id"])
    watched = await sue.get(f"/v1/conversations/{in_support['conversation_id']}/messages")
    assert watched.status_code == 200 and "Question about support" in watched.text
    assert (await sue.get(f"/v1/conversations/{in_sales['conversation_id']}/messages")).status_code == 404
    moved = await tenant.admin.request("PATCH", "/v1/admin/staff/sue", {"supervises": ["sales"]})
    assert moved.status_code == 200, moved.text
    assert (await sue.get(f"/v1/conversations/{in_sales['conversation_id']}/messages")).status_code == 200

    wrong = await alice.post("/v1/auth/password", {"current_password": "not it", "new_password": "x" * 12})
    assert wrong.status_code == 403
    short = await alice.post("/v1/auth/password", {"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422
    changed = await alice.post("/v1/auth/password", {"current_password": PASSWORD,
                                                     "new_password": "a much better password"})
    assert changed.status_code == 204, changed.text
    assert (await alice.post("/v1/auth/sign-in", {"tenant_id": tenant.id, "username": "alice",
                                                  "password": PASSWORD})).status_code == 401
    await tenant.sign_in("alice", "a much better password")
