"""Sentiment (C5) through the gateway: an angry customer message (scored by chat's real model, in its own
consumer group) alerts the conversation's agent (a `sentiment` frame, the alert on their session "<title>. Your
conversation urgently needs attention.") and the supervisor of its queue (a `sentiment_alert` frame), and the
active-conversation view's summary shows the level; another queue's supervisor hears nothing; only an admin sets
the tenant's threshold."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import accept, available, eventually, offer_for

pytestmark = pytest.mark.e2e
ANGRY = "This is absolutely unacceptable!!! Third time I'm writing, you charged me twice. Refund me NOW."


async def test_an_angry_customer_alerts_the_agent_and_the_queues_supervisor(tenant):
    sam = await tenant.agent("sam", role="supervisor", supervises=["support"])
    vera = await tenant.agent("vera", role="supervisor", supervises=["sales"])
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    await tenant.queue("sales", ["bob"])
    assert (await alice.put("/v1/admin/sentiment", {"threshold": "negative"})).status_code == 403
    assert (await tenant.admin.put("/v1/admin/sentiment", {"threshold": "slightly_negative"})).status_code == 200
    desk, watch, other = await tenant.stream(alice), await tenant.stream(sam), await tenant.stream(vera)
    await available(alice)

    customer, started = await tenant.customer("support", "Hi, I have a question about my bill")
    cid = started["conversation_id"]
    offer = await offer_for(desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})).status_code == 200
    # the first message was assessed while the conversation waited (no agent to tell): the view shows it
    calm = await desk.wait_for(lambda f: f["type"] == "view" and f["conversation_id"] == cid and f["section"]
                               == "summary" and f["data"]["sentiment"], 90, what="the first message's sentiment")
    assert calm["data"]["sentiment"]["alert"] is False
    assert calm["data"]["sentiment"]["level"] in ("neutral", "slightly_negative", "slightly_positive")

    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages", {"client_message_id": "m2", "text": ANGRY})
    assert sent.status_code == 200, sent.text
    sent = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                               {"client_message_id": "m3", "text": "I am furious. Worst service ever, I'm done."})
    assert sent.status_code == 200, sent.text
    alert = await desk.wait_for(lambda f: f["type"] == "sentiment" and f["conversation_id"] == cid and f["alert"],
                                60, what="the sentiment alert on alice's socket")
    assert alert["level"] in ("slightly_negative", "negative", "very_negative") and alert["queue_id"] == "support"
    to_sam = await watch.wait_for(lambda f: f["type"] == "sentiment_alert" and f["conversation_id"] == cid, 30,
                                  what="the alert on the supervisor's socket")
    assert to_sam["queue_id"] == "support" and to_sam["text"].endswith("Your conversation urgently needs attention.")
    session = await desk.wait_for(lambda f: f["type"] == "sessions" and any(
        s["id"] == f"conversation:{cid}" and s.get("alert") for s in f["sessions"]), 30,
        what="the alert on alice's session")
    (mine,) = [s for s in session["sessions"] if s["id"] == f"conversation:{cid}"]
    assert mine["alert"]["text"] == f"{mine['title']}. Your conversation urgently needs attention."

    view = await eventually(lambda: _view(alice, cid), lambda v: (v["summary"].get("sentiment") or {}).get("alert"),
                            "the level on the active view")
    assert view["summary"]["sentiment"]["level"] in ("slightly_negative", "negative", "very_negative")
    assert not any(f["type"] in ("sentiment", "sentiment_alert") for f in other.frames)  # not vera's queue


async def test_an_agent_who_takes_a_conversation_after_its_fall_gets_the_alert_on_the_session(tenant):
    """The fall alerted whoever had the conversation then; the agent it is transferred to opens its session
    with the alert too (the view's sentiment is at or below the threshold)."""
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice", "bob"])
    assert (await tenant.admin.put("/v1/admin/sentiment", {"threshold": "slightly_negative"})).status_code == 200
    desks = {"alice": await tenant.stream(alice), "bob": await tenant.stream(bob)}
    await available(alice)
    customer, started = await tenant.customer("support", ANGRY)
    cid = started["conversation_id"]
    await accept(alice, desks["alice"], cid)
    await desks["alice"].wait_for(lambda f: f["type"] == "sessions" and any(
        s["id"] == f"conversation:{cid}" and s.get("alert") for s in f["sessions"]), 90,
        what="the alert on alice's session")

    await available(bob)
    moved = await alice.post(f"/v1/conversations/{cid}/transfer", {"to_agent_id": "bob", "reason": "escalation"})
    assert moved.status_code == 200, moved.text
    await accept(bob, desks["bob"], cid)
    session = await desks["bob"].wait_for(lambda f: f["type"] == "sessions" and any(
        s["id"] == f"conversation:{cid}" for s in f["sessions"]), 30, what="bob's session of it")
    (his,) = [s for s in session["sessions"] if s["id"] == f"conversation:{cid}"]
    assert his["alert"] and his["alert"]["text"] == f"{his['title']}. Your conversation urgently needs attention."


async def _view(api, cid: str) -> dict:
    response = await api.get(f"/v1/conversations/{cid}/view")
    assert response.status_code == 200, response.text
    return response.json()
