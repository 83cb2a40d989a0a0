"""Agents' work through the gateway: transfer, conference, RONA, persistent chat, proactive chat."""

from __future__ import annotations

import pytest

from shared.testing.system import Api
from tests.e2e.helpers import accept, available, first_offered, message, offer_for

pytestmark = pytest.mark.e2e


async def test_transfer_to_an_agent_and_then_to_a_queue(tenant):
    alice, bob, carol = await tenant.agent("alice"), await tenant.agent("bob"), await tenant.agent("carol")
    await tenant.queue("support", ["alice"])
    await tenant.queue("billing", ["carol"])
    desks = {name: await tenant.stream(api) for name, api in (("alice", alice), ("bob", bob), ("carol", carol))}
    for agent in (alice, bob, carol):
        await available(agent)
    customer, started = await tenant.customer("support", "Wrong invoice")
    cid = started["conversation_id"]
    await accept(alice, desks["alice"], cid)

    to_bob = await alice.post(f"/v1/conversations/{cid}/transfer", {"to_agent_id": "bob", "reason": "billing expert"})
    assert to_bob.status_code == 200, to_bob.text
    await desks["alice"].wait_for(lambda f: f["type"] == "transferred_away" and f["conversation_id"] == cid)
    await accept(bob, desks["bob"], cid)
    # alice no longer works it: she may not write in it
    assert (await alice.post(f"/v1/conversations/{cid}/messages",
                             {"client_message_id": "x", "text": "still here?"})).status_code in (403, 404)

    to_queue = await bob.post(f"/v1/conversations/{cid}/transfer", {"to_queue_id": "billing"})
    assert to_queue.status_code == 200, to_queue.text
    await accept(carol, desks["carol"], cid)
    sent = await carol.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "c1", "text": "Carol here"})
    assert sent.status_code == 200, sent.text
    widget = await tenant.customer_stream(started, after=0)
    await widget.wait_for(message("Carol here"))


async def test_conference_with_a_colleague(tenant):
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice"])
    desk_a, desk_b = await tenant.stream(alice), await tenant.stream(bob)
    await available(alice)
    await available(bob)
    customer, started = await tenant.customer("support", "Complicated question")
    cid = started["conversation_id"]
    await accept(alice, desk_a, cid)
    invited = await alice.post(f"/v1/conversations/{cid}/conference/invite", {"agent_id": "bob"})
    assert invited.status_code == 200, invited.text
    await desk_b.wait_for(lambda f: f["type"] == "conference_invite" and f["conversation_id"] == cid)
    joined = await bob.post(f"/v1/conversations/{cid}/conference/accept")
    assert joined.status_code == 200, joined.text
    await desk_b.wait_for(lambda f: f["type"] == "conversation_state" and "bob" in f.get("agents", []))

    assert (await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "q", "text": "Both of you?"})).status_code == 200
    await desk_a.wait_for(message("Both of you?"))
    await desk_b.wait_for(message("Both of you?"))
    assert (await bob.post(f"/v1/conversations/{cid}/messages",
                           {"client_message_id": "b1", "text": "Yes, I am the expert"})).status_code == 200
    await desk_a.wait_for(message("Yes, I am the expert"))
    left = await bob.post(f"/v1/conversations/{cid}/conference/leave")
    assert left.status_code == 200, left.text
    await desk_a.wait_for(lambda f: f["type"] == "conversation_state" and f.get("agents") == ["alice"])


async def test_an_unanswered_offer_goes_to_the_next_agent(tenant):
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice", "bob"], offer_timeout_s=2)
    desk_a, desk_b = await tenant.stream(alice), await tenant.stream(bob)
    await available(alice)
    await available(bob)
    _, started = await tenant.customer("support", "Anyone there?")
    cid = started["conversation_id"]
    first = await first_offered([desk_a, desk_b], cid)
    other = desk_b if first is desk_a else desk_a
    await first.wait_for(lambda f: f["type"] == "offer_withdrawn" and f["conversation_id"] == cid, 15,
                         what="the expired offer withdrawn")
    await offer_for(other, cid, timeout_s=15)
    await first.wait_for(lambda f: f["type"] == "presence" and f["presence"] == "rona", 15, what="RONA presence")


async def test_persistent_chat_returns_to_the_same_agent(tenant):
    alice, bob = await tenant.agent("alice"), await tenant.agent("bob")
    await tenant.queue("support", ["alice", "bob"], persistent=True)
    desk_a, desk_b = await tenant.stream(alice), await tenant.stream(bob)
    await available(alice)
    await available(bob)
    customer, started = await tenant.customer("support", "Order status?")
    cid = started["conversation_id"]
    desk = await first_offered([desk_a, desk_b], cid)
    agent = alice if desk is desk_a else bob
    await accept(agent, desk, cid)
    parked = await agent.post(f"/v1/conversations/{cid}/close-to-waiting")
    assert parked.status_code == 200, parked.text
    await desk.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "waiting")
    again = await customer.post(f"/v1/widget/conversations/{cid}/messages",
                                {"client_message_id": "later", "text": "Any news?"})
    assert again.status_code == 200, again.text
    await desk.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "active"
                        and f["conversation_id"] == cid and f["previous"] != "active", what="back to the same agent")
    await desk.wait_for(message("Any news?"))


async def test_proactive_chat_started_by_an_agent(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    started = await alice.post("/v1/conversations/proactive", {
        "queue_id": "support", "customer": {"customer_id": "cust-9", "name": "Erin"},
        "message": "Hello Erin, can I help you with your order?"})
    assert started.status_code == 200, started.text
    cid = started.json()["conversation_id"]
    await desk.wait_for(lambda f: f["type"] == "conversation_state" and f["conversation_id"] == cid
                        and f["state"] == "active")
    widget = await tenant.customer_stream({"conversation_token": started.json()["customer_token"]}, after=0)
    await widget.wait_for(message("Hello Erin, can I help you with your order?"))
    customer = Api(tenant.system.gateway_url, started.json()["customer_token"])
    try:
        reply = await customer.post(f"/v1/widget/conversations/{cid}/messages", {"client_message_id": "r",
                                                                               "text": "Yes please"})
        assert reply.status_code == 200, reply.text
        await desk.wait_for(message("Yes please"))
    finally:
        await customer.close()
