"""The agent's sessions panel (G3) through the gateway: a conversation's session opens on accepting its offer,
unread counts shown "9+" past 9, drafts kept across a reload (a new client and socket), focus sends the read
receipts, closing asks for confirmation and wraps up; at most 10 sessions: an 11th offer is refused and stays."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.helpers import available, eventually, offer_for

pytestmark = pytest.mark.e2e


def session_of(panel: dict, cid: str) -> dict | None:
    return next((s for s in panel["sessions"] if s["id"] == f"conversation:{cid}"), None)


async def test_unread_drafts_across_a_reload_focus_and_the_close_confirmation(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"], wrap_up_required=True)
    assert (await tenant.admin.put("/v1/admin/wrap-up-reasons", {"reasons": [
        {"code": "resolved", "label": "Resolved"}]})).status_code == 200
    desk = await tenant.stream(alice)
    await available(alice)
    home = (await alice.get("/v1/agent/sessions")).json()
    assert [s["id"] for s in home["sessions"]] == ["home"] and home["focused"] == "home"
    assert (await alice.post("/v1/agent/sessions/home/close", {"confirm": True})).status_code == 409

    customer, started = await tenant.customer("support", "Hello, I need help")
    cid, sid = started["conversation_id"], f"conversation:{started['conversation_id']}"
    offer = await offer_for(desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})).status_code == 200
    panel = await eventually(lambda: _panel(alice), lambda p: session_of(p, cid) is not None, "the session opened")
    session = session_of(panel, cid)
    assert session["title"].startswith("Visitor ") and session["icon"] == "VI", session

    for n in range(10):
        sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                   {"client_message_id": f"m{n}", "text": f"Are you there? ({n})"})
        assert sent.status_code == 200, sent.text
    frame = await desk.wait_for(lambda f: f["type"] == "sessions" and (session_of(f, cid) or {}).get(
        "unread_display") == "9+", what="the session's unread count past 9")
    assert session_of(frame, cid)["unread"] >= 10

    draft = {"composer": "Dear customer, about your order", "edits": {"case.title": "Order 1234 missing"}}
    assert (await alice.put(f"/v1/agent/sessions/{sid}/draft", {"draft": draft})).status_code == 200
    too_big = await alice.put(f"/v1/agent/sessions/{sid}/draft", {"draft": "x" * 70_000})
    assert too_big.status_code == 413, too_big.text

    # a reload, or a second device: a new client and socket see the same panel and the draft
    again = await tenant.sign_in("alice")
    desk2 = await tenant.stream(again)
    reloaded = await _panel(again)
    assert session_of(reloaded, cid)["has_draft"] is True and session_of(reloaded, cid)["unread_display"] == "9+"
    focused = await again.post(f"/v1/agent/sessions/{sid}/focus")
    assert focused.status_code == 200 and focused.json()["draft"] == draft, focused.text
    # focusing sent the read receipts: chat's unread count for alice comes back as 0, on both devices
    for socket in (desk, desk2):
        await socket.wait_for(lambda f: f["type"] == "sessions" and f["focused"] == sid
                              and session_of(f, cid)["unread"] == 0, what="unread 0 after focus")

    refused = await alice.post(f"/v1/agent/sessions/{sid}/close", {})
    assert refused.status_code == 409, refused.text
    assert sorted(loss["what"] for loss in refused.json()["detail"]["losses"]) == ["conversation", "draft"]
    no_reason = await alice.post(f"/v1/agent/sessions/{sid}/close", {"confirm": True})
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required", no_reason.text
    assert session_of(await _panel(alice), cid) is not None  # still open: the wrap-up was refused
    closed = await alice.post(f"/v1/agent/sessions/{sid}/close",
                              {"confirm": True, "wrap_up": {"reason_code": "resolved"}})
    assert closed.status_code == 200, closed.text
    assert [s["id"] for s in closed.json()["sessions"]] == ["home"]
    await desk2.wait_for(lambda f: f["type"] == "conversation_closed" and f["conversation_id"] == cid)
    await desk2.wait_for(lambda f: f["type"] == "sessions" and session_of(f, cid) is None, what="closed there too")
    assert (await again.get(f"/v1/agent/sessions/{sid}")).status_code == 404


async def _with_sessions(tenant, accepted: int, conversations: int):
    """Alice with `accepted` conversations' sessions open, and the rest of `conversations` started for her."""
    alice = await tenant.agent("alice", capacity=conversations)
    await tenant.queue("support", ["alice"], offer_timeout_s=300)
    desk = await tenant.stream(alice)
    await available(alice)
    cids = [(await tenant.customer("support", f"Question {n}"))[1]["conversation_id"] for n in range(conversations)]
    for cid in cids[:accepted]:
        offer = await offer_for(desk, cid, timeout_s=60)
        response = await alice.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})
        assert response.status_code == 200, response.text
    await eventually(lambda: _panel(alice), lambda p: len(p["sessions"]) == accepted + 1,
                     f"{accepted} sessions besides Home")
    return alice, desk, cids


async def test_an_eleventh_offer_is_refused_while_ten_sessions_are_open_and_stays(tenant):
    alice, desk, cids = await _with_sessions(tenant, 10, 11)

    last = cids[10]
    offer = await offer_for(desk, last, timeout_s=60)
    refused = await alice.post(f"/v1/conversations/{last}/accept", {"offer_id": offer["offer_id"]})
    assert refused.status_code == 409 and refused.json()["code"] == "session_limit", refused.text
    assert "10 sessions are open" in refused.json()["reason"]
    mine = {w["conversation_id"]: w for w in (await alice.get("/v1/agent/work")).json()["my"]}
    assert mine[last]["offer_id"] == offer["offer_id"] and mine[last]["state"] != "active"  # the offer stays
    assert not any(f["type"] == "offer_withdrawn" and f["conversation_id"] == last for f in desk.frames)

    first = f"conversation:{cids[0]}"
    closed = await alice.post(f"/v1/agent/sessions/{first}/close", {"confirm": True})
    assert closed.status_code == 200, closed.text
    taken = await alice.post(f"/v1/conversations/{last}/accept", {"offer_id": offer["offer_id"]})
    assert taken.status_code == 200, taken.text
    panel = await eventually(lambda: _panel(alice), lambda p: session_of(p, last) is not None, "the 11th's session")
    assert session_of(panel, cids[0]) is None and len(panel["sessions"]) == 11


async def _mine(api) -> dict:
    response = await api.get("/v1/agent/work")
    assert response.status_code == 200, response.text
    return {w["conversation_id"]: w for w in response.json()["my"]}


async def _panel(api) -> dict:
    response = await api.get("/v1/agent/sessions")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_contact_session_opened_by_hand_follows_the_contacts_name(tenant):
    alice = await tenant.agent("alice")
    desk = await tenant.stream(alice)
    created = await alice.post("/v1/contacts", {"full_name": "Jānis Bērziņš"})
    assert created.status_code == 200, created.text
    contact = created.json()["result_id"]
    assert (await alice.post("/v1/agent/sessions", {"kind": "contact", "id": "nobody"})).status_code == 404
    opened = await eventually(lambda: alice.post("/v1/agent/sessions", {"kind": "contact", "id": contact}),
                              lambda r: r.status_code == 200, "the contact's session opened")
    assert (opened.json()["id"], opened.json()["title"], opened.json()["icon"]) == (
        f"contact:{contact}", "Jānis Bērziņš", "JĀ")
    renamed = await alice.patch(f"/v1/contacts/{contact}", {"version": 1, "full_name": "Anna Kalniņa"})
    assert renamed.status_code == 200, renamed.text
    frame = await desk.wait_for(lambda f: f["type"] == "sessions" and any(
        s["id"] == f"contact:{contact}" and s["title"] == "Anna Kalniņa" for s in f["sessions"]),
        what="the session retitled")
    assert frame["focused"] == f"contact:{contact}"
    assert (await alice.post(f"/v1/agent/sessions/contact:{contact}/close", {})).status_code == 200  # nothing lost


async def test_two_accepts_at_once_with_nine_sessions_open_one_is_refused_and_its_offer_stays(tenant):
    """Each accept holds a slot of the panel before its command goes to routing, so the second of two at once
    is refused 409 rather than both accepted and an 11th conversation left without a session."""
    alice, desk, cids = await _with_sessions(tenant, 9, 11)
    offers = [await offer_for(desk, cid, timeout_s=60) for cid in cids[9:]]
    answers = await asyncio.gather(*(alice.post(f"/v1/conversations/{o['conversation_id']}/accept",
                                                {"offer_id": o["offer_id"]}) for o in offers))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["code"] == "session_limit", refused.text
    taken, left = (cids[9], cids[10]) if answers[0].status_code == 200 else (cids[10], cids[9])
    panel = await eventually(lambda: _panel(alice), lambda p: session_of(p, taken) is not None, "the taken one's")
    assert len(panel["sessions"]) == 11 and session_of(panel, left) is None
    mine = await eventually(lambda: _mine(alice), lambda m: m[taken]["state"] == "active", "the taken one active")
    assert mine[left]["state"] != "active"  # the refused offer stays
    assert mine[left]["offer_id"] == next(o["offer_id"] for o in offers if o["conversation_id"] == left)

    first = f"conversation:{cids[0]}"  # a slot freed: the refused offer can be accepted now
    assert (await alice.post(f"/v1/agent/sessions/{first}/close", {"confirm": True})).status_code == 200
    again = await alice.post(f"/v1/conversations/{left}/accept", {"offer_id": mine[left]["offer_id"]})
    assert again.status_code == 200, again.text
    await eventually(lambda: _panel(alice), lambda p: session_of(p, left) is not None, "the second's session")
