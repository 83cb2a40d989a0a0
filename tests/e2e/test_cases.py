"""Cases (K1) and service requests (K3) through the gateway, with the whole system running: a case opened from
a conversation takes its customer and is linked to it (the desk is told); the customer's next conversation
gets its single active case linked automatically; two editors of one version: one 409 with the current
version; numbers unique under concurrent opens; search by number, title and customer; recent cases; quick
notes; a service request from the chat; another tenant sees nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.gateway.settings import GatewaySettings
from services.gateway.tenants import create_tenant
from shared.testing.system import Api
from shared.testing.tenants import PASSWORD, Tenant
from tests.e2e.helpers import accept, available, eventually
from tests.e2e.test_offline import closed_now

pytestmark = pytest.mark.e2e


async def test_a_case_from_a_conversation_is_linked_then_the_next_conversation_gets_it_automatically(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    made = await tenant.admin.post("/v1/contacts", {"contact_id": "ann", "full_name": "Ann Lindqvist"})
    assert made.status_code == 200, made.text
    widget, started = await tenant.customer("support", "My printer jams on every page")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    linked = await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "ann"})
    assert linked.status_code == 200, linked.text

    opened = await alice.post("/v1/cases", {"title": "Printer jams", "priority": "high", "conversation_id": cid})
    assert opened.status_code == 200, opened.text
    case_id = opened.json()["result_id"]
    frame = await desk.wait_for(lambda f: f["type"] == "case_linked" and f["conversation_id"] == cid,
                                what="the desk told of the linked case")
    assert frame["case_id"] == case_id and frame["automatic"] is False
    case = (await alice.get(f"/v1/cases/{case_id}")).json()
    assert (case["contact_id"], case["conversations"], case["status"], case["priority"], case["origin"]) == (
        "ann", [cid], "new", "high", "conversation")
    assert case["number"].startswith("CAS-") and case["allowed_statuses"] == ["active", "on_hold", "resolved",
                                                                                "cancelled"]
    assert (await alice.get(f"/v1/conversations/{cid}/case")).json()["case_id"] == case_id

    # the same visitor comes back: cases knows it is Ann, and Ann has exactly one active case
    _, again = await tenant.customer("support", "It jams again", visitor_token=started["visitor_token"])
    cid2 = again["conversation_id"]

    async def case_of_second() -> object:
        response = await alice.get(f"/v1/conversations/{cid2}/case")
        return response.json().get("case_id") if response.status_code == 200 else None
    assert await eventually(case_of_second, lambda c: c is not None, "the second conversation's case") == case_id
    after = (await alice.get(f"/v1/cases/{case_id}")).json()
    assert after["conversations"] == [cid, cid2] and after["version"] == 1

    recent = (await alice.get("/v1/contacts/ann/cases")).json()["hits"]
    assert [h["case_id"] for h in recent] == [case_id]
    for q in (case["number"], case["number"].removeprefix("CAS-").lstrip("0"), "printer", "jams", "lindq"):
        hits = (await alice.get("/v1/cases", q=q)).json()["hits"]
        assert [h["case_id"] for h in hits] == [case_id], (q, hits)

    # K3: a service request from the chat, moved along
    sr = await alice.post(f"/v1/conversations/{cid}/service-requests", {"title": "Replace the roller"})
    assert sr.status_code == 200, sr.text
    sr_id = sr.json()["result_id"]
    listed = (await alice.get(f"/v1/conversations/{cid}/service-requests")).json()["items"]
    assert [(i["service_request_id"], i["contact_id"], i["status"]) for i in listed] == [(sr_id, "ann",
                                                                                        "registered")]
    moved = await alice.patch(f"/v1/service-requests/{sr_id}", {"status": "in_progress", "version": 1})
    assert moved.status_code == 200, moved.text
    stale = await alice.patch(f"/v1/service-requests/{sr_id}", {"status": "done", "version": 1})
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict", stale.text

    note = await alice.post(f"/v1/cases/{case_id}/notes", {"text": "Customer has a spare roller"})
    assert note.status_code == 200, note.text
    assert (await alice.post("/v1/contacts/nobody/notes", {"text": "x"})).status_code == 404


async def test_two_editors_of_one_version_one_409_and_numbers_unique_under_concurrency(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    opened = await asyncio.gather(*(alice.post("/v1/cases", {"title": f"Case {i}"}) for i in range(12)))
    assert all(r.status_code == 200 for r in opened), [r.text for r in opened]
    ids = [r.json()["result_id"] for r in opened]
    numbers = [(await alice.get(f"/v1/cases/{i}")).json()["number"] for i in ids]
    assert len(set(numbers)) == 12 and sorted(numbers) == [f"CAS-{n:06d}" for n in range(1, 13)]

    first, second = await asyncio.gather(
        alice.patch(f"/v1/cases/{ids[0]}", {"version": 1, "priority": "urgent"}),
        bob.patch(f"/v1/cases/{ids[0]}", {"version": 1, "title": "Bob's title"}))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "version_conflict" and "at version 2" in loser.json()["reason"], loser.text
    final = (await alice.get(f"/v1/cases/{ids[0]}")).json()
    assert final["version"] == 2

    bad = await alice.patch(f"/v1/cases/{ids[1]}", {"version": 1, "status": "resolved"})
    assert bad.status_code == 200, bad.text
    refused = await alice.patch(f"/v1/cases/{ids[1]}", {"version": 2, "status": "on_hold"})
    assert refused.status_code == 409 and refused.json()["code"] == "invalid_state", refused.text
    unknown = await alice.post("/v1/cases", {"title": "x", "contact_id": "nobody"})
    assert unknown.status_code == 422 and "contact nobody" in unknown.text, unknown.text
    empty = await alice.post("/v1/cases", {"title": ""})
    assert empty.status_code == 422, empty.text


async def test_another_tenant_sees_none_of_it(tenant, system):
    alice = await tenant.agent("alice")
    opened = await alice.post("/v1/cases", {"title": "Secret"})
    case_id = opened.json()["result_id"]
    other_id = f"t-{uuid.uuid4().hex[:10]}"
    assert await create_tenant(GatewaySettings(mongo_url=system.mongo_url, argon2_time_cost=1,
                                               argon2_memory_kib=8192), other_id, "admin", PASSWORD)
    other = Tenant(system, other_id)
    try:
        them = await other.sign_in("admin")
        assert (await them.get(f"/v1/cases/{case_id}")).status_code == 404
        edit = await them.patch(f"/v1/cases/{case_id}", {"version": 1, "title": "Mine now"})
        assert edit.status_code == 404, edit.text
        assert (await them.get("/v1/cases", q="secret")).json()["hits"] == []
        assert (await them.post(f"/v1/cases/{case_id}/notes", {"text": "x"})).status_code == 404
    finally:
        await other.close()
    assert (await alice.get(f"/v1/cases/{case_id}")).json()["title"] == "Secret"


async def test_an_offline_message_becomes_a_case_with_its_text(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"], operating_hours=closed_now())
    widget = Api(tenant.system.gateway_url)
    try:
        left = await widget.post(f"/v1/widget/{tenant.id}/offline-messages", {
            "queue_id": "support", "name": "Dana", "text": "Please call me back about my card 4111 1111 1111 1111"})
    finally:
        await widget.close()
    assert left.status_code == 200, left.text
    cid = left.json()["conversation_id"]

    async def its_case() -> object:
        response = await alice.get(f"/v1/conversations/{cid}/case")
        return response.json().get("case_id") if response.status_code == 200 else None
    case_id = await eventually(its_case, lambda c: c is not None, "the offline message's case")

    async def described() -> dict:
        return (await alice.get(f"/v1/cases/{case_id}")).json()
    case = await eventually(described, lambda c: c.get("description"), "the case described by the message")
    assert (case["title"], case["origin"], case["conversations"]) == ("Offline message from Dana",
                                                                       "offline_message", [cid])
    # the text as chat published it: masked where it entered (C4)
    assert case["description"].startswith("Please call me back about my card *") and "4111" not in case["description"]
    hits = (await alice.get("/v1/cases", q="offline dana")).json()["hits"]
    assert [h["case_id"] for h in hits] == [case_id]


async def test_the_timeline_of_a_whole_conversation_on_the_case_and_the_contact(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    await tenant.queue("billing", ["bob"])
    desk, bob_desk = await tenant.stream(alice), await tenant.stream(bob)
    await available(alice)
    await available(bob)
    assert (await tenant.admin.post("/v1/contacts", {"contact_id": "eve", "full_name": "Eve Ozola"})
            ).status_code == 200
    _, started = await tenant.customer("support", "I was charged twice")
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "eve"})).status_code == 200
    case_id = (await alice.post("/v1/cases", {"title": "Double charge", "conversation_id": cid})).json()["result_id"]
    assert (await alice.post(f"/v1/cases/{case_id}/notes", {"text": "Refund approved"})).status_code == 200
    moved = await alice.post(f"/v1/conversations/{cid}/transfer", {"to_queue_id": "billing", "reason": "billing"})
    assert moved.status_code == 200, moved.text
    await accept(bob, bob_desk, cid)
    assert (await bob.post(f"/v1/conversations/{cid}/end", {})).status_code == 200
    assert (await bob.post(f"/v1/conversations/{cid}/wrap-up", {})).status_code == 200

    wanted = ["conversation_started", "conversation_assigned", "case_opened", "case_linked", "quick_note",
              "conversation_transferred", "conversation_assigned", "conversation_ended"]

    async def kinds(path: str) -> list[str]:
        response = await alice.get(path, limit=50)
        assert response.status_code == 200, response.text
        return [e["kind"] for e in reversed(response.json()["entries"])]  # oldest first
    on_case = await eventually(lambda: kinds(f"/v1/cases/{case_id}/timeline"),
                               lambda k: all(w in k for w in set(wanted)) and k.count("conversation_assigned") == 2,
                               "the case's timeline of the whole conversation", timeout_s=30)
    assert on_case[0] == "conversation_started" and on_case[-1] == "conversation_ended", on_case
    on_contact = await kinds("/v1/contacts/eve/timeline")
    assert "conversation_started" in on_contact and "conversation_ended" in on_contact, on_contact
    first = (await alice.get(f"/v1/cases/{case_id}/timeline", limit=2)).json()
    older = (await alice.get(f"/v1/cases/{case_id}/timeline", limit=50, cursor=first["next_cursor"])).json()
    assert len(first["entries"]) == 2 and len(older["entries"]) == len(on_case) - 2
    assert (await alice.get(f"/v1/cases/{case_id}/timeline", cursor="forged")).status_code == 422
    assert (await alice.get("/v1/contacts/nobody/timeline")).status_code == 404
