"""Outside a queue's operating hours a customer cannot start a chat but leaves an offline message, which the
queue's members find in their Closed list (and only they, of the agents)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.testing.system import Api

pytestmark = pytest.mark.e2e

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_now() -> dict:
    """A calendar open for one hour three days from now (UTC), so closed at the moment of the test."""
    later = datetime.now(UTC) + timedelta(days=3)
    return {"timezone": "UTC", "weekly": {WEEKDAYS[later.weekday()]: [{"start": "10:00", "end": "11:00"}]}}


async def test_outside_hours_the_customer_leaves_an_offline_message_for_the_queues_members(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")
    await tenant.queue("support", ["alice"], operating_hours=closed_now())
    await tenant.queue("sales", ["bob"])
    desk = await tenant.stream(alice)

    customer = Api(tenant.system.gateway_url)
    refused = await customer.post(f"/v1/widget/{tenant.id}/conversations",
                                  {"queue_id": "support", "message": "Hello?"})
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "closed" and "10:00 (UTC)" in refused.json()["reason"]

    left = await customer.post(f"/v1/widget/{tenant.id}/offline-messages", {
        "queue_id": "support", "name": "Dana", "email": "dana@example.com",
        "text": "Please call me back about my order 1234"})
    assert left.status_code == 200, left.text
    cid = left.json()["conversation_id"]
    frame = await desk.wait_for(lambda f: f["type"] == "offline_message" and f["conversation_id"] == cid,
                                what="the offline message on a queue member's desk")
    assert frame["customer_name"] == "Dana" and "order 1234" in frame["preview"]

    closed = (await alice.get("/v1/agent/work")).json()["closed"]
    assert [w["conversation_id"] for w in closed] == [cid] and closed[0]["state"] == "closed"
    messages = await alice.get(f"/v1/conversations/{cid}/messages")
    assert messages.status_code == 200, messages.text
    assert [m["text"] for m in messages.json()["messages"]] == ["Please call me back about my order 1234"]
    view = (await alice.get(f"/v1/conversations/{cid}")).json()
    assert view["offline"] and view["ended_by"] == "customer"
    assert view["customer"]["email"] == "d***@example.com"  # masked where it entered (C4); admins read originals

    # Not bob's queue: not in his lists, and the conversation is not found for him.
    assert (await bob.get("/v1/agent/work")).json()["closed"] == []
    assert (await bob.get(f"/v1/conversations/{cid}/messages")).status_code == 404

    # The customer keeps a token for it: their own message, readable again.
    customer.token = left.json()["conversation_token"]
    own = await customer.get(f"/v1/widget/conversations/{cid}/messages")
    assert own.status_code == 200 and own.json()["messages"][0]["text"].startswith("Please call me back")


async def test_a_queue_inside_its_hours_takes_chats_and_one_may_switch_offline_messages_off(tenant):
    await tenant.agent("alice")
    always = {"timezone": "Europe/Riga", "weekly": {d: [{"start": "00:00", "end": "24:00"}] for d in WEEKDAYS}}
    await tenant.queue("support", ["alice"], operating_hours=always, offline_messages=False)
    _, started = await tenant.customer("support", "Hello")
    assert started["status"] == "accepted"
    refused = await Api(tenant.system.gateway_url).post(f"/v1/widget/{tenant.id}/offline-messages",
                                                        {"queue_id": "support", "text": "Anyone?"})
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed", refused.text

    bad = await tenant.admin.put("/v1/admin/queues/support", {"name": "support", "members": {"alice": 1},
                                                              "operating_hours": {"timezone": "Mars/Olympus"}})
    assert bad.status_code == 422 and "unknown time zone" in bad.text
