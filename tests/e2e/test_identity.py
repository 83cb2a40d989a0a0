"""U5 through the gateway: an agent links a visitor's chat to a contact created from it; the agent's desk shows the
contact's name, the work list and the line's users show name and company, a rename of the contact follows; an
unknown contact, a bad body, an agent not on the conversation and another tenant are refused."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available, eventually

pytestmark = pytest.mark.e2e


async def test_a_visitors_chat_is_linked_to_a_contact_created_from_it(tenant, system):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    company = await tenant.admin.post("/v1/accounts", {"account_id": "horns", "name": "Roga i Kopyta"})
    assert company.status_code == 200, company.text
    _, started = await tenant.customer("support", "My parcel is late")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    visitor = (await alice.get("/v1/agent/work")).json()["my"][0]["customer_name"]
    assert visitor.startswith("Visitor ")

    unknown = await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "nobody"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found", unknown.text
    bad = await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "k1", "account_id": "horns"})
    assert bad.status_code == 422 and "exactly one" in bad.text, bad.text
    nameless = await alice.post(f"/v1/conversations/{cid}/link", {"create": {"position": "CTO"}})
    assert nameless.status_code == 422 and "full_name" in nameless.json()["reason"], nameless.text
    not_his = await bob.post(f"/v1/conversations/{cid}/link", {"account_id": "horns"})
    assert not_his.status_code in (403, 404), not_his.text

    linked = await alice.post(f"/v1/conversations/{cid}/link", {"create": {
        "full_name": "Jānis Bērziņš", "email": "janis@example.lv", "account_id": "horns"}})
    assert linked.status_code == 200, linked.text
    contact_id = linked.json()["result_id"]
    frame = await desk.wait_for(lambda f: f["type"] == "customer_identified" and f["conversation_id"] == cid,
                                what="the desk told the customer's new name")
    assert (frame["customer_name"], frame["contact_id"]) == ("Jānis Bērziņš", contact_id)
    assert (await alice.get(f"/v1/contacts/{contact_id}")).json()["email"] == "janis@example.lv"
    mine = (await alice.get("/v1/agent/work")).json()["my"]
    assert [(w["conversation_id"], w["customer_name"]) for w in mine] == [(cid, "Jānis Bērziņš")]
    assert (await alice.get(f"/v1/conversations/{cid}")).json()["contact_id"] == contact_id

    def rows() -> Awaitable[Any]:
        return alice.get("/v1/lines/support/users")

    listed = await eventually(rows, lambda r: [(u["name"], u["company"]) for u in r.json()["rows"]] == [
        ("Jānis Bērziņš", "Roga i Kopyta")], "the line's row shows the contact and its company")
    assert listed.json()["rows"][0]["status"] == "online"
    await desk.wait_for(lambda f: f["type"] == "line_user" and f["company"] == "Roga i Kopyta",
                        what="the row's change, live")

    renamed = await tenant.admin.patch("/v1/accounts/horns", {"version": 1, "name": "Horns and Hooves"})
    assert renamed.status_code == 200, renamed.text
    await eventually(rows, lambda r: r.json()["rows"][0]["company"] == "Horns and Hooves", "the account renamed")

    other_id = f"t-{uuid.uuid4().hex[:10]}"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        their_admin = await other.sign_in("admin")
        foreign = await their_admin.post(f"/v1/conversations/{cid}/link", {"create": {"full_name": "Mallory"}})
        assert foreign.status_code == 404, foreign.text
    finally:
        await other.close()
    assert (await alice.get("/v1/lines/support/users")).json()["rows"][0]["name"] == "Jānis Bērziņš"
