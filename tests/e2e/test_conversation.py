"""A customer and an agent hold a conversation through the gateway only: HTTP and WebSockets."""

from __future__ import annotations

import pytest

from shared.testing.system import Api
from tests.e2e.helpers import accept, available, message

pytestmark = pytest.mark.e2e


async def test_a_customer_and_an_agent_talk_and_the_agent_wraps_up(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"], wrap_up_required=True)
    assert (await tenant.admin.put("/v1/admin/wrap-up-reasons", {"reasons": [
        {"code": "resolved", "label": "Resolved"}]})).status_code == 200
    desk = await tenant.stream(alice)
    assert (await alice.put("/v1/agent/presence", {"presence": "available"})).status_code == 200

    customer, started = await tenant.customer("support", "My order 1234 has not arrived",
                                              prechat={"Order number": "1234"}, name="Dana")
    widget = await tenant.customer_stream(started)
    cid = started["conversation_id"]
    offer = await desk.wait_for(lambda f: f["type"] == "offer" and f["conversation_id"] == cid, what="the offer")
    assert offer["customer_name"] == "Dana" and "order 1234" in offer["preview"] and offer["queue_id"] == "support"
    (listed,) = (await alice.get("/v1/agent/work")).json()["my"]  # a reloaded desktop sees the offer too
    assert listed["conversation_id"] == cid and listed["offer_id"] == offer["offer_id"]

    accepted = await alice.post(f"/v1/conversations/{cid}/accept", {"offer_id": offer["offer_id"]})
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted", accepted.text
    await widget.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "active", what="active")

    sent = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "m1",
                                                                  "text": "Hi Dana,\n\nlet me check."})
    assert sent.status_code == 200, sent.text
    mine = await widget.wait_for(lambda f: f["type"] == "message" and f["sender"]["kind"] == "agent",
                                 what="the agent's message on the customer's socket")
    assert mine["text"] == "Hi Dana,\n\nlet me check."
    reply = await customer.post(f"/v1/widget/conversations/{cid}/messages", {"client_message_id": "c2",
                                                                           "text": "Thanks!"})
    assert reply.status_code == 200, reply.text
    theirs = await desk.wait_for(lambda f: f["type"] == "message" and f["text"] == "Thanks!",
                                 what="the customer's reply on the agent's socket")
    assert theirs["seq"] > mine["seq"]

    ended = await customer.post(f"/v1/widget/conversations/{cid}/end")
    assert ended.status_code == 200, ended.text
    await desk.wait_for(lambda f: f["type"] == "message" and f["text"] == "Customer ended the conversation",
                        what="'Customer ended the conversation'")
    no_reason = await alice.post(f"/v1/conversations/{cid}/wrap-up", {})
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "reason_required", no_reason.text
    done = await alice.post(f"/v1/conversations/{cid}/wrap-up", {"reason_code": "resolved"})
    assert done.status_code == 200, done.text
    await desk.wait_for(lambda f: f["type"] == "conversation_closed" and f["conversation_id"] == cid)
    await widget.wait_for(lambda f: f["type"] == "conversation_closed")
    work = (await alice.get("/v1/agent/work")).json()
    assert [w["conversation_id"] for w in work["closed"]] == [cid] and work["my"] == []


async def test_an_appeal_opens_by_itself_when_the_customer_writes(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    widget = Api(tenant.system.gateway_url)
    try:
        first = await widget.post(f"/v1/widget/{tenant.id}/messages", {"queue_id": "support",
                                                                      "client_message_id": "w1", "text": "Hello?"})
        assert first.status_code == 200 and first.json()["opened"] is True, first.text
        cid, visitor = first.json()["conversation_id"], first.json()["visitor_token"]
        retried = await widget.post(f"/v1/widget/{tenant.id}/messages", {
            "queue_id": "support", "client_message_id": "w1", "text": "Hello?", "visitor_token": visitor})
        assert retried.json()["conversation_id"] == cid  # a retry opens nothing twice
        await accept(alice, desk, cid)
        more = await widget.post(f"/v1/widget/{tenant.id}/messages", {
            "queue_id": "support", "client_message_id": "w2", "text": "Still there?", "visitor_token": visitor})
        assert more.status_code == 200 and more.json() | {"opened": False} == more.json(), more.text
        assert more.json()["conversation_id"] == cid
        await desk.wait_for(message("Still there?"))
        customer = Api(tenant.system.gateway_url, more.json()["conversation_token"])
        try:
            assert (await customer.post(f"/v1/widget/conversations/{cid}/end")).status_code == 200
        finally:
            await customer.close()
        assert (await alice.post(f"/v1/conversations/{cid}/wrap-up", {})).status_code == 200
        await desk.wait_for(lambda f: f["type"] == "conversation_closed" and f["conversation_id"] == cid)
        again = await widget.post(f"/v1/widget/{tenant.id}/messages", {
            "queue_id": "support", "client_message_id": "w3", "text": "One more thing", "visitor_token": visitor})
        assert again.status_code == 200 and again.json()["opened"] is True
        assert again.json()["conversation_id"] != cid and again.json()["customer_id"] == first.json()["customer_id"]
    finally:
        await widget.close()


async def test_typing_and_read_receipts_reach_the_other_side(tenant):
    alice = await tenant.agent("alice")
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    await available(alice)
    customer, started = await tenant.customer("support", "Hello")
    cid = started["conversation_id"]
    widget = await tenant.customer_stream(started)
    await accept(alice, desk, cid)
    assert (await alice.post(f"/v1/conversations/{cid}/typing")).status_code == 204
    await widget.wait_for(lambda f: f["type"] == "typing" and f["who"] == {"kind": "agent", "id": "alice"})
    assert (await customer.post(f"/v1/widget/conversations/{cid}/typing")).status_code == 204
    await desk.wait_for(lambda f: f["type"] == "typing" and f["who"]["kind"] == "customer")
    sent = await alice.post(f"/v1/conversations/{cid}/messages", {"client_message_id": "r1", "text": "Read me"})
    seq = (await widget.wait_for(message("Read me")))["seq"]
    assert sent.status_code == 200
    read = await customer.post(f"/v1/widget/conversations/{cid}/read", {"up_to_seq": seq})
    assert read.status_code == 200, read.text
    receipt = await desk.wait_for(lambda f: f["type"] == "read" and f["reader"]["kind"] == "customer")
    assert receipt["up_to_seq"] == seq
    # the agent's unread count: the customer's first message is unread until the agent reads it
    conversation = (await alice.get(f"/v1/conversations/{cid}")).json()
    assert conversation["unread"]["alice"] >= 1 and conversation["customer_unread"] == 0
    assert (await alice.post(f"/v1/conversations/{cid}/read", {"up_to_seq": seq})).status_code == 200
    mine = await desk.wait_for(lambda f: f["type"] == "read" and f["reader"]["id"] == "alice")
    assert mine["unread"] == 0
    assert (await alice.get(f"/v1/conversations/{cid}")).json()["unread"]["alice"] == 0
