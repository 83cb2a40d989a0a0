"""Contacts and accounts through the gateway (U1, U2): create, read, edit inline with a version, search by
each field, bad input refused with the reason, another tenant's contact not found."""

from __future__ import annotations

import uuid

import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available

pytestmark = pytest.mark.e2e


async def test_staff_create_edit_and_find_contacts_and_accounts(tenant):
    alice = await tenant.agent("alice")
    account = await tenant.admin.post("/v1/accounts", {"account_id": "horns", "name": "Roga i Kopyta",
                                                       "tax_id": "7707083893", "country": "RU",
                                                       "support_parameters": {"plan": "gold"}})
    assert account.status_code == 200 and account.json()["result_id"] == "horns", account.text
    refused = await alice.post("/v1/accounts", {"name": "Agents may not"})
    assert refused.status_code == 403, refused.text

    created = await alice.post("/v1/contacts", {"full_name": "Jānis Bērziņš", "email": "Janis@Example.LV",
                                                "phone": "29 123 456", "region": "LV", "login_id": "janis",
                                                "account_id": "horns"})
    assert created.status_code == 200, created.text
    cid = created.json()["result_id"]
    got = (await alice.get(f"/v1/contacts/{cid}")).json()
    assert (got["email"], got["phone"], got["version"]) == ("Janis@example.lv", "+37129123456", 1)

    edited = await alice.patch(f"/v1/contacts/{cid}", {"version": 1, "position": "CTO", "clear": ["region"]})
    assert edited.status_code == 200, edited.text
    stale = await alice.patch(f"/v1/contacts/{cid}", {"version": 1, "department": "IT"})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict", stale.text
    got = (await alice.get(f"/v1/contacts/{cid}")).json()
    assert (got["position"], got["region"], got["department"], got["version"]) == ("CTO", None, None, 2)

    for q, kind, matched in (("berzins", "contact", "name"), ("JĀN", "contact", "name_prefix"),
                             ("janis", "contact", "login_id"), ("janis@example.lv", "contact", "email"),
                             ("+371 29 123 456", "contact", "phone"), ("kopyta", "account", "name"),
                             ("7707083893", "account", "tax_id")):
        hits = (await alice.get("/v1/customers/search", q=q)).json()["hits"]
        assert hits and (hits[0]["kind"], hits[0]["matched"]) == (kind, matched), (q, hits)
        assert hits[0]["id"] == (cid if kind == "contact" else "horns")


async def test_bad_input_is_refused_with_the_reason_and_other_tenants_see_nothing(tenant, system):
    alice = await tenant.agent("alice")
    for body, field in (({"full_name": "X", "email": "not-an-address"}, "email"),
                        ({"full_name": "X", "phone": "12"}, "phone"),
                        ({"email": "a@b.lv"}, "full_name")):
        refused = await alice.post("/v1/contacts", body)
        assert refused.status_code == 422 and field in refused.json()["reason"], refused.text
    unknown_field = await alice.post("/v1/contacts", {"full_name": "X", "shoe_size": 44})
    assert unknown_field.status_code == 422, unknown_field.text
    bad_tax = await tenant.admin.post("/v1/accounts", {"name": "Y", "tax_id": "7707083894", "country": "RU"})
    assert bad_tax.status_code == 422 and "tax id" in bad_tax.json()["reason"], bad_tax.text

    created = await alice.post("/v1/contacts", {"full_name": "Anna Kalniņa", "email": "anna@example.com"})
    cid = created.json()["result_id"]
    twice = await alice.post("/v1/contacts", {"full_name": "Anna Again", "email": "anna@example.com"})
    assert twice.status_code == 409 and "already" in twice.json()["reason"], twice.text

    other_id = f"t-{uuid.uuid4().hex[:10]}"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        their_admin = await other.sign_in("admin")
        assert (await their_admin.get(f"/v1/contacts/{cid}")).status_code == 404
        assert (await their_admin.get("/v1/customers/search", q="anna")).json()["hits"] == []
        assert (await their_admin.patch(f"/v1/contacts/{cid}", {"version": 1, "position": "x"})).status_code == 404
    finally:
        await other.close()


async def test_the_users_of_a_line_follow_their_chats_live(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    _, started = await tenant.customer("support", "Where is my parcel?", name="Dana")
    cid = started["conversation_id"]
    row = await desk.wait_for(lambda f: f["type"] == "line_user" and f["name"] == "Dana"
                              and f["preview"] == "Where is my parcel?", what="Dana's row, live")
    assert row["line_id"] == "support" and row["status"] == "online"
    await accept(alice, desk, cid)
    await desk.wait_for(lambda f: f["type"] == "line_user" and f["open_with"] == ["alice"], what="open with alice")

    listed = (await alice.get("/v1/lines/support/users")).json()
    (dana,) = listed["rows"]
    assert (dana["name"], dana["status"], dana["open_with_me"], dana["preview"]) == (
        "Dana", "online", True, "Where is my parcel?")
    assert not listed["streaming"] and listed["line_size"] == 1
    assert (await bob.get("/v1/lines/support/users")).status_code == 404  # not his line
    assert (await tenant.admin.get("/v1/lines/support/users")).status_code == 200

    tied = await alice.put(f"/v1/agent/users/{dana['customer_id']}", {"favourite": True})
    assert tied.status_code == 200, tied.text
    assert (await alice.get("/v1/lines/support/users")).json()["rows"][0]["favourite"]
    assert (await alice.put("/v1/agent/relevance-window", {"days": 5})).status_code == 422
    assert (await alice.put("/v1/agent/relevance-window", {"days": 30})).status_code == 200
    connected = await tenant.admin.post("/v1/lines/support/users", {"customer_id": "vip-1", "name": "Big Client"})
    assert connected.status_code == 200, connected.text
    names = [r["name"] for r in (await alice.get("/v1/lines/support/users")).json()["rows"]]
    assert names == ["Dana", "Big Client"]  # one who never wrote comes last
