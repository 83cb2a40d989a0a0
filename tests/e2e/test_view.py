"""The active-conversation view (G4) through the gateway, with the whole system running: filled from a real
conversation (summary, context tabs, customer card, linked case, recent cases, timeline); live `view` frames
when another agent edits the linked case and when an admin renames the contact; exact after a gateway
instance is killed mid-projection; gone once the conversation is closed, and a late event brings nothing
back; staff only."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from services.gateway import rebuild as rebuild_view
from tests.e2e.helpers import accept, answered, available, eventually

pytestmark = pytest.mark.e2e


async def _view(agent, cid: str, **params) -> dict:
    response = await agent.get(f"/v1/conversations/{cid}/view", **params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_view_is_filled_from_the_conversation_and_follows_edits_live(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    assert (await tenant.admin.post("/v1/accounts", {"account_id": "acme", "name": "Acme"})).status_code == 200
    assert (await tenant.admin.post("/v1/contacts", {"contact_id": "ann", "full_name": "Ann Lindqvist",
                                                     "email": "ann@example.com", "account_id": "acme"})
            ).status_code == 200
    now = datetime.now(UTC)
    widget, started = await tenant.customer(
        "support", "My invoice is wrong", prechat={"Order number": "A-1001"},
        visitor={"browser": "Firefox 140", "os": "Linux", "language": "lv"}, variables={"plan": "gold"},
        trail=[{"kind": "page_visited", "title": "Billing FAQ", "at": (now - timedelta(minutes=4)).isoformat()},
               {"kind": "phrase_searched", "title": "wrong invoice", "at": (now - timedelta(minutes=2)).isoformat()}])
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "ann"})).status_code == 200
    # no case yet: the view's quick notes are the contact's
    assert (await alice.post("/v1/contacts/ann/notes", {"text": "Prefers e-mail"})).status_code == 200
    await eventually(lambda: _view(alice, cid), lambda v: v["quick_notes"]["kind"] == "contact" and [
        n["detail"] for n in v["quick_notes"]["entries"]] == ["Prefers e-mail"], "the contact's note in the view")
    opened = await alice.post("/v1/cases", {"title": "Invoice wrong", "conversation_id": cid})
    case_id = opened.json()["result_id"]
    await desk.wait_for(lambda f: f["type"] == "view" and f["section"] == "case" and f["conversation_id"] == cid,
                        what="the view's case section")

    view = await eventually(lambda: _view(alice, cid), lambda v: v["customer"]["contact_id"] == "ann"
                            and v["customer"]["account_id"] == "acme" and v["case"] and
                            v["case"].get("case_id") == case_id, "the view with customer and case")
    summary, context = view["summary"], view["context"]
    assert (summary["channel"], summary["queue_id"], summary["state"], summary["agents"]) == ("chat", "support",
                                                                                            "active", ["alice"])
    assert summary["waited_s"] is not None and summary["started_at"] and summary["customer_messages"] == 1
    assert [t["title"] for t in context["trail"]] == ["wrong invoice", "Billing FAQ"]
    assert context["prechat"] == {"Order number": "A-1001"} and context["variables"] == {"plan": "gold"}
    assert context["visitor"] == {"browser": "Firefox 140", "os": "Linux", "language": "lv"}
    card = view["customer"]
    assert card["contact"]["email"] == "ann@example.com" and card["account"]["name"] == "Acme"
    assert card["name"] == "Ann Lindqvist" and card["company"] == "Acme"
    assert (view["case"]["version"], view["case"]["allowed_statuses"][0]) == (1, "active")
    assert [c["case_id"] for c in view["recent_cases"]] == [case_id]
    assert view["timeline"]["kind"] == "case" and view["timeline"]["record_id"] == case_id
    assert view["quick_notes"]["kind"] == "case" and view["quick_notes"]["entries"] == []

    # quick notes: the linked case's, newest first, without the timeline's other entries or the contact's notes
    for text in ("Refund asked", "Refund approved"):
        assert (await alice.post(f"/v1/cases/{case_id}/notes", {"text": text})).status_code == 200
    view = await eventually(lambda: _view(alice, cid), lambda v: len(v["quick_notes"]["entries"]) == 2,
                            "the case's two quick notes in the view")
    assert [n["detail"] for n in view["quick_notes"]["entries"]] == ["Refund approved", "Refund asked"]
    assert {n["kind"] for n in view["quick_notes"]["entries"]} == {"quick_note"}
    assert len({t["kind"] for t in view["timeline"]["entries"]}) > 1  # the timeline still has everything
    contact_notes = await alice.get("/v1/contacts/ann/timeline", only="quick_note")
    assert contact_notes.status_code == 200, contact_notes.text
    assert [n["detail"] for n in contact_notes.json()["entries"]] == ["Prefers e-mail"]

    # another agent edits the linked case: alice's desk is told, and the view reads the new title
    edited = await bob.patch(f"/v1/cases/{case_id}", {"version": 1, "title": "Invoice 1001 wrong",
                                                      "status": "active"})
    assert edited.status_code == 200, edited.text
    frame = await desk.wait_for(lambda f: f["type"] == "view" and f["section"] == "case"
                                and f["data"].get("title") == "Invoice 1001 wrong", what="the case edit, live")
    assert frame["data"]["status"] == "active" and frame["data"]["version"] == 2
    assert (await _view(alice, cid))["case"]["title"] == "Invoice 1001 wrong"
    renamed = await tenant.admin.patch("/v1/contacts/ann", {"version": 1, "full_name": "Ann Lind"})
    assert renamed.status_code == 200, renamed.text
    await desk.wait_for(lambda f: f["type"] == "view" and f["section"] == "customer"
                        and f["data"]["name"] == "Ann Lind", what="the contact's new name, live")

    # a customer's message moves the summary
    assert (await widget.post(f"/v1/widget/conversations/{cid}/messages",
                              {"client_message_id": "m2", "text": "Any news?"})).status_code == 200
    await desk.wait_for(lambda f: f["type"] == "view" and f["section"] == "summary"
                        and f["data"]["customer_messages"] == 2, what="the summary after a customer message")

    # the summary's skills, edited where the queue lets agents (routing decides)
    changed = await alice.patch(f"/v1/conversations/{cid}/skills", {"add": {"latvian": 2}})
    assert changed.status_code == 200, changed.text
    await desk.wait_for(lambda f: f["type"] == "view" and f["section"] == "summary"
                        and f["data"]["skills"] == {"latvian": 2}, what="the new skills in the summary")
    assert (await bob.patch(f"/v1/conversations/{cid}/skills", {"add": {"x": 1}})).status_code in (403, 404)

    # staff only; not for an agent with no relation to it
    assert (await widget.get(f"/v1/conversations/{cid}/view")).status_code in (401, 403, 404)
    assert (await bob.get(f"/v1/conversations/{cid}/view")).status_code in (403, 404)

    # closed: no view, and a late event (a case edit) brings nothing back
    assert (await alice.post(f"/v1/conversations/{cid}/end", {})).status_code == 200
    await answered(alice, f"/v1/conversations/{cid}/wrap-up", {})
    await eventually(lambda: alice.get(f"/v1/conversations/{cid}/view"), lambda r: r.status_code == 404,
                     "the view gone after close")
    assert (await bob.patch(f"/v1/cases/{case_id}", {"version": 2, "priority": "urgent"})).status_code == 200
    await eventually(lambda: bob.get(f"/v1/cases/{case_id}"), lambda r: r.json()["version"] == 3, "the edit")
    assert (await alice.get(f"/v1/conversations/{cid}/view")).status_code == 404


async def test_the_view_is_exact_after_a_gateway_instance_is_killed_mid_projection(tenant, system):
    gateway_b, _ = system.extra_instance("gateway", "b")  # takes half of the partitions of every topic
    try:
        alice = await tenant.agent("alice")
        await tenant.queue("support", ["alice"])
        desk = await tenant.stream(alice)
        await available(alice)
        widget, started = await tenant.customer("support", "first")
        cid = started["conversation_id"]
        await accept(alice, desk, cid)
        for n in range(30):
            if n == 10:
                gateway_b.kill()  # SIGKILL while it projects: what it had not committed is handled again
            # a patient client: a 504 while the group moves the dead instance's partitions is followed by its
            # answer_url
            answer = await answered(widget, f"/v1/widget/conversations/{cid}/messages",
                                    {"client_message_id": f"m{n}", "text": f"message {n}"})
            assert answer["status"] == "accepted", answer
        view = await eventually(lambda: _view(alice, cid), lambda v: v["summary"]["customer_messages"] >= 31,
                                "every customer message counted", timeout_s=60)
        assert view["summary"]["customer_messages"] == 31  # none twice
    finally:
        gateway_b.stop()


async def test_a_damaged_view_is_found_and_rebuilt_from_the_topics(tenant, system):
    """The operator's rebuild (services/gateway/rebuild.py) against the running system: a view that agrees with
    the topics is left alone; a view damaged in the database, and one deleted, are found and written again."""
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    assert (await tenant.admin.post("/v1/contacts", {"contact_id": "ann", "full_name": "Ann Lindqvist"})
            ).status_code == 200
    widget, started = await tenant.customer("support", "My invoice is wrong", prechat={"Order": "$100 A-1001"})
    cid = started["conversation_id"]
    await accept(alice, desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/link", {"contact_id": "ann"})).status_code == 200
    case_id = (await alice.post("/v1/cases", {"title": "Invoice wrong", "conversation_id": cid})).json()["result_id"]
    _, other = await tenant.customer("support", "Second question")
    await accept(alice, desk, other["conversation_id"])
    good = await eventually(lambda: _view(alice, cid), lambda v: v["customer"]["contact_id"] == "ann"
                            and (v["case"] or {}).get("case_id") == case_id, "the view with contact and case")
    await eventually(lambda: _view(alice, other["conversation_id"]), lambda v: v["summary"]["state"] == "active",
                     "the second view")

    async def rebuild(apply: bool) -> tuple[int, str]:
        out = io.StringIO()
        status = await rebuild_view.run(system.kafka_bootstrap, system.mongo_url, "gateway", tenant_id=tenant.id,
                                        apply=apply, out=out)
        return status, out.getvalue()

    status, report = await rebuild(apply=False)
    assert status == 0 and "2 same, 0 differ, 0 missing" in report, report

    client = AsyncMongoClient(system.mongo_url, tz_aware=True)
    try:
        views = client["gateway"]["active_views"]
        damaged = await views.update_one({"_id": f"{tenant.id}:{cid}"}, {"$set": {
            "summary.customer_messages": 999, "context.prechat": {}, "customer.name": "Somebody else"}})
        assert damaged.modified_count == 1
        assert (await views.delete_one({"_id": f"{tenant.id}:{other['conversation_id']}"})).deleted_count == 1
    finally:
        await client.close()
    assert (await alice.get(f"/v1/conversations/{other['conversation_id']}/view")).status_code == 404

    status, report = await rebuild(apply=False)
    assert status == 1, report
    assert f"differs  {tenant.id}:{cid}: summary, context, customer" in report, report
    assert f"missing  {tenant.id}:{other['conversation_id']}" in report, report
    status, report = await rebuild(apply=True)
    assert status == 0 and "applied: 2 repaired, 0 changed meanwhile" in report, report

    repaired = await _view(alice, cid)
    for section in ("summary", "context", "customer", "case"):
        assert {k: v for k, v in repaired[section].items() if k not in ("contact", "account", "allowed_statuses")} \
            == {k: v for k, v in good[section].items() if k not in ("contact", "account", "allowed_statuses")}, section
    assert repaired["context"]["prechat"] == {"Order": "$100 A-1001"}
    assert (await _view(alice, other["conversation_id"]))["summary"]["state"] == "active"
    status, report = await rebuild(apply=False)
    assert status == 0 and "2 same, 0 differ, 0 missing" in report, report
