"""Favourites through the gateway (U4, G5): an agent who marks a customer a favourite is told of everything in
that customer's conversation another agent works (its socket), reads it but cannot write in it, and stops
hearing of it once unmarked."""

from __future__ import annotations

import asyncio

import pytest

from shared.testing.system import Api
from tests.e2e.helpers import accept, available

pytestmark = pytest.mark.e2e


async def status_becomes(api: Api, path: str, status: int, timeout_s: float = 30.0) -> None:
    """Poll a read until it answers `status` (a mark takes effect once the gateway projected customer's event)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (got := (await api.get(path)).status_code) != status:
        assert loop.time() < deadline, f"GET {path} still answers {got}, not {status}, after {timeout_s} s"
        await asyncio.sleep(0.1)


def favourite_message(text: str):
    return lambda f: f["type"] == "message" and f["text"] == text and f.get("favourite") is True


async def test_a_favourite_is_told_when_another_agent_answers_its_customer_and_observes_read_only(tenant):
    alice = await tenant.agent("alice")
    bob = await tenant.agent("bob")  # not in the queue: the conversation can never be his to work
    await tenant.queue("support", ["alice"])
    desk = await tenant.stream(alice)
    watch = await tenant.stream(bob)
    await available(alice)

    customer, started = await tenant.customer("support", "Where is my parcel?", name="Dana")
    cid, dana = started["conversation_id"], started["customer_id"]
    conversation = f"/v1/conversations/{cid}"
    assert (await bob.get(conversation)).status_code == 404  # not his: not even seen
    for agent in (alice, bob):  # alice works it as well: she must get each frame once, never a favourite copy
        marked = await agent.put(f"/v1/agent/users/{dana}", {"favourite": True})
        assert marked.status_code == 200, marked.text
    await status_becomes(bob, conversation, 200)  # both marks are projected (one partition: dana's, in order)

    await accept(alice, desk, cid)
    active = await watch.wait_for(lambda f: f["type"] == "conversation_state" and f["state"] == "active"
                                  and f.get("favourite") is True, what="the favourite's chat taken by alice")
    assert (active["conversation_id"], active["customer_id"], active["customer_name"], active["agents"]) == (
        cid, dana, "Dana", ["alice"])
    answer = await alice.post(f"{conversation}/messages", {"client_message_id": "a1", "text": "It is on its way"})
    assert answer.status_code == 200, answer.text
    told = await watch.wait_for(favourite_message("It is on its way"), what="alice's answer on bob's socket")
    assert told["sender"]["id"] == "alice" and told["conversation_id"] == cid
    asked = await customer.post(f"/v1/widget/conversations/{cid}/messages", {"client_message_id": "c2",
                                                                           "text": "Thanks, when?"})
    assert asked.status_code == 200, asked.text
    told = await watch.wait_for(favourite_message("Thanks, when?"), what="the customer's message on bob's socket")
    assert told["sender"]["kind"] == "customer"
    note = await alice.post(f"{conversation}/messages", {"client_message_id": "n1", "text": "VIP, be quick",
                                                         "private": True})
    assert note.status_code == 200, note.text
    await desk.wait_for(lambda f: f["type"] == "message" and f["text"] == "VIP, be quick", what="alice's note")

    read = await bob.get(f"{conversation}/messages")
    assert read.status_code == 200, read.text
    texts = [m["text"] for m in read.json()["messages"]]
    assert {"Where is my parcel?", "It is on its way", "Thanks, when?"} <= set(texts)
    assert "VIP, be quick" not in texts  # an observer reads no private note
    for path, body in ((f"{conversation}/messages", {"client_message_id": "b1", "text": "Bob here"}),
                       (f"{conversation}/messages", {"client_message_id": "b2", "text": "note", "private": True}),
                       (f"{conversation}/read", {"up_to_seq": 1}),
                       (f"{conversation}/end", None)):
        refused = await bob.post(path, body)
        assert refused.status_code == 403, (path, refused.text)

    unmarked = await bob.put(f"/v1/agent/users/{dana}", {"favourite": False})
    assert unmarked.status_code == 200, unmarked.text
    await status_becomes(bob, conversation, 404)
    after = await alice.post(f"{conversation}/messages", {"client_message_id": "a2", "text": "Tomorrow"})
    assert after.status_code == 200, after.text
    await desk.wait_for(lambda f: f["type"] == "message" and f["text"] == "Tomorrow", what="alice's last answer")
    # Bob's frames for that message, if any, were committed with alice's: a frame bob gets after it (his own
    # presence) comes later on his stream, which is delivered in order. So by then he has all he will get.
    assert (await bob.put("/v1/agent/presence", {"presence": "away"})).status_code == 200
    await watch.wait_for(lambda f: f["type"] == "presence" and f["presence"] == "away", what="bob's presence")
    texts = [f.get("text") for f in watch.frames if f["type"] == "message"]
    assert "It is on its way" in texts and "Thanks, when?" in texts
    assert "VIP, be quick" not in texts and "Tomorrow" not in texts  # never the note, nothing after the unmark
    assert len(texts) == len(set(texts))  # no frame twice
    mine = [f["text"] for f in desk.frames if f["type"] == "message"]
    assert len(mine) == len(set(mine))
    # while she works it, no favourite copy (before she took it she may have observed it, like bob)
    taken = next(f["position"] for f in desk.frames if f["type"] == "conversation_state" and f["state"] == "active"
                 and not f.get("favourite"))
    assert not any(f.get("favourite") for f in desk.frames if f["position"] > taken)
